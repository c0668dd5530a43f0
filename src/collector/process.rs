//! What the collector reads about the process from the operating system: resident set size,
//! the cgroup memory limit, and the process's identity (pid, executable, start time).
//!
//! On Linux everything comes from `/proc` and `/sys/fs/cgroup`, without `unsafe`: the page size
//! and the clock-tick rate, which C code gets from `sysconf`, are read from the auxiliary vector
//! the kernel gave the process (`/proc/self/auxv`, `AT_PAGESZ` and `AT_CLKTCK`). Elsewhere these
//! readings are `None`. Every reading is best-effort: a missing or odd file gives `None`, never
//! an error, because the collector must go on without it.
//!
//! The per-snapshot reading, [`rss_bytes`], reads into a stack buffer so that it allocates
//! nothing.

use std::path::Path;

use crate::dump::ProcessInfo;

/// Everything the dump says about this process, read now.
pub fn process_info() -> ProcessInfo {
    ProcessInfo {
        pid: pid(),
        executable: executable(),
        start_time_unix: start_time_unix(),
        rss_bytes: rss_bytes(),
        cgroup_limit_bytes: cgroup_memory_limit(),
    }
}

/// Process resident set size in bytes (`/proc/self/statm` resident pages × page size), or
/// `None` where the platform does not report it.
pub fn rss_bytes() -> Option<u64> {
    linux::rss_bytes()
}

/// The memory limit of the process's cgroup in bytes (the smallest along its cgroup path, v2
/// `memory.max` first, then v1 `memory.limit_in_bytes`), or `None` when unlimited or unknown.
pub fn cgroup_memory_limit() -> Option<u64> {
    linux::cgroup_memory_limit()
}

/// When the process started, in seconds since the Unix epoch, where the platform says.
pub fn start_time_unix() -> Option<f64> {
    linux::start_time_unix()
}

/// The path of the running executable, lossily as UTF-8 (the dump is JSON), if the platform
/// knows it.
pub fn executable() -> Option<String> {
    std::env::current_exe()
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The process id.
pub fn pid() -> u32 {
    std::process::id()
}

/// The pure parsers behind the readings, apart so they are tested on any platform.
mod parse {
    use super::Path;
    use crate::collector::pressure::{
        cgroup_dirs, cgroup_v1_memory_path, cgroup_v2_path, V1_HIERARCHY, V1_UNLIMITED,
        V2_HIERARCHY,
    };

    /// `AT_PAGESZ`: the system page size.
    pub(super) const AT_PAGESZ: u64 = 6;
    /// `AT_CLKTCK`: the frequency of `times()` and of `/proc/*/stat` times.
    pub(super) const AT_CLKTCK: u64 = 17;

    /// The value of `key` in an auxiliary vector: native-endian (key, value) word pairs ending
    /// with `AT_NULL`.
    pub(super) fn auxv_value(auxv: &[u8], key: u64) -> Option<u64> {
        const WORD: usize = std::mem::size_of::<usize>();
        auxv.chunks_exact(2 * WORD)
            .map(|pair| {
                let word = |b: &[u8]| usize::from_ne_bytes(b.try_into().expect("WORD bytes"));
                (word(&pair[..WORD]) as u64, word(&pair[WORD..]) as u64)
            })
            .take_while(|&(k, _)| k != 0)
            .find(|&(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Resident pages: the second field of `/proc/self/statm`.
    pub(super) fn statm_resident_pages(statm: &str) -> Option<u64> {
        statm.split_ascii_whitespace().nth(1)?.parse().ok()
    }

    /// RSS in bytes from `/proc/self/status`'s `VmRSS:  1234 kB` line.
    pub(super) fn status_rss_bytes(status: &str) -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line["VmRSS:".len()..]
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()?;
        kib.checked_mul(1024)
    }

    /// Field 22 of `/proc/self/stat`, the start time in clock ticks since boot. The command name
    /// (field 2) is in parentheses and may itself contain spaces and parentheses, so fields are
    /// counted after the last `)`.
    pub(super) fn stat_start_ticks(stat: &str) -> Option<u64> {
        let rest = &stat[stat.rfind(')')? + 1..];
        // `rest` starts at field 3 (the state), so field 22 is the 20th.
        rest.split_ascii_whitespace().nth(19)?.parse().ok()
    }

    /// The boot time in seconds since the epoch: the `btime` line of `/proc/stat`.
    pub(super) fn proc_stat_btime(stat: &str) -> Option<u64> {
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    }

    /// The process's cgroup memory limit under `root` (`/` in production, a fake tree in tests),
    /// given the text of `/proc/self/cgroup`. Limits apply hierarchically, so the effective one
    /// is the smallest along the path from the cgroup up to the hierarchy's root. Inside a
    /// container without a cgroup namespace the path names the host's hierarchy, which is not
    /// mounted there; walking up still reaches the container's own root file.
    pub(super) fn cgroup_limit_in(root: &Path, proc_cgroup: &str) -> Option<u64> {
        let v2_limit = cgroup_v2_path(proc_cgroup)
            .and_then(|p| smallest_limit(&root.join(V2_HIERARCHY), p, "memory.max"));
        v2_limit.or_else(|| {
            cgroup_v1_memory_path(proc_cgroup)
                .and_then(|p| smallest_limit(&root.join(V1_HIERARCHY), p, "memory.limit_in_bytes"))
                .filter(|&l| l < V1_UNLIMITED)
        })
    }

    /// The smallest numeric `file` from `hierarchy/cgroup_path` up to `hierarchy`; `max` (v2's
    /// "no limit") and unreadable files are skipped.
    fn smallest_limit(hierarchy: &Path, cgroup_path: &str, file: &str) -> Option<u64> {
        cgroup_dirs(hierarchy, cgroup_path)
            .filter_map(|dir| {
                let text = std::fs::read_to_string(dir.join(file)).ok()?;
                text.trim().parse::<u64>().ok()
            })
            .min()
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::parse;
    use std::io::Read;
    use std::path::Path;
    use std::sync::OnceLock;

    /// The auxiliary-vector entries the readings need, read once: they never change.
    struct Auxv {
        page_size: Option<u64>,
        clock_ticks: Option<u64>,
    }

    fn auxv() -> &'static Auxv {
        static AUXV: OnceLock<Auxv> = OnceLock::new();
        AUXV.get_or_init(|| {
            let bytes = std::fs::read("/proc/self/auxv").unwrap_or_default();
            Auxv {
                page_size: parse::auxv_value(&bytes, parse::AT_PAGESZ).filter(|&p| p > 0),
                clock_ticks: parse::auxv_value(&bytes, parse::AT_CLKTCK).filter(|&t| t > 0),
            }
        })
    }

    /// Reads a small `/proc` file into `buf` without allocating; `None` if it does not fit.
    fn read_small<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b str> {
        let mut file = std::fs::File::open(path).ok()?;
        let mut len = 0;
        loop {
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
            if len == buf.len() {
                return None;
            }
        }
        std::str::from_utf8(&buf[..len]).ok()
    }

    pub(super) fn rss_bytes() -> Option<u64> {
        // statm is seven short numbers; 256 bytes is ample.
        let mut buf = [0u8; 256];
        if let Some(page_size) = auxv().page_size {
            let pages = parse::statm_resident_pages(read_small("/proc/self/statm", &mut buf)?)?;
            return pages.checked_mul(page_size);
        }
        // No page size (a kernel without auxv in procfs): status reports RSS in kB itself.
        let mut buf = [0u8; 8192];
        parse::status_rss_bytes(read_small("/proc/self/status", &mut buf)?)
    }

    pub(super) fn cgroup_memory_limit() -> Option<u64> {
        let proc_cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        parse::cgroup_limit_in(Path::new("/"), &proc_cgroup)
    }

    pub(super) fn start_time_unix() -> Option<f64> {
        let ticks = parse::stat_start_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        let btime = parse::proc_stat_btime(&std::fs::read_to_string("/proc/stat").ok()?)?;
        let hz = auxv().clock_ticks?;
        Some(btime as f64 + ticks as f64 / hz as f64)
    }
}

#[cfg(not(target_os = "linux"))]
mod linux {
    pub(super) fn rss_bytes() -> Option<u64> {
        None
    }
    pub(super) fn cgroup_memory_limit() -> Option<u64> {
        None
    }
    pub(super) fn start_time_unix() -> Option<f64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::parse::*;
    use super::*;

    fn auxv_bytes(pairs: &[(usize, usize)]) -> Vec<u8> {
        pairs
            .iter()
            .flat_map(|&(k, v)| [k.to_ne_bytes(), v.to_ne_bytes()].concat())
            .collect()
    }

    #[test]
    fn auxv_values_are_found_before_at_null() {
        let auxv = auxv_bytes(&[(33, 1), (6, 16384), (17, 250), (0, 0), (99, 5)]);
        assert_eq!(auxv_value(&auxv, AT_PAGESZ), Some(16384));
        assert_eq!(auxv_value(&auxv, AT_CLKTCK), Some(250));
        assert_eq!(auxv_value(&auxv, 99), None);
        assert_eq!(auxv_value(&auxv[..7], AT_PAGESZ), None);
    }

    #[test]
    fn proc_files_parse() {
        assert_eq!(statm_resident_pages("765 433 405 5 0 123 0\n"), Some(433));
        assert_eq!(statm_resident_pages("765"), None);
        assert_eq!(
            status_rss_bytes("Name:\tx\nVmRSS:\t    2004 kB\nVmData: 1 kB\n"),
            Some(2004 * 1024)
        );
        assert_eq!(status_rss_bytes("Name:\tx\n"), None);
        let stat = "21946 (a) b) (c) R 21938 21938 2267 0 -1 4194304 103 0 0 0 0 0 0 0 20 0 1 \
                    0 83223 2998272 431";
        assert_eq!(stat_start_ticks(stat), Some(83223));
        assert_eq!(stat_start_ticks("1 (x) R 2"), None);
        assert_eq!(
            proc_stat_btime("cpu 1 2\nbtime 1795520420\n"),
            Some(1795520420)
        );
    }

    #[test]
    fn cgroup_v2_limit_is_the_smallest_on_the_path() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("sys/fs/cgroup");
        let leaf = base.join("app.slice/web.service");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(base.join("memory.max"), "max\n").unwrap();
        std::fs::write(base.join("app.slice/memory.max"), "1073741824\n").unwrap();
        std::fs::write(leaf.join("memory.max"), "max\n").unwrap();
        let cgroup = "0::/app.slice/web.service\n";
        assert_eq!(cgroup_limit_in(root.path(), cgroup), Some(1 << 30));
        std::fs::write(leaf.join("memory.max"), "536870912\n").unwrap();
        assert_eq!(cgroup_limit_in(root.path(), cgroup), Some(1 << 29));
        // A path from the host's hierarchy, not mounted here: the root file still counts.
        std::fs::write(base.join("memory.max"), "268435456\n").unwrap();
        let host = "0::/kubepods/pod1/abc\n";
        assert_eq!(cgroup_limit_in(root.path(), host), Some(1 << 28));
    }

    #[test]
    fn cgroup_v1_limit_and_its_unlimited_value() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("sys/fs/cgroup/memory");
        let leaf = base.join("process_api/abc");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(base.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        let cgroup = "9:name=systemd:/\n4:memory:/process_api/abc\n0::/\n";
        assert_eq!(cgroup_limit_in(root.path(), cgroup), None);
        std::fs::write(leaf.join("memory.limit_in_bytes"), "2147483648\n").unwrap();
        assert_eq!(cgroup_limit_in(root.path(), cgroup), Some(2 << 30));
        let joined = "4:cpu,memory:/process_api/abc\n";
        assert_eq!(cgroup_limit_in(root.path(), joined), Some(2 << 30));
        assert_eq!(cgroup_limit_in(root.path(), "garbage\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_readings_are_plausible() {
        let rss = rss_bytes().expect("Linux reports RSS");
        // statm × page size and status's VmRSS count the same pages (they may move between the
        // two reads, so allow a few MB).
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_rss = status_rss_bytes(&status).unwrap();
        assert!(rss.abs_diff(vm_rss) < 8 << 20, "{rss} vs {vm_rss}");
        assert!(rss > 1 << 20);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = start_time_unix().expect("Linux reports the start time");
        assert!(
            start <= now + 1.0 && start > now - 86_400.0,
            "{start} vs {now}"
        );
        assert!(executable().is_some());
        assert_eq!(pid(), std::process::id());
        let info = process_info();
        assert_eq!(info.pid, std::process::id());
        assert_eq!(info.executable, executable());
        // No assertion on the cgroup limit: the machine may or may not have one.
        let _ = cgroup_memory_limit();
    }
}

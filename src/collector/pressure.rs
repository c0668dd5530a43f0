//! The process's memory pressure, read once per snapshot with churn monitoring on: pressure
//! stall information for memory (the cgroup's `memory.pressure`, else the system's
//! `/proc/pressure/memory`), the cgroup v2 memory controller (`memory.current`, `memory.max`,
//! `memory.events`), or on a cgroup v1 host the memory controller's `memory.usage_in_bytes`
//! and `memory.limit_in_bytes`, and the process's major page faults (`/proc/self/stat`).
//!
//! Every file is read under a root directory (`/` in production, a fixture tree in tests), so
//! the parsing is tested on files of known content whatever machine runs the tests. A file that
//! is absent (or that the kernel refuses with `EOPNOTSUPP`, as pressure files do when pressure
//! stall information is disabled at boot) leaves its part of the reading `None`. A file that is
//! present but malformed leaves it `None` too, and adds an error naming the file and what was
//! wrong, which the collector reports once per file.
//!
//! The formats are the kernel's (Documentation/accounting/psi.rst and
//! Documentation/admin-guide/cgroup-v2.rst in the kernel tree; proc(5) for `stat`):
//!
//! ```text
//! some avg10=0.12 avg60=0.05 avg300=0.01 total=123456
//! full avg10=0.00 avg60=0.00 avg300=0.00 total=4567
//! ```

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

pub(crate) use crate::snapshot::Pressure;
use crate::snapshot::{CgroupMemory, MemoryEvents, Psi, PsiSource, Stall};

/// What one reading found, and what was wrong with the files that were present.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Reading {
    /// The pressure; its parts are `None` where their files were absent or malformed.
    pub(crate) pressure: Pressure,
    /// One line per malformed or unreadable file: `(file, message)`.
    pub(crate) errors: Vec<(PathBuf, String)>,
}

/// Reads the process's memory pressure from the files under `root`.
pub(crate) fn read_in(root: &Path) -> Reading {
    let mut r = Reading::default();
    let proc_cgroup = r.file(root.join("proc/self/cgroup"));
    let proc_cgroup = proc_cgroup.as_deref().unwrap_or("");
    let cgroup_dir = cgroup_v2_path(proc_cgroup)
        .and_then(|path| cgroup_dir_in(&root.join(V2_HIERARCHY), path, "memory.current"));
    // cgroup v1 (or a hybrid host whose v2 hierarchy has no memory controller): the memory
    // controller's own hierarchy, without pressure files or events.
    let v1_dir = match cgroup_dir {
        Some(_) => None,
        None => cgroup_v1_memory_path(proc_cgroup).and_then(|path| {
            cgroup_dir_in(&root.join(V1_HIERARCHY), path, "memory.usage_in_bytes")
        }),
    };
    let psi = |source| move |(some, full)| Psi { source, some, full };
    if let Some(dir) = &cgroup_dir {
        let psi_cgroup = r.parsed(dir.join("memory.pressure"), parse_psi);
        r.pressure.psi = psi_cgroup.map(psi(PsiSource::Cgroup));
    }
    if r.pressure.psi.is_none() {
        let psi_system = r.parsed(root.join("proc/pressure/memory"), parse_psi);
        r.pressure.psi = psi_system.map(psi(PsiSource::System));
    }
    if let Some(dir) = &cgroup_dir {
        let cgroup = CgroupMemory {
            current_bytes: r.parsed(dir.join("memory.current"), parse_u64),
            max_bytes: r.parsed(dir.join("memory.max"), parse_limit).flatten(),
            events: r.parsed(dir.join("memory.events"), parse_events),
        };
        r.pressure.cgroup = Some(cgroup).filter(|c| *c != CgroupMemory::default());
    } else if let Some(dir) = &v1_dir {
        let cgroup = CgroupMemory {
            current_bytes: r.parsed(dir.join("memory.usage_in_bytes"), parse_u64),
            max_bytes: r
                .parsed(dir.join("memory.limit_in_bytes"), parse_v1_limit)
                .flatten(),
            events: None,
        };
        r.pressure.cgroup = Some(cgroup).filter(|c| *c != CgroupMemory::default());
    }
    r.pressure.major_faults = r.parsed(root.join("proc/self/stat"), stat_major_faults);
    r
}

impl Reading {
    /// The text of the file at `path`; `None` when it is absent, or unreadable (an error).
    fn file(&mut self, path: PathBuf) -> Option<String> {
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if is_absent(&e) => None,
            Err(e) => {
                self.errors.push((path, format!("cannot be read: {e}")));
                None
            }
        }
    }

    /// The file at `path` parsed by `parse`; `None` when it is absent, or malformed (an error).
    fn parsed<T>(&mut self, path: PathBuf, parse: fn(&str) -> Result<T, String>) -> Option<T> {
        let text = self.file(path.clone())?;
        parse(&text).map_err(|e| self.errors.push((path, e))).ok()
    }
}

/// Whether a read error means the file is not there to read: absent, or refused because the
/// feature is off (pressure files with `psi=0` give `EOPNOTSUPP`).
fn is_absent(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::NotFound
        || e.kind() == ErrorKind::Unsupported
        || e.raw_os_error() == Some(libc::EOPNOTSUPP)
}

/// Where the cgroup v2 hierarchy is mounted, under the root.
pub(super) const V2_HIERARCHY: &str = "sys/fs/cgroup";
/// Where the cgroup v1 memory controller's hierarchy is mounted, under the root.
pub(super) const V1_HIERARCHY: &str = "sys/fs/cgroup/memory";
/// Values at or above this in v1 `memory.limit_in_bytes` mean "no limit": the kernel writes
/// `PAGE_COUNTER_MAX` rounded to pages (9223372036854771712 with 4 KiB pages).
pub(super) const V1_UNLIMITED: u64 = 1 << 62;

/// The cgroup v2 path in `/proc/self/cgroup` (its `0::PATH` line), if there is one. The one
/// reader of that file's lines, for the pressure and for the limit `process.rs` reports.
pub(super) fn cgroup_v2_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// The cgroup v1 path of the memory controller in `/proc/self/cgroup` (its `ID:...memory...:PATH`
/// line), if there is one.
pub(super) fn cgroup_v1_memory_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then_some(path)
    })
}

/// The directory of the process's cgroup in `hierarchy`: the deepest directory along `path`
/// that has the controller's `marker` file (`memory.current` in v2, `memory.usage_in_bytes` in
/// v1). Inside a container without a cgroup namespace the path names the host's hierarchy,
/// which is not mounted there, and the container's own cgroup is the mount's root; the root
/// cgroup of a v2 host has no `memory.current`, so a process there has none (a v1 root cgroup
/// has the files, and gives the machine's usage with no limit).
fn cgroup_dir_in(hierarchy: &Path, path: &str, marker: &str) -> Option<PathBuf> {
    cgroup_dirs(hierarchy, path).find(|dir| dir.join(marker).exists())
}

/// The directories of a cgroup and its ancestors in `hierarchy`: `hierarchy/path`, its parent,
/// and so on up to `hierarchy` itself, deepest first.
pub(super) fn cgroup_dirs<'a>(
    hierarchy: &'a Path,
    path: &str,
) -> impl Iterator<Item = PathBuf> + 'a {
    let deepest = hierarchy.join(path.trim().trim_start_matches('/'));
    let mut next = deepest.starts_with(hierarchy).then_some(deepest);
    std::iter::from_fn(move || {
        let dir = next.take()?;
        let mut parent = dir.clone();
        if dir != hierarchy && parent.pop() && parent.starts_with(hierarchy) {
            next = Some(parent);
        }
        Some(dir)
    })
}

/// A pressure file: a `some` line and, on kernels that report it, a `full` line, each with
/// `avg10=`, `avg60=` and `total=` (other fields, such as `avg300=`, are ignored).
pub(crate) fn parse_psi(text: &str) -> Result<(Stall, Option<Stall>), String> {
    let (mut some, mut full) = (None, None);
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut words = line.split_ascii_whitespace();
        let slot = match words.next() {
            Some("some") => &mut some,
            Some("full") => &mut full,
            _ => {
                return Err(format!(
                    "line {}: expected `some` or `full`, found {line:?}",
                    n + 1
                ))
            }
        };
        let (mut avg10, mut avg60, mut total) = (None, None, None);
        for word in words {
            let Some((key, value)) = word.split_once('=') else {
                return Err(format!("line {}: {word:?} is not KEY=VALUE", n + 1));
            };
            let bad = || format!("line {}: {key}={value:?} is not a number", n + 1);
            match key {
                "avg10" => avg10 = Some(percent(value).ok_or_else(bad)?),
                "avg60" => avg60 = Some(percent(value).ok_or_else(bad)?),
                "total" => total = Some(value.parse::<u64>().map_err(|_| bad())?),
                _ => {}
            }
        }
        let (Some(avg10), Some(avg60), Some(total_us)) = (avg10, avg60, total) else {
            return Err(format!(
                "line {}: needs avg10=, avg60= and total=, found {line:?}",
                n + 1
            ));
        };
        if slot
            .replace(Stall {
                avg10,
                avg60,
                total_us,
            })
            .is_some()
        {
            return Err(format!("line {}: a second {line:?}", n + 1));
        }
    }
    let some = some.ok_or_else(|| "has no `some` line".to_owned())?;
    Ok((some, full))
}

/// A share of time in percent, as the kernel writes it (`0.00` to `100.00`).
fn percent(value: &str) -> Option<f64> {
    let v: f64 = value.parse().ok()?;
    (v.is_finite() && (0.0..=100.0).contains(&v) && !value.starts_with('+')).then_some(v)
}

/// A file holding one unsigned number (`memory.current`).
pub(crate) fn parse_u64(text: &str) -> Result<u64, String> {
    let v = text.trim();
    v.parse()
        .map_err(|_| format!("expected one unsigned number, found {v:?}"))
}

/// `memory.max`: bytes, or `max` for no limit.
pub(crate) fn parse_limit(text: &str) -> Result<Option<u64>, String> {
    match text.trim() {
        "max" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| format!("expected a number of bytes or `max`, found {v:?}")),
    }
}

/// v1 `memory.limit_in_bytes`: bytes, where [`V1_UNLIMITED`] and above mean no limit.
pub(crate) fn parse_v1_limit(text: &str) -> Result<Option<u64>, String> {
    let v = text.trim();
    let bytes: u64 = v
        .parse()
        .map_err(|_| format!("expected a number of bytes, found {v:?}"))?;
    Ok((bytes < V1_UNLIMITED).then_some(bytes))
}

/// `memory.events`: `KEY COUNT` lines; `high`, `max`, `oom` and `oom_kill` must be there (every
/// kernel with cgroup v2 writes them), others (`low`, `oom_group_kill`) are ignored.
pub(crate) fn parse_events(text: &str) -> Result<MemoryEvents, String> {
    let (mut high, mut max, mut oom, mut oom_kill) = (None, None, None, None);
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut words = line.split_ascii_whitespace();
        let (Some(key), Some(value), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "line {}: expected `KEY COUNT`, found {line:?}",
                n + 1
            ));
        };
        let count = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("line {}: {key} {value:?} is not a count", n + 1))
        };
        match key {
            "high" => high = Some(count()?),
            "max" => max = Some(count()?),
            "oom" => oom = Some(count()?),
            "oom_kill" => oom_kill = Some(count()?),
            _ => {}
        }
    }
    match (high, max, oom, oom_kill) {
        (Some(high), Some(max), Some(oom), Some(oom_kill)) => Ok(MemoryEvents {
            high,
            max,
            oom,
            oom_kill,
        }),
        _ => Err("needs the high, max, oom and oom_kill lines".to_owned()),
    }
}

/// Field 12 of `/proc/self/stat`, `majflt`. The command name (field 2) is in parentheses and may
/// itself hold spaces and parentheses, so fields are counted after the last `)`.
pub(crate) fn stat_major_faults(stat: &str) -> Result<u64, String> {
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| "has no `(command)` field".to_owned())?;
    // `rest` starts at field 3, so field 12 is the 10th.
    let field = rest
        .split_ascii_whitespace()
        .nth(9)
        .ok_or_else(|| "has fewer than 12 fields".to_owned())?;
    field
        .parse()
        .map_err(|_| format!("field 12 (majflt) {field:?} is not a count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(case: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/proc")
            .join(case)
    }

    /// The one reading of `/proc/self/cgroup` and of a cgroup's ancestry, which the pressure
    /// and the limit (`process.rs`) share.
    #[test]
    fn cgroup_lines_and_ancestors() {
        let text = "12:cpu,cpuacct:/x\n4:blkio,memory:/app/web\n0::/app.slice/web.service\n";
        assert_eq!(cgroup_v2_path(text), Some("/app.slice/web.service"));
        assert_eq!(cgroup_v1_memory_path(text), Some("/app/web"));
        // A v1-only host has no `0::` line; `memory` must be a whole controller name.
        let v1 = "5:memoryx:/no\n3:memory:/yes\n";
        assert_eq!(
            (cgroup_v2_path(v1), cgroup_v1_memory_path(v1)),
            (None, Some("/yes"))
        );
        for garbage in ["", "garbage\n", "0:/no-v2\n", "4:memory\n"] {
            assert_eq!(cgroup_v2_path(garbage), None, "{garbage:?}");
            assert_eq!(cgroup_v1_memory_path(garbage), None, "{garbage:?}");
        }
        let h = Path::new("/sys/fs/cgroup");
        let dirs = |path| cgroup_dirs(h, path).collect::<Vec<_>>();
        assert_eq!(
            dirs("/app.slice/web.service\n"),
            [
                h.join("app.slice/web.service"),
                h.join("app.slice"),
                h.to_path_buf()
            ]
        );
        assert_eq!(dirs("/"), [h.to_path_buf()]);
    }

    #[test]
    fn a_cgroup_with_every_file_is_read_exactly() {
        let r = read_in(&fixture("cgroup"));
        assert_eq!(r.errors, Vec::new());
        let p = r.pressure;
        let psi = p.psi.unwrap();
        // The cgroup's own file wins over the system's.
        assert_eq!(psi.source, PsiSource::Cgroup);
        assert_eq!(
            psi.some,
            Stall {
                avg10: 1.25,
                avg60: 0.61,
                total_us: 987_654
            }
        );
        assert_eq!(
            psi.full,
            Some(Stall {
                avg10: 0.5,
                avg60: 0.2,
                total_us: 123_456
            })
        );
        let cgroup = p.cgroup.unwrap();
        assert_eq!(cgroup.current_bytes, Some(402_653_184));
        assert_eq!(cgroup.max_bytes, Some(536_870_912));
        assert_eq!(
            cgroup.events,
            Some(MemoryEvents {
                high: 17,
                max: 3,
                oom: 1,
                oom_kill: 1
            })
        );
        assert_eq!(p.major_faults, Some(42));
    }

    #[test]
    fn without_a_cgroup_the_system_pressure_is_read() {
        let r = read_in(&fixture("system"));
        assert_eq!(r.errors, Vec::new());
        let psi = r.pressure.psi.unwrap();
        assert_eq!(psi.source, PsiSource::System);
        assert_eq!(
            psi.some,
            Stall {
                avg10: 0.0,
                avg60: 0.03,
                total_us: 5_000_123
            }
        );
        // An old kernel's file: no `full` line.
        assert_eq!(psi.full, None);
        // `0::/` is the root cgroup, which has no memory.current: no cgroup figures.
        assert_eq!(r.pressure.cgroup, None);
        // A command name with spaces and parentheses.
        assert_eq!(r.pressure.major_faults, Some(7));
    }

    #[test]
    fn absent_files_are_absent_not_zero() {
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(read_in(empty.path()), Reading::default());
        assert_eq!(read_in(&fixture("absent")), Reading::default());
    }

    #[test]
    fn malformed_files_are_named_and_the_rest_still_read() {
        let root = fixture("malformed");
        let r = read_in(&root);
        let dir = root.join("sys/fs/cgroup/app.slice");
        assert_eq!(
            r.errors,
            vec![
                (
                    dir.join("memory.pressure"),
                    "line 1: avg10=\"x.5\" is not a number".to_owned()
                ),
                (
                    root.join("proc/pressure/memory"),
                    "line 2: needs avg10=, avg60= and total=, found \"full avg10=0.00\"".to_owned()
                ),
                (
                    dir.join("memory.max"),
                    "expected a number of bytes or `max`, found \"lots\"".to_owned()
                ),
                (
                    dir.join("memory.events"),
                    "needs the high, max, oom and oom_kill lines".to_owned()
                ),
                (
                    root.join("proc/self/stat"),
                    "has fewer than 12 fields".to_owned()
                ),
            ]
        );
        // memory.current was fine, and is read.
        let cgroup = r.pressure.cgroup.unwrap();
        assert_eq!((cgroup.current_bytes, cgroup.max_bytes), (Some(1000), None));
        assert_eq!((r.pressure.psi, r.pressure.major_faults), (None, None));
    }

    #[test]
    fn a_cgroup_v1_memory_controller_gives_usage_and_limit() {
        let r = read_in(&fixture("v1"));
        assert_eq!(r.errors, Vec::new());
        let p = r.pressure;
        // v1 has no pressure file per cgroup: the system's is read.
        assert_eq!(p.psi.unwrap().source, PsiSource::System);
        assert_eq!(
            p.cgroup,
            Some(CgroupMemory {
                current_bytes: Some(314_572_800),
                max_bytes: Some(536_870_912),
                events: None,
            })
        );
        assert_eq!(p.major_faults, Some(42));
    }

    #[test]
    fn a_cgroup_v1_without_a_limit_has_usage_only() {
        let r = read_in(&fixture("v1-unlimited"));
        assert_eq!(r.errors, Vec::new());
        let cgroup = r.pressure.cgroup.unwrap();
        assert_eq!(
            (cgroup.current_bytes, cgroup.max_bytes),
            (Some(1_048_576), None)
        );
    }

    #[test]
    fn cgroup_v1_files_absent_or_malformed() {
        // The memory controller is named but its hierarchy is not mounted: nothing, no error.
        assert_eq!(read_in(&fixture("v1-absent")), Reading::default());
        let root = fixture("v1-malformed");
        let r = read_in(&root);
        let dir = root.join("sys/fs/cgroup/memory/docker/abc");
        assert_eq!(
            r.errors,
            vec![
                (
                    dir.join("memory.usage_in_bytes"),
                    "expected one unsigned number, found \"12 MB\"".to_owned()
                ),
                (
                    dir.join("memory.limit_in_bytes"),
                    "expected a number of bytes, found \"-1\"".to_owned()
                ),
            ]
        );
        assert_eq!(r.pressure.cgroup, None);
        assert_eq!(parse_v1_limit("9223372036854771712\n"), Ok(None));
        assert_eq!(parse_v1_limit("4096"), Ok(Some(4096)));
    }

    #[test]
    fn pressure_lines_parse_strictly() {
        let ok = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert!(parse_psi(ok).is_ok());
        for (bad, why) in [
            ("", "has no `some` line"),
            ("full avg10=1 avg60=1 total=1\n", "has no `some` line"),
            (
                "some avg10=1 avg60=1\n",
                "line 1: needs avg10=, avg60= and total=",
            ),
            (
                "some avg10=101 avg60=1 total=1",
                "line 1: avg10=\"101\" is not a number",
            ),
            (
                "some avg10=-1 avg60=1 total=1",
                "line 1: avg10=\"-1\" is not a number",
            ),
            (
                "some avg10=NaN avg60=1 total=1",
                "line 1: avg10=\"NaN\" is not a number",
            ),
            (
                "some avg10=1 avg60=1 total=-5",
                "line 1: total=\"-5\" is not a number",
            ),
            (
                "some avg10 avg60=1 total=1",
                "line 1: \"avg10\" is not KEY=VALUE",
            ),
            ("partial avg10=1", "line 1: expected `some` or `full`"),
            (
                "some avg10=1 avg60=1 total=1\nsome avg10=1 avg60=1 total=1",
                "line 2: a second",
            ),
        ] {
            let e = parse_psi(bad).unwrap_err();
            assert!(e.starts_with(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn cgroup_files_parse_strictly() {
        assert_eq!(parse_u64("4096\n"), Ok(4096));
        assert!(parse_u64("-1").is_err());
        assert!(parse_u64("").is_err());
        assert_eq!(parse_limit("max\n"), Ok(None));
        assert_eq!(parse_limit("1073741824\n"), Ok(Some(1 << 30)));
        let events = "low 0\nhigh 2\nmax 1\noom 0\noom_kill 0\noom_group_kill 0\n";
        assert_eq!(
            parse_events(events),
            Ok(MemoryEvents {
                high: 2,
                max: 1,
                ..MemoryEvents::default()
            })
        );
        assert_eq!(
            parse_events("high 1 2\n"),
            Err("line 1: expected `KEY COUNT`, found \"high 1 2\"".to_owned())
        );
        assert_eq!(
            parse_events("high x\n"),
            Err("line 1: high \"x\" is not a count".to_owned())
        );
        assert_eq!(
            stat_major_faults("1 (a) b) R 1 1 1 0 -1 0 5 6 x"),
            Err("field 12 (majflt) \"x\" is not a count".to_owned())
        );
        assert_eq!(
            stat_major_faults("no command"),
            Err("has no `(command)` field".to_owned())
        );
    }
}

//! Writing files atomically: the file on disk is always the old complete one or the new complete
//! one, never a mix, whatever fails and whenever the process dies.
//!
//! The recipe (as in LMDB, SQLite's journal and most careful editors): write a temporary file in
//! the same directory (a rename is atomic only within one file system), flush it to disk,
//! rename it over the target, then flush the directory so the rename itself survives a power
//! loss. The temporary file is removed on every failure path. The dump is created with mode 0600
//! because it names code paths (docs/design.md §13); the Prometheus file is 0644 because node_exporter
//! usually runs as another user and must read it.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::schema::Dump;
use super::stream::HistoryColumns;
use crate::error::Error;

/// The mode of dump files: readable and writable by the owner only.
pub const DUMP_MODE: u32 = 0o600;
/// The mode of Prometheus textfiles: world-readable, for node_exporter's textfile collector.
pub const PROMETHEUS_MODE: u32 = 0o644;

/// Writes `dump` to `path` as JSON, atomically, with mode [`DUMP_MODE`].
///
/// # Errors
/// An [`ErrorKind::Io`](crate::ErrorKind::Io) naming `path` and the step that failed; the
/// previous file, if any, is then untouched and no temporary file is left behind.
pub fn write_dump(path: &Path, dump: &Dump) -> Result<(), Error> {
    // Streamed, not built in memory first: a dump of many scopes with full history can be
    // hundreds of MB of JSON. Into the buffer's own type, not `dyn Write`, so that each of the
    // serializer's many small writes is a copy into the buffer and not a call through a vtable.
    replace(path, DUMP_MODE, |w| {
        serde_json::to_writer(&mut *w, dump)?;
        w.write_all(b"\n")
    })
}

/// [`write_dump`] of `dump` with each scope's history taken from what `history` puts in the
/// columns it is handed (see `stream.rs`): the same bytes, without the `Snapshot`s.
///
/// # Errors
/// As [`write_dump`].
pub(crate) fn write_dump_streamed(
    path: &Path,
    dump: &Dump,
    history: impl FnMut(usize, &mut HistoryColumns),
) -> Result<(), Error> {
    replace(path, DUMP_MODE, |w| {
        super::stream::write_dump_streamed(&mut *w, dump, history)?;
        w.write_all(b"\n")
    })
}

/// Replaces `path` atomically with what `write` produces, creating it with `mode` on Unix (the
/// mode is ignored elsewhere).
///
/// # Errors
/// An [`ErrorKind::Io`](crate::ErrorKind::Io) naming `path` and the step that failed
/// (`write`'s own error included); the previous file, if any, is then untouched and no temporary
/// file is left behind.
pub fn write_atomic(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Error> {
    replace(path, mode, |w| write(w))
}

/// [`write_atomic`] handing `write` the buffered file itself.
fn replace(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), Error> {
    let fail = |what: &str, e: &io::Error| Error::io(path, what, e);
    let Some(name) = path.file_name() else {
        let e = io::Error::new(io::ErrorKind::InvalidInput, "the path names no file");
        return Err(fail("cannot write", &e));
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let (file, temp) = create_temp(dir, &name.to_string_lossy(), mode)
        .map_err(|e| fail("cannot create a temporary file to replace", &e))?;
    let mut temp = TempGuard(Some(temp));

    let mut out = BufWriter::with_capacity(64 * 1024, file);
    write(&mut out).map_err(|e| fail("cannot write", &e))?;
    let file = out
        .into_inner()
        .map_err(|e| fail("cannot write", e.error()))?;
    file.sync_all()
        .map_err(|e| fail("cannot flush to disk", &e))?;
    drop(file);

    let temp_path = temp
        .0
        .as_deref()
        .expect("the guard holds the path until disarmed");
    std::fs::rename(temp_path, path).map_err(|e| fail("cannot replace", &e))?;
    temp.0 = None;
    sync_dir(dir).map_err(|e| fail("cannot flush the directory of", &e))
}

/// Creates a new file beside the target, with a name no other writer uses: the process id keeps
/// processes apart and a counter keeps this process's writers apart; `create_new` refuses a
/// leftover of a crashed process that had the same pid, and the next name is tried.
fn create_temp(dir: &Path, name: &str, mode: u32) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last_error = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        match options.open(&temp) {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.expect("the loop ran"))
}

/// Flushes a directory's entries so a rename in it survives a crash. Only Unix can open a
/// directory as a file; elsewhere the rename's own durability is what there is.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Removes the temporary file unless it was renamed into place, on every exit path (a panic in
/// the writer included).
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Best effort: if even this fails (the directory vanished), there is nothing left to
            // clean and the error that brought us here is the one worth reporting.
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::fixtures::example_dump;
    use crate::dump::read_dump;
    use crate::ErrorKind;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// The names in `dir`, sorted.
    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_dump_round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leakscope.json");
        write_dump(&path, &example_dump()).unwrap();
        assert_eq!(read_dump(&path).unwrap(), example_dump());
        // Rewriting replaces it whole.
        let mut smaller = example_dump();
        smaller.scopes.truncate(1);
        write_dump(&path, &smaller).unwrap();
        assert_eq!(read_dump(&path).unwrap(), smaller);
        assert_eq!(listing(dir.path()), ["leakscope.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_created_with_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leakscope.json");
        // An existing, world-readable file is replaced by a private one.
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_dump(&path, &example_dump()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let prom = dir.path().join("leakscope.prom");
        write_atomic(&prom, PROMETHEUS_MODE, |w| w.write_all(b"x 1\n")).unwrap();
        let mode = std::fs::metadata(&prom).unwrap().permissions().mode() & 0o777;
        // The umask may take bits away, never add them.
        assert_eq!(mode & 0o600, 0o600);
        assert_eq!(mode & !0o644, 0);
    }

    #[test]
    fn a_parent_that_is_a_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not_a_dir");
        std::fs::write(&file, "x").unwrap();
        let path = file.join("leakscope.json");
        let err = write_dump(&path, &example_dump()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Io { path: path.clone() });
        assert_eq!(
            err.to_string(),
            format!(
                "cannot create a temporary file to replace {}: Not a directory (os error 20)",
                path.display()
            )
        );
        assert_eq!(listing(dir.path()), ["not_a_dir"]);
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone/leakscope.json");
        let err = write_dump(&path, &example_dump()).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("No such file or directory"), "{err}");
    }

    #[test]
    fn failures_after_the_temporary_file_exists_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leakscope.json");
        write_dump(&path, &example_dump()).unwrap();

        // The writer fails part-way: the old file stays, the temporary goes.
        let err = write_atomic(&path, DUMP_MODE, |w| {
            w.write_all(b"{\"half\":")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot write {}: disk full", path.display())
        );
        assert_eq!(read_dump(&path).unwrap(), example_dump());

        // The rename fails: the target is a directory.
        let target_dir = dir.path().join("a_directory");
        std::fs::create_dir(&target_dir).unwrap();
        std::fs::write(target_dir.join("keep"), "x").unwrap();
        let err = write_dump(&target_dir, &example_dump())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("cannot replace {}: ", target_dir.display())),
            "{err}"
        );

        // The writer panics: the guard still cleans up.
        let result = std::panic::catch_unwind(|| {
            let _ = write_atomic(&path, DUMP_MODE, |_| panic!("serializer bug"));
        });
        assert!(result.is_err());

        assert_eq!(listing(dir.path()), ["a_directory", "leakscope.json"]);
        assert_eq!(listing(&target_dir), ["keep"]);
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let err = write_atomic(Path::new("/"), DUMP_MODE, |_| Ok(())).unwrap_err();
        assert_eq!(err.to_string(), "cannot write /: the path names no file");
    }

    /// A reader polling the path while it is rewritten many times sees only complete dumps, each
    /// one of the versions written.
    #[test]
    fn readers_never_see_a_partial_dump() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leakscope.json");
        // Two dumps of very different sizes, so a torn write could not pass for either.
        let small = example_dump();
        let mut large = example_dump();
        let point = large.scopes[0].history[0].clone();
        large.scopes[0].history = vec![point; 2_000];
        write_dump(&path, &small).unwrap();

        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, done) = (path.clone(), done.clone());
            let (small, large) = (small.clone(), large.clone());
            std::thread::spawn(move || {
                let mut reads = 0u32;
                while !done.load(Ordering::Acquire) || reads < 10 {
                    let dump = read_dump(&path).unwrap_or_else(|e| panic!("read {reads}: {e}"));
                    assert!(dump == small || dump == large, "read {reads}: a mixed dump");
                    reads += 1;
                }
                reads
            })
        };
        for i in 0..100 {
            write_dump(&path, if i % 2 == 0 { &large } else { &small }).unwrap();
        }
        done.store(true, Ordering::Release);
        let reads = reader.join().unwrap();
        assert!(reads >= 10);
        assert_eq!(listing(dir.path()), ["leakscope.json"]);
    }

    #[test]
    fn concurrent_writers_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leakscope.json");
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..25 {
                        write_dump(&path, &example_dump()).unwrap();
                    }
                });
            }
        });
        assert_eq!(read_dump(&path).unwrap(), example_dump());
        assert_eq!(listing(dir.path()), ["leakscope.json"]);
    }
}

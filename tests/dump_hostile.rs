//! Hostile dump files through the library's reader, as the CLI meets them (docs/design.md §13): huge
//! numbers, deep nesting, millions of entries, NaN and `null` numbers, invalid UTF-8 in the
//! content and in the path, a directory, a FIFO, endless input, empty and blank files. Each must
//! give one clear line naming the file, never a panic; the CLI maps the error to exit code 2.
//!
//! The heavy cases run in a child process (this test binary, filtered to the one test), so that
//! the peak memory they report is their own and not that of the tests running beside them. Run
//! `cargo test --release --test dump_hostile -- --nocapture` to see the time and peak of each.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use leakscope::dump::{read_dump, Dump, MAX_DUMP_BYTES, MAX_HISTORY_POINTS};
use leakscope::{Error, ErrorKind};

/// A small valid dump to make hostile variants of, one line of compact JSON.
fn valid_json() -> String {
    let doc = include_str!("../docs/dump-format.md");
    let start = doc
        .find("```json\n")
        .expect("the format doc has an example")
        + 8;
    let end = start + doc[start..].find("```").expect("the example is closed");
    let value: serde_json::Value = serde_json::from_str(&doc[start..end]).unwrap();
    serde_json::to_string(&value).unwrap()
}

/// `valid_json` with `from` (which must occur) replaced once by `to`.
fn variant(from: &str, to: &str) -> String {
    let json = valid_json();
    assert!(json.contains(from), "the example has no {from}");
    json.replacen(from, to, 1)
}

/// Writes `bytes` to a fresh file and reads it as a dump.
fn read_bytes(bytes: &[u8]) -> (tempfile::TempDir, PathBuf, Result<Dump, Error>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.json");
    std::fs::write(&path, bytes).unwrap();
    let result = read_dump(&path);
    (dir, path, result)
}

/// The error's one line, after checking it is one line, free of terminal escapes, and names
/// the file as `dump <path> …`.
fn one_line(path: &Path, result: Result<Dump, Error>) -> String {
    let err = match result {
        Ok(_) => panic!("{} was read as a dump", path.display()),
        Err(e) => e,
    };
    assert_eq!(
        err.kind(),
        &ErrorKind::Dump {
            path: Some(path.to_owned())
        }
    );
    let m = err.to_string();
    assert!(!m.chars().any(char::is_control), "{m:?}");
    let prefix = format!("dump {} ", path.display());
    assert!(m.starts_with(&prefix), "{m}");
    m[prefix.len()..].to_owned()
}

/// Reads `bytes` as a dump file and returns the problem its error names (the message after
/// `dump <path> `).
fn problem(bytes: &[u8]) -> String {
    let (_dir, path, result) = read_bytes(bytes);
    one_line(&path, result)
}

/// What a case cost in its own process.
struct Measured {
    seconds: f64,
    /// Peak resident memory of the whole process, in MiB (`VmHWM`).
    peak_mib: u64,
    outcome: String,
}

const CHILD: &str = "LEAKSCOPE_HOSTILE_CASE";
const CHILD_PATH: &str = "LEAKSCOPE_HOSTILE_PATH";
const REPORT: &str = "hostile-case-report\t";

/// Runs test `test` again in a child process with `path` to read, where it calls `case` and
/// reports its outcome, time and peak memory; returns that report. In the child (`None`), the
/// test body has nothing left to do.
fn measured(test: &str, path: &Path, case: impl FnOnce(&Path) -> String) -> Option<Measured> {
    if std::env::var_os(CHILD).is_some_and(|c| c == test) {
        let path = PathBuf::from(std::env::var_os(CHILD_PATH).unwrap());
        let start = Instant::now();
        let outcome = case(&path);
        let seconds = start.elapsed().as_secs_f64();
        // On a line of its own: the test harness has already printed the test's name.
        println!("\n{REPORT}{seconds}\t{}\t{outcome}", peak_kib() / 1024);
        return None;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .env(CHILD_PATH, path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix(REPORT)) else {
        panic!(
            "{test} in a child process reported nothing ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let mut fields = line.splitn(3, '\t');
    let seconds = fields.next().unwrap().parse().unwrap();
    let peak_mib = fields.next().unwrap().parse().unwrap();
    let outcome = fields.next().unwrap().to_owned();
    eprintln!("{test}: {seconds:.2} s, peak {peak_mib} MiB: {outcome}");
    Some(Measured {
        seconds,
        peak_mib,
        outcome,
    })
}

/// This process's peak resident memory in KiB, or 0 where `/proc` does not say.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// The outcome line a measured case reports.
fn outcome(result: Result<Dump, Error>) -> String {
    match result {
        Ok(dump) => format!("ok, {} scopes", dump.scopes.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn numbers_beyond_their_field_are_named() {
    let cases = [
        // u64::MAX + 1: serde_json reads it as a float, which a count refuses.
        (
            "\"curr_bytes\":3400000",
            "\"curr_bytes\":18446744073709551616",
            "does not match the leakscope dump format: invalid type: floating point \
             `1.8446744073709552e+19`, expected u64 at line 1 column",
        ),
        // The same in a history column.
        (
            "\"curr_bytes\":[1200000]",
            "\"curr_bytes\":[18446744073709551616]",
            "does not match the leakscope dump format: invalid type: floating point \
             `1.8446744073709552e+19`, expected u64 at line 1 column",
        ),
        (
            "\"pid\":4242",
            "\"pid\":-4242",
            "does not match the leakscope dump format: invalid value: integer `-4242`, \
             expected u32 at line 1 column",
        ),
        // Past f64: the parser itself refuses it.
        (
            "\"clock_secs\":3600.0",
            "\"clock_secs\":1e400",
            "has a number out of range at line 1, column",
        ),
        (
            "\"clock_secs\":3600.0",
            "\"clock_secs\":-1e400",
            "has a number out of range at line 1, column",
        ),
    ];
    for (from, to, expected) in cases {
        let m = problem(variant(from, to).as_bytes());
        assert!(m.starts_with(expected), "{to}: {m}");
    }
    // A 10,000-digit integer is a float out of range too, after a linear scan.
    let digits = format!("\"clock_secs\":{}", "9".repeat(10_000));
    let m = problem(variant("\"clock_secs\":3600.0", &digits).as_bytes());
    assert!(m.starts_with("has a number out of range at line 1"), "{m}");
    // The extremes that fit are read exactly.
    let json = variant(
        "\"curr_bytes\":3400000",
        "\"curr_bytes\":18446744073709551615",
    )
    .replacen(
        "\"clock_secs\":3600.0",
        "\"clock_secs\":1.7976931348623157e308",
        1,
    )
    .replacen(
        "\"written_at_unix\":1700003600.0",
        "\"written_at_unix\":5e-324",
        1,
    );
    let (_dir, _path, result) = read_bytes(json.as_bytes());
    let dump = result.unwrap();
    assert_eq!(
        dump.scope("users_cache").unwrap().stats.curr_bytes,
        u64::MAX
    );
    assert_eq!(dump.clock_secs, f64::MAX);
    assert_eq!(dump.written_at_unix, 5e-324);
}

#[test]
fn nan_infinity_and_null_numbers_are_named() {
    for (token, name) in [
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
    ] {
        let m =
            problem(variant("\"confidence\":0.97", &format!("\"confidence\":{token}")).as_bytes());
        assert!(
            m.starts_with(&format!("has {name} at line 1, column ")),
            "{token}: {m}"
        );
        assert!(
            m.ends_with(", which JSON cannot express: a finite number is expected"),
            "{m}"
        );
    }
    // `null` is JSON, but not a number: where one is required, the type error says so.
    for (from, to, expected) in [
        ("\"confidence\":0.97", "\"confidence\":null", "expected f64"),
        (
            "\"curr_bytes\":3400000",
            "\"curr_bytes\":null",
            "expected u64",
        ),
        ("\"t\":[3600.0]", "\"t\":[null]", "expected f64"),
    ] {
        let m = problem(variant(from, to).as_bytes());
        assert!(
            m.starts_with(&format!(
                "does not match the leakscope dump format: invalid type: null, {expected} at \
                 line 1 column"
            )),
            "{to}: {m}"
        );
    }
    // Where a number may be absent, `null` means absent.
    let json = variant("\"entries\":[828,", "\"entries\":[null,");
    let (_dir, _path, result) = read_bytes(json.as_bytes());
    let dump = result.unwrap();
    let history = &dump.scope("users_cache").unwrap().history;
    assert_eq!(history[0].entries, None);
    assert_eq!(history[1].entries, Some(835));
}

/// serde_json stops recursion at 128 levels, and skips what it need not build without
/// recursing at all.
#[test]
fn deep_nesting_is_refused_or_skipped() {
    let (open, close) = ("[".repeat(100_000), "]".repeat(100_000));
    let m = problem(format!("{open}{close}").as_bytes());
    assert_eq!(m, "is JSON but not an object: not a leakscope dump");
    let m = problem(format!("{{\"schema_version\":{open}{close}}}").as_bytes());
    assert!(
        m.starts_with("is nested too deeply (over 128 levels) at line 1, column 145:"),
        "{m}"
    );
    let m = problem(variant("\"leaks\":[", &format!("\"leaks\":[{open}{close},")).as_bytes());
    assert!(
        m.starts_with("does not match the leakscope dump format: invalid type: sequence"),
        "{m}"
    );
    let objects = "{\"a\":".repeat(100_000) + &"}".repeat(100_000);
    let m = problem(format!("{{\"schema_version\":{objects}}}").as_bytes());
    assert!(m.starts_with("is nested too deeply"), "{m}");
    // Unknown fields (a newer minor version's) are skipped, however deep.
    let json = variant("{", &format!("{{\"added_later\":{open}{close},"));
    let (_dir, _path, result) = read_bytes(json.as_bytes());
    assert_eq!(result.unwrap().scopes.len(), 2);
    // Unclosed, the nesting is a truncated file.
    let m = problem(format!("{{\"schema_version\":\"1.0\",\"x\":{open}").as_bytes());
    assert!(
        m.starts_with("is truncated: the JSON ends early at line 1"),
        "{m}"
    );
}

/// A history column of `n` copies of `value`.
fn column(value: &str, n: usize) -> String {
    let mut s = String::with_capacity(n * (value.len() + 1) + 2);
    s.push('[');
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(value);
    }
    s.push(']');
    s
}

/// Ten million points in one history column: more than any leakscope writes (three tiers of at
/// most a million), so the reader refuses the column at its limit instead of building it (it
/// would cost about 1.4 GB for 10 million full points).
#[test]
fn ten_million_history_values_are_refused_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ten_million.json");
    let test = "ten_million_history_values_are_refused_at_the_limit";
    if std::env::var_os(CHILD).is_none() {
        let json = variant(
            "\"t\":[3600.0]",
            &format!("\"t\":{}", column("1", 10_000_000)),
        );
        std::fs::write(&path, json).unwrap();
    }
    let Some(m) = measured(test, &path, |p| outcome(read_dump(p))) else {
        return;
    };
    assert!(
        m.outcome.starts_with(&format!(
            "dump {} does not match the leakscope dump format: a history column has more than \
             {MAX_HISTORY_POINTS} values (the most a leakscope history holds) at line 1 column",
            path.display()
        )),
        "{}",
        m.outcome
    );
    // The 20 MB file, plus the limit's worth of values (3 million, 8 bytes each, in a vector
    // that grows by doubling), plus the test harness.
    assert!(m.peak_mib < 256, "peak {} MiB", m.peak_mib);
    assert!(m.seconds >= 0.0);
}

/// Ten million entries where the format allows any number: a newer version's unknown field
/// (skipped without being built) and a call site's thread names (built: about 24 bytes each).
#[test]
fn ten_million_entries_elsewhere_parse_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.json");
    let test = "ten_million_entries_elsewhere_parse_in_bounded_memory";
    if std::env::var_os(CHILD).is_none() {
        // The first call site is the first leak's.
        let json = variant(
            "\"bytes_older_than\":[2800000,2100000,0]",
            &format!(
                "\"bytes_older_than\":[2800000,2100000,0],\"threads\":{}",
                column("\"\"", 10_000_000)
            ),
        )
        .replacen(
            "\"tracker\":",
            &format!("\"added_later\":{},\"tracker\":", column("0", 10_000_000)),
            1,
        );
        std::fs::write(&path, json).unwrap();
    }
    let Some(m) = measured(test, &path, |p| {
        let dump = read_dump(p).unwrap();
        format!(
            "ok, {} thread names",
            dump.leaks[0].finding.top_sites[0].threads.len()
        )
    }) else {
        return;
    };
    assert_eq!(m.outcome, "ok, 10000000 thread names");
    // 50 MB of file and 10 million empty strings (240 MB, up to twice that while the vector
    // doubles); the ignored field costs nothing.
    assert!(m.peak_mib < 1024, "peak {} MiB", m.peak_mib);
}

#[test]
fn history_columns_are_bounded_at_the_most_a_writer_produces() {
    // Exactly the limit is read (here it fails later, on the other columns' lengths)...
    let at_limit = variant(
        "\"t\":[3600.0]",
        &format!("\"t\":{}", column("0", MAX_HISTORY_POINTS)),
    );
    let m = problem(at_limit.as_bytes());
    assert!(
        m.starts_with(&format!(
            "does not match the leakscope dump format: history column curr_bytes has 1 values \
             where t has {MAX_HISTORY_POINTS}"
        )),
        "{m}"
    );
    // ... and one more is refused, in an optional column too.
    let past = variant(
        "\"entries\":[828,835,843,850]",
        &format!("\"entries\":{}", column("null", MAX_HISTORY_POINTS + 1)),
    );
    let m = problem(past.as_bytes());
    assert!(
        m.starts_with(&format!(
            "does not match the leakscope dump format: a history column has more than \
             {MAX_HISTORY_POINTS} values"
        )),
        "{m}"
    );
}

/// The limit is the most the configuration allows: three tiers of `max_snapshots_per_cache + 9`
/// points, with `max_snapshots_per_cache` at most 1,000,000.
#[test]
fn the_history_limit_matches_the_configuration() {
    let most = leakscope::Config::builder()
        .set("max_snapshots_per_cache", 1_000_000)
        .build()
        .unwrap();
    assert_eq!(MAX_HISTORY_POINTS, 3 * (most.max_snapshots_per_cache + 9));
    let err = leakscope::Config::builder()
        .set("max_snapshots_per_cache", 1_000_001)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_snapshots_per_cache"), "{err}");
}

#[test]
fn invalid_utf8_in_the_content_is_named() {
    // Raw bytes that are not UTF-8, inside a string and outside one.
    let mut inside = valid_json().into_bytes();
    let at = inside.windows(7).position(|w| w == b"\"users_").unwrap() + 7;
    inside.splice(at..at, [0xFF, 0xFE]);
    let m = problem(&inside);
    assert!(
        m.starts_with("is not JSON: invalid unicode code point at line 1 column"),
        "{m}"
    );
    let m = problem(b"\xFF\xFE{\x00\"\x00}\x00");
    assert_eq!(m, "is not JSON: expected value at line 1 column 1");
    // A lone surrogate escape is not a character either.
    let m = problem(variant("\"name\":\"unscoped\"", "\"name\":\"\\udc00\"").as_bytes());
    assert!(m.starts_with("is not JSON: "), "{m}");
    // Valid escapes of control characters and emoji are read as such.
    let json = variant(
        "\"name\":\"unscoped\"",
        "\"name\":\"a\\u0000\\u001b[31m\\ud83d\\ude00\"",
    );
    let (_dir, _path, result) = read_bytes(json.as_bytes());
    assert_eq!(result.unwrap().scopes[0].name, "a\0\u{1b}[31m\u{1F600}");
}

#[cfg(unix)]
#[test]
fn a_path_that_is_not_utf8_is_named_lossily() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(OsStr::from_bytes(b"dump-\xFF\xFE.json"));
    let shown = format!("{}/dump-\u{FFFD}\u{FFFD}.json", dir.path().display());
    // Missing: an I/O error that keeps the exact path in its kind.
    let err = read_dump(&path).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Io { path: path.clone() });
    assert_eq!(
        err.to_string(),
        format!("cannot read dump {shown}: No such file or directory (os error 2)")
    );
    // Present but not a dump.
    std::fs::write(&path, "not json").unwrap();
    let err = read_dump(&path).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Dump { path: Some(path) });
    assert_eq!(
        err.to_string(),
        format!("dump {shown} is not JSON: expected ident at line 1 column 2")
    );
}

#[test]
fn a_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_dump(dir.path()).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::Io {
            path: dir.path().to_owned()
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read dump {}: Is a directory (os error 21)",
            dir.path().display()
        )
    );
}

/// A FIFO reports no length: what its writer sends is read to the end, and judged like a file
/// (process substitution, `leakscope report <(zcat dump.json.gz)`, hands the reader one).
#[cfg(unix)]
#[test]
fn a_fifo_is_read_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("dump.fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success(), "mkfifo: {status}");
    let json = valid_json();
    let writer = {
        let (fifo, json) = (fifo.clone(), json.clone());
        // Opening a FIFO for writing blocks until the reader opens it, and the other way round.
        std::thread::spawn(move || std::fs::write(&fifo, &json[..json.len() / 2]).unwrap())
    };
    let m = one_line(&fifo, read_dump(&fifo));
    writer.join().unwrap();
    assert!(
        m.starts_with("is truncated: the JSON ends early at line 1"),
        "{m}"
    );
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(&fifo, json).unwrap())
    };
    assert_eq!(read_dump(&fifo).unwrap().scopes.len(), 2);
    writer.join().unwrap();
}

/// Endless input (`/dev/zero` behind a name that looks like a dump) stops at the size limit: the
/// reader never reads more than `MAX_DUMP_BYTES + 1` bytes, whatever the file says its length is.
#[cfg(target_os = "linux")]
#[test]
fn endless_input_stops_at_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("endless.json");
    std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
    let test = "endless_input_stops_at_the_size_limit";
    let Some(m) = measured(test, &path, |p| outcome(read_dump(p))) else {
        return;
    };
    assert_eq!(
        m.outcome,
        format!(
            "dump {} is larger than the {MAX_DUMP_BYTES} bytes a dump may be: not a leakscope \
             dump",
            path.display()
        )
    );
    // The limit's worth of bytes is held before the reader can tell: 1 GiB and change.
    assert!(m.peak_mib < 1200, "peak {} MiB", m.peak_mib);
}

#[test]
fn empty_and_blank_files_say_so() {
    assert_eq!(problem(b""), "is empty");
    assert_eq!(problem(b" \n\t\r\n  "), "is empty");
    // Other Unicode spaces are not JSON whitespace.
    let m = problem("\u{a0}\u{2003}".as_bytes());
    assert_eq!(m, "is not JSON: expected value at line 1 column 1");
}

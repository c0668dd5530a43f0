//! Each export read by the real client it is for: the Prometheus text by `promtool check
//! metrics` and by the Python `prometheus_client` parser, the heap profile by `go tool pprof`,
//! the folded stacks by `inferno-flamegraph`.
//!
//! A client that is not installed skips its test with a line on stderr, unless
//! `REQUIRE_REAL_CLIENTS=1` (set by `.ci/run`, which installs them), where a missing client
//! fails the test instead of passing it unseen.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Whether `program` runs (`program --version`, or `probe` instead); when it does not, the
/// test is skipped, or fails under `REQUIRE_REAL_CLIENTS`.
pub fn client(program: &str, probe: &[&str]) -> bool {
    let runs = Command::new(program)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !runs {
        let required = std::env::var_os("REQUIRE_REAL_CLIENTS").is_some_and(|v| v == "1");
        assert!(
            !required,
            "{program} {probe:?} does not run, and REQUIRE_REAL_CLIENTS=1"
        );
        eprintln!("skipped: {program} is not installed");
    }
    runs
}

/// Runs `program` with `args` and `input` on stdin; its stdout, or a panic with its stderr.
pub fn run_client(program: &str, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} exited {:?}:\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The Python parser's reading of the exposition in the file at `path`, opened in text mode as
/// a Python program would (universal newlines: a raw `\r` would end a line): one
/// `name{labels} value` line per sample, labels sorted, values as Python's `repr` of a float.
pub fn python_samples(path: &Path) -> Vec<String> {
    const READ: &str = "import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1], encoding='utf-8').read()
for family in text_string_to_metric_families(text):
    for s in family.samples:
        labels = ','.join('%s=%r' % kv for kv in sorted(s.labels.items()))
        print('%s{%s} %r' % (s.name, labels, float(s.value)))
";
    let out = run_client("python3", &["-c", READ, path.to_str().unwrap()], b"");
    out.lines().map(str::to_owned).collect()
}

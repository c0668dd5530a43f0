//! The fuzzer's findings, replayed on the stable toolchain in every test run: fuzzing itself
//! needs nightly, which CI does not have (docs/design.md §13), so what it found is checked here instead.
//!
//! - `fuzz/corpus/read_dump`: the minimized corpus `scripts/fuzz.sh` keeps, inputs that reach
//!   every branch of the reader the fuzzer found;
//! - `fuzz/seeds/read_dump`: hand-written, named inputs the corpus grew from; several are
//!   checked for their exact outcome below;
//! - `fuzz/regressions/read_dump`: every input that ever crashed the reader, if any.
//!
//! Every file must read without a panic, to a dump or to an error of one line.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use leakscope::dump::read_dump_from_slice;

const FUZZ: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz");

/// The files directly in `fuzz/<dir>/read_dump`, sorted; none if it does not exist.
fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(FUZZ).join(dir).join("read_dump");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Reads `path` through the reader: `Ok(None)` for a dump, `Ok(Some(message))` for an error,
/// `Err` for a panic or a message that is not one clean line.
fn replay(path: &Path) -> Result<Option<String>, String> {
    let bytes = std::fs::read(path).unwrap();
    match catch_unwind(AssertUnwindSafe(|| read_dump_from_slice(&bytes))) {
        Ok(Ok(_)) => Ok(None),
        Ok(Err(e)) => {
            let m = e.to_string();
            if m.chars().any(char::is_control) {
                Err(format!("{}: not one clean line: {m:?}", path.display()))
            } else {
                Ok(Some(m))
            }
        }
        Err(_) => Err(format!("{}: the reader panicked", path.display())),
    }
}

#[test]
fn every_corpus_file_reads_without_a_panic() {
    let corpus = files("corpus");
    let seeds = files("seeds");
    // A corpus that went missing would make this test pass on nothing.
    assert!(
        corpus.len() >= 100,
        "fuzz/corpus/read_dump has {} files",
        corpus.len()
    );
    assert!(
        seeds.len() >= 20,
        "fuzz/seeds/read_dump has {} files",
        seeds.len()
    );
    let all: Vec<PathBuf> = corpus
        .into_iter()
        .chain(seeds)
        .chain(files("regressions"))
        .collect();
    let failures: Vec<String> = all.iter().filter_map(|p| replay(p).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The outcome of the seed file `name`: `None` for a dump, else the error message.
fn seed(name: &str) -> Option<String> {
    let path = Path::new(FUZZ).join("seeds/read_dump").join(name);
    replay(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn named_seeds_have_their_outcome() {
    for ok in [
        "example.json",
        "example_compact.json",
        "minimal.json",
        "newer_minor.json",
        "u64_max.json",
        "float_extremes.json",
        "escapes.json",
    ] {
        assert_eq!(seed(ok), None, "{ok}");
    }
    let starts = [
        (
            "truncated.json",
            "dump is truncated: the JSON ends early at line 1, column 1932",
        ),
        (
            "version_3.json",
            "dump has schema version 3.0, but this leakscope",
        ),
        (
            "no_version.json",
            "dump has no schema_version field: not a leakscope dump",
        ),
        (
            "not_an_object.json",
            "dump is JSON but not an object: not a leakscope dump",
        ),
        ("whitespace.json", "dump is empty"),
        (
            "u64_overflow.json",
            "dump does not match the leakscope dump format: invalid type: floating point \
             `1.8446744073709552e+19`, expected u64",
        ),
        (
            "negative_count.json",
            "dump does not match the leakscope dump format: invalid value: integer `-1`, \
             expected u64",
        ),
        (
            "float_overflow.json",
            "dump has a number out of range at line 1, column 73",
        ),
        (
            "nan_token.json",
            "dump has NaN at line 1, column 2087, which JSON cannot express",
        ),
        (
            "null_number.json",
            "dump does not match the leakscope dump format: invalid type: null, expected f64",
        ),
        (
            "column_lengths_differ.json",
            "dump does not match the leakscope dump format: history column curr_bytes has 1 \
             values where t has 2",
        ),
        (
            "nested_200.json",
            "dump is nested too deeply (over 128 levels) at line 1, column 145",
        ),
        (
            "invalid_utf8.json",
            "dump is not JSON: invalid unicode code point",
        ),
        ("lone_surrogate.json", "dump is not JSON: "),
        (
            "unknown_variant.json",
            "dump does not match the leakscope dump format: unknown variant `Gradual\\nGrowth`",
        ),
    ];
    for (name, expected) in starts {
        let m = seed(name).unwrap_or_else(|| panic!("{name} was read as a dump"));
        assert!(m.starts_with(expected), "{name}: {m}");
    }
}

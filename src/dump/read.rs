//! Reading a dump back, for the CLI: every way a file can fail to be a dump this version reads
//! becomes one line that names the file and the problem.
//!
//! The input is untrusted (a user may point the CLI at anything), so the reader bounds what it
//! reads ([`MAX_DUMP_BYTES`]), relies on serde_json's recursion limit (128 levels) against deep
//! nesting, and turns numbers that do not fit their field into errors; it never panics.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::schema::{parse_version, Dump, OLDEST_SCHEMA_MAJOR, SCHEMA_MAJOR, SCHEMA_VERSION};
use crate::error::{Error, ErrorKind};

/// The largest dump the reader accepts: 1 GiB. A dump of 1,000 scopes with full default history
/// (about 2,000 points of about 150 bytes of JSON each) is about 300 MB; anything far larger is
/// not a dump, and would cost several times its size in memory to parse.
pub const MAX_DUMP_BYTES: u64 = 1 << 30;

/// Reads and checks the dump at `path`.
///
/// # Errors
/// One line naming the file, for a file that is missing or unreadable
/// ([`ErrorKind::Io`]), or that is too large, empty, not JSON, truncated, nested too deeply,
/// not shaped like a dump, or of a major schema version this build does not read
/// ([`ErrorKind::Dump`]).
pub fn read_dump(path: &Path) -> Result<Dump, Error> {
    read_dump_limited(path, MAX_DUMP_BYTES)
}

/// [`read_dump`] with the size limit as a parameter, so tests can exercise it cheaply.
fn read_dump_limited(path: &Path, limit: u64) -> Result<Dump, Error> {
    let io_error = |e: &std::io::Error| Error::io(path, "cannot read dump", e);
    let file = std::fs::File::open(path).map_err(|e| io_error(&e))?;
    // The length is a hint: special files report 0, and a file may grow while being read, so
    // the read itself is bounded too.
    let len = file.metadata().map_err(|e| io_error(&e))?.len();
    if len > limit {
        return Err(too_large(Some(path), limit));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(&e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(Some(path), limit));
    }
    parse(&bytes, Some(path))
}

/// Parses and checks a dump held in memory (for fuzzing, tests and dumps not read from a file).
///
/// # Errors
/// As [`read_dump`], without a file name and without the I/O cases.
pub fn read_dump_from_slice(bytes: &[u8]) -> Result<Dump, Error> {
    if bytes.len() as u64 > MAX_DUMP_BYTES {
        return Err(too_large(None, MAX_DUMP_BYTES));
    }
    parse(bytes, None)
}

/// Just the version, read when the whole dump does not parse: a dump of another major version is
/// expected not to fit this version's types, and the version is the useful thing to report.
/// `None` when the object has no `schema_version`. Only a JSON object is accepted (serde's
/// derived structs would also take an array), and every other value is skipped without being
/// built.
struct VersionProbe(Option<serde_json::Value>);

impl<'de> Deserialize<'de> for VersionProbe {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> serde::de::Visitor<'de> for ObjectVisitor {
            type Value = VersionProbe;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<VersionProbe, A::Error> {
                let mut version = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "schema_version" && version.is_none() {
                        version = Some(map.next_value::<serde_json::Value>()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(VersionProbe(version))
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

fn parse(bytes: &[u8], path: Option<&Path>) -> Result<Dump, Error> {
    let fail = |problem: String| dump_error(path, problem);
    if bytes.trim_ascii().is_empty() {
        return Err(fail("is empty".to_owned()));
    }
    match serde_json::from_slice::<Dump>(bytes) {
        Ok(dump) => {
            check_version(&dump.schema_version).map_err(fail)?;
            Ok(dump)
        }
        Err(e) if e.is_data() => {
            // The JSON is well-formed but not a dump of this version: say which.
            match serde_json::from_slice::<VersionProbe>(bytes) {
                Ok(VersionProbe(Some(serde_json::Value::String(version)))) => {
                    check_version(&version).map_err(fail)?
                }
                Ok(VersionProbe(Some(other))) => {
                    return Err(fail(format!(
                        "has a schema_version that is not a string ({other}): not a leakscope dump"
                    )))
                }
                Ok(VersionProbe(None)) => {
                    return Err(fail(
                        "has no schema_version field: not a leakscope dump".to_owned(),
                    ))
                }
                Err(probe_error) if probe_error.is_data() => {
                    return Err(fail(
                        "is JSON but not an object: not a leakscope dump".to_owned(),
                    ))
                }
                // Not even well-formed JSON further on (truncated, nested too deeply): that is
                // the more basic problem.
                Err(probe_error) => return Err(fail(describe_syntax_error(&probe_error, bytes))),
            }
            Err(fail(format!(
                "does not match the leakscope dump format: {e}"
            )))
        }
        Err(e) => Err(fail(describe_syntax_error(&e, bytes))),
    }
}

/// Names what is wrong with text that is not valid JSON (`bytes`, where it was found).
fn describe_syntax_error(e: &serde_json::Error, bytes: &[u8]) -> String {
    let at = format!("line {}, column {}", e.line(), e.column());
    let message = e.to_string();
    if e.is_eof() {
        format!("is truncated: the JSON ends early at {at}")
    } else if message.starts_with("recursion limit exceeded") {
        format!("is nested too deeply (over 128 levels) at {at}: not a leakscope dump")
    } else if message.starts_with("number out of range") {
        format!("has a number out of range at {at}")
    } else if let Some(token) = (message.starts_with("expected value")
        || message.starts_with("expected ident")
        || message.starts_with("invalid number"))
    .then(|| non_finite_token(bytes, e.line(), e.column()))
    .flatten()
    {
        // Other JSON writers (Python's json, JSON5) emit these; serde_json's "expected value"
        // would leave the reader guessing what is wrong with a number.
        format!("has {token} at {at}, which JSON cannot express: a finite number is expected")
    } else {
        format!("is not JSON: {message}")
    }
}

/// The `NaN` or `Infinity` token (any case, either sign) where serde_json stopped, at 1-based
/// `line` and `column` (counted in bytes), if that is what stopped it.
fn non_finite_token(bytes: &[u8], line: usize, column: usize) -> Option<&'static str> {
    let line_start = if line <= 1 {
        0
    } else {
        let newline = bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(line - 2)?
            .0;
        newline + 1
    };
    // serde_json points at the token's first byte, or just after a sign (`-Infinity`) or an `n`
    // (`nan`, taken for the start of `null`) it consumed: try the byte before first.
    let at = line_start + column.checked_sub(1)?;
    let starts_at = |from: usize, token: &str| {
        bytes
            .get(from..from + token.len())
            .is_some_and(|word| word.eq_ignore_ascii_case(token.as_bytes()))
    };
    let starts = |token: &str| (at > 0 && starts_at(at - 1, token)) || starts_at(at, token);
    [
        ("-infinity", "-Infinity"),
        ("+infinity", "Infinity"),
        ("infinity", "Infinity"),
        ("-inf", "-Infinity"),
        ("+inf", "Infinity"),
        ("inf", "Infinity"),
        ("-nan", "NaN"),
        ("+nan", "NaN"),
        ("nan", "NaN"),
    ]
    .into_iter()
    .find(|(token, _)| starts(token))
    .map(|(_, name)| name)
}

fn check_version(version: &str) -> Result<(), String> {
    check_version_of(
        version,
        OLDEST_SCHEMA_MAJOR..=SCHEMA_MAJOR,
        SCHEMA_VERSION,
        env!("CARGO_PKG_VERSION"),
    )
}

/// `version` checked by a reader of the majors `reads` that writes `writes`: the rule of every
/// leakscope, this one's and (with `reads` = `1..=1`, `writes` = `"1.3"`) the 1.x readers', whose
/// refusal of a 2.0 dump is what keeps them from showing a churn dump without its churn data.
fn check_version_of(
    version: &str,
    reads: std::ops::RangeInclusive<u32>,
    writes: &str,
    leakscope: &str,
) -> Result<(), String> {
    let (oldest, newest) = (*reads.start(), *reads.end());
    match parse_version(version) {
        Some((major, _)) if reads.contains(&major) => Ok(()),
        Some(_) => {
            let majors = if oldest == newest {
                format!("major version {newest}")
            } else {
                format!("major versions {oldest} to {newest}")
            };
            Err(format!(
                "has schema version {version}, but this leakscope ({leakscope}) reads {majors} \
                 (it writes {writes}): use a leakscope that reads version {version}"
            ))
        }
        None => Err(format!(
            "has an unreadable schema_version {version:?} (expected MAJOR.MINOR, such as \
             {writes})"
        )),
    }
}

fn too_large(path: Option<&Path>, limit: u64) -> Error {
    dump_error(
        path,
        format!("is larger than the {limit} bytes a dump may be: not a leakscope dump"),
    )
}

fn dump_error(path: Option<&Path>, problem: String) -> Error {
    let message = match path {
        Some(p) => format!("dump {} {problem}", p.display()),
        None => format!("dump {problem}"),
    };
    // serde quotes some input verbatim (an unknown enum variant, for one), so a hostile file
    // could otherwise break the one-line promise, or smuggle terminal escapes into it.
    let mut one_line = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() {
            one_line.extend(c.escape_default());
        } else {
            one_line.push(c);
        }
    }
    Error::new(
        ErrorKind::Dump {
            path: path.map(PathBuf::from),
        },
        one_line,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::fixtures::example_dump;

    fn message(bytes: &[u8]) -> String {
        read_dump_from_slice(bytes).unwrap_err().to_string()
    }

    fn example_json() -> String {
        serde_json::to_string(&example_dump()).unwrap()
    }

    #[test]
    fn a_written_dump_reads_back() {
        assert_eq!(
            read_dump_from_slice(example_json().as_bytes()).unwrap(),
            example_dump()
        );
        let pretty = serde_json::to_string_pretty(&example_dump()).unwrap();
        assert_eq!(
            read_dump_from_slice(pretty.as_bytes()).unwrap(),
            example_dump()
        );
    }

    #[test]
    fn missing_and_unreadable_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let err = read_dump(&missing).unwrap_err();
        assert_eq!(
            err.kind(),
            &ErrorKind::Io {
                path: missing.clone()
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read dump {}: No such file or directory (os error 2)",
                missing.display()
            )
        );
        let err = read_dump(dir.path()).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot read dump {}: ", dir.path().display())),
            "{err}"
        );
    }

    #[test]
    fn empty_files_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.json");
        std::fs::write(&path, "").unwrap();
        let err = read_dump(&path).unwrap_err();
        assert_eq!(
            err.kind(),
            &ErrorKind::Dump {
                path: Some(path.clone())
            }
        );
        assert_eq!(err.to_string(), format!("dump {} is empty", path.display()));
        assert_eq!(message(b" \n\t"), "dump is empty");
    }

    #[test]
    fn text_that_is_not_json_says_so() {
        assert_eq!(
            message(b"leakscope report\n"),
            "dump is not JSON: expected value at line 1 column 1"
        );
        assert_eq!(
            message(b"{\"schema_version\": \"1.0\",,}"),
            "dump is not JSON: key must be a string at line 1 column 26"
        );
        assert!(message(b"\xff\xfe{}").starts_with("dump is not JSON: "));
    }

    #[test]
    fn every_truncation_says_truncated() {
        let json = example_json();
        // Every prefix is truncated JSON (or empty); none may panic or be mistaken for another
        // problem. Stepping keeps the test quick in debug builds.
        for end in (1..json.len()).step_by(7) {
            let m = message(&json.as_bytes()[..end]);
            assert!(
                m.starts_with("dump is truncated: the JSON ends early at line 1, column"),
                "{end}: {m}"
            );
        }
    }

    #[test]
    fn other_major_versions_are_refused_naming_both() {
        let json =
            example_json().replace("\"schema_version\":\"2.0\"", "\"schema_version\":\"3.1\"");
        assert_eq!(
            message(json.as_bytes()),
            format!(
                "dump has schema version 3.1, but this leakscope ({}) reads major versions 1 to 2 \
                 (it writes 2.0): use a leakscope that reads version 3.1",
                env!("CARGO_PKG_VERSION")
            )
        );
        // A future major need not look like this one at all.
        let alien = br#"{"schema_version": "7.0", "everything": ["different"]}"#;
        assert!(message(alien).starts_with("dump has schema version 7.0, but"));
        // Nor need a past one.
        let ancient = br#"{"schema_version": "0.9", "everything": ["different"]}"#;
        assert!(message(ancient).starts_with("dump has schema version 0.9, but"));
        // A newer minor version reads, its unknown fields ignored.
        let newer = example_json().replacen(
            "\"schema_version\":\"2.0\"",
            "\"schema_version\":\"2.9\",\"added_in_2_9\":{\"x\":[1,2]}",
            1,
        );
        assert_eq!(
            read_dump_from_slice(newer.as_bytes())
                .unwrap()
                .schema_version,
            "2.9"
        );
    }

    /// A 1.x reader (major 1 only, writing 1.3: the check every leakscope before 2.0 made)
    /// refuses this build's dumps, which carry churn data it would drop, in one line naming the
    /// version; the same dump as 1.3 it reads.
    #[test]
    fn a_1_x_reader_refuses_a_2_0_dump_by_its_version() {
        let v1_reader = |version: &str| check_version_of(version, 1..=1, "1.3", "0.1.0");
        assert_eq!(
            v1_reader(&example_dump().schema_version),
            Err(
                "has schema version 2.0, but this leakscope (0.1.0) reads major version 1 \
                 (it writes 1.3): use a leakscope that reads version 2.0"
                    .to_owned()
            )
        );
        assert_eq!(v1_reader("1.3"), Ok(()));
        assert_eq!(v1_reader("1.0"), Ok(()));
        // This reader reads both.
        assert_eq!(check_version("2.0"), Ok(()));
        assert_eq!(check_version("1.0"), Ok(()));
    }

    #[test]
    fn bad_or_missing_versions_are_named() {
        let json =
            example_json().replace("\"schema_version\":\"2.0\"", "\"schema_version\":\"one\"");
        assert_eq!(
            message(json.as_bytes()),
            "dump has an unreadable schema_version \"one\" (expected MAJOR.MINOR, such as 2.0)"
        );
        assert_eq!(
            message(br#"{"schema_version": 1}"#),
            "dump has a schema_version that is not a string (1): not a leakscope dump"
        );
        assert_eq!(
            message(br#"{"name": "something else"}"#),
            "dump has no schema_version field: not a leakscope dump"
        );
        for not_an_object in [&b"[1, 2, 3]"[..], b"42", b"\"1.0\"", b"null"] {
            assert_eq!(
                message(not_an_object),
                "dump is JSON but not an object: not a leakscope dump"
            );
        }
    }

    #[test]
    fn wrong_shapes_name_the_problem_and_its_place() {
        let json = example_json().replace("\"pid\":4242", "\"pid\":\"4242\"");
        let m = message(json.as_bytes());
        assert!(
            m.starts_with("dump does not match the leakscope dump format: invalid type: string \"4242\", expected u32 at line 1"),
            "{m}"
        );
    }

    #[test]
    fn messages_stay_on_one_line_whatever_the_input() {
        let json = serde_json::to_string(&example_dump()).unwrap();
        let hostile = json.replacen("\"GradualGrowth\"", "\"Gradual\\n\\u001b[31mGrowth\"", 1);
        let m = message(hostile.as_bytes());
        assert!(
            m.starts_with("dump does not match the leakscope dump format: unknown variant"),
            "{m}"
        );
        assert!(!m.chars().any(char::is_control), "{m:?}");
        assert!(m.contains("Gradual\\n\\u{1b}[31mGrowth"), "{m}");
    }

    #[test]
    fn huge_numbers_are_errors_not_panics() {
        let json = example_json();
        let cases = [
            // Past u64: serde_json reads it as a float, which a u64 field refuses.
            (
                "\"curr_bytes\":3400000",
                "\"curr_bytes\":18446744073709551616",
                "expected u64",
            ),
            (
                "\"curr_bytes\":3400000",
                "\"curr_bytes\":-1",
                "expected u64",
            ),
            ("\"pid\":4242", "\"pid\":4294967296", "expected u32"),
            ("\"max_frames\":25", "\"max_frames\":1e30", "expected usize"),
        ];
        for (from, to, words) in cases {
            assert!(json.contains(from), "{from}");
            let m = message(json.replacen(from, to, 1).as_bytes());
            assert!(
                m.starts_with("dump does not match the leakscope dump format: "),
                "{m}"
            );
            assert!(m.contains(words), "{to}: {m}");
        }
        // A float beyond f64 is out of range for the parser itself.
        let m = message(
            json.replacen("\"clock_secs\":3600.0", "\"clock_secs\":1e400", 1)
                .as_bytes(),
        );
        assert!(
            m.starts_with("dump has a number out of range at line 1, column"),
            "{m}"
        );
    }

    #[test]
    fn nan_and_infinity_tokens_are_named() {
        let json = example_json();
        let pretty = serde_json::to_string_pretty(&example_dump()).unwrap();
        for (token, name) in [
            ("NaN", "NaN"),
            ("nan", "NaN"),
            ("-NaN", "NaN"),
            ("Infinity", "Infinity"),
            ("-Infinity", "-Infinity"),
            ("+Infinity", "Infinity"),
            ("inf", "Infinity"),
            ("-inf", "-Infinity"),
        ] {
            let m = message(
                json.replacen("\"confidence\":0.97", &format!("\"confidence\":{token}"), 1)
                    .as_bytes(),
            );
            assert!(
                m.starts_with(&format!("dump has {name} at line 1, column ")),
                "{token}: {m}"
            );
            assert!(
                m.ends_with(", which JSON cannot express: a finite number is expected"),
                "{m}"
            );
            // In a file of many lines the position is found on its own line.
            let from = "\"confidence\": 0.97";
            assert!(pretty.contains(from));
            let m = message(
                pretty
                    .replacen(from, &format!("\"confidence\": {token}"), 1)
                    .as_bytes(),
            );
            assert!(
                m.starts_with(&format!("dump has {name} at line ")),
                "{token}: {m}"
            );
        }
        // The word elsewhere is not taken for the number.
        assert_eq!(
            message(b"{NaN: 1}"),
            "dump is not JSON: key must be a string at line 1 column 2"
        );
        assert_eq!(
            message(b"{\"a\": Nope}"),
            "dump is not JSON: expected value at line 1 column 7"
        );
        // `null` is valid JSON, so a `null` number is a type error naming the place.
        let m = message(
            json.replacen("\"confidence\":0.97", "\"confidence\":null", 1)
                .as_bytes(),
        );
        assert!(
            m.starts_with("dump does not match the leakscope dump format: invalid type: null, expected f64 at line 1 column"),
            "{m}"
        );
    }

    /// serde_json skips unknown or mistyped values without recursion and stops recursive
    /// parsing at 128 levels; whichever applies, deep nesting gives one clear line.
    #[test]
    fn deep_nesting_is_refused_clearly() {
        let depth = 100_000;
        let (open, close) = ("[".repeat(depth), "]".repeat(depth));
        // Where the reader builds a value (the version), the recursion limit stops it.
        let in_version = format!("{{\"schema_version\":{open}{close}}}");
        let m = message(in_version.as_bytes());
        assert!(
            m.starts_with("dump is nested too deeply (over 128 levels) at line 1, column"),
            "{m}"
        );
        // Where a typed field is expected, the first mismatch is the error.
        let in_scopes = format!("{{\"schema_version\":\"1.0\",\"scopes\":{open}{close}}}");
        let m = message(in_scopes.as_bytes());
        assert!(
            m.starts_with("dump does not match the leakscope dump format: invalid type: sequence"),
            "{m}"
        );
        // In an unknown field of a newer minor version it is skipped, whatever its depth.
        let mut json = serde_json::to_string(&example_dump()).unwrap();
        json.insert_str(1, &format!("\"added_later\":{open}{close},"));
        assert_eq!(
            read_dump_from_slice(json.as_bytes()).unwrap(),
            example_dump()
        );
        // Unclosed, it is simply truncated.
        let m = message(format!("{{\"schema_version\":\"1.0\",\"scopes\":{open}").as_bytes());
        assert!(m.starts_with("dump is truncated: "), "{m}");
        // At the top level it is not a dump.
        let m = message(format!("{open}{close}").as_bytes());
        assert_eq!(m, "dump is JSON but not an object: not a leakscope dump");
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        // A sparse file: the size check must come before any read.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.json");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_DUMP_BYTES + 1).unwrap();
        let err = read_dump(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "dump {} is larger than the 1073741824 bytes a dump may be: not a leakscope dump",
                path.display()
            )
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn endless_special_files_are_bounded() {
        // /dev/zero reports length 0 and never ends: the bounded read stops it (at a small
        // limit here, the same code path as the real one).
        let err = read_dump_limited(Path::new("/dev/zero"), 4096).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dump /dev/zero is larger than the 4096 bytes a dump may be: not a leakscope dump"
        );
    }

    #[test]
    fn many_entries_parse_without_trouble() {
        let mut dump = example_dump();
        let s = dump.scopes[0].history[0].clone();
        dump.scopes[0].history = vec![s; 200_000];
        let json = serde_json::to_vec(&dump).unwrap();
        assert_eq!(
            read_dump_from_slice(&json).unwrap().scopes[0].history.len(),
            200_000
        );
    }

    /// A dump written by schema 1.0 (the format document's example as it was then) reads as
    /// the same dump, the tracker fields added in 1.1 at 0.
    #[test]
    fn a_1_0_dump_still_reads() {
        let old = include_bytes!("../../tests/fixtures/dump-1.0.json");
        let dump = read_dump_from_slice(old).unwrap();
        let mut expected = example_dump();
        expected.schema_version = "1.0".into();
        expected.tracker.self_blocks = 0;
        expected.tracker.symbolizer_peak_bytes = 0;
        expected.tracker.gauges_dropped = 0;
        without_1_2_fields(&mut expected);
        assert_eq!(dump, expected);
    }

    /// What a dump of 1.1 or older lacks: the age profiles and the memory pressure.
    fn without_1_2_fields(dump: &mut Dump) {
        for s in &mut dump.scopes {
            s.history.iter_mut().for_each(|p| p.live_age = None);
        }
        dump.process_history
            .iter_mut()
            .for_each(|p| p.pressure = None);
    }

    /// A dump written by schema 1.1 (the format document's example as it was then) reads as
    /// the same dump without the age profiles and the pressure added in 1.2.
    #[test]
    fn a_1_1_dump_still_reads() {
        let old = include_bytes!("../../tests/fixtures/dump-1.1.json");
        let dump = read_dump_from_slice(old).unwrap();
        let mut expected = example_dump();
        expected.schema_version = "1.1".into();
        without_1_2_fields(&mut expected);
        assert_eq!(dump, expected);
    }

    /// What a dump of 1.2 or older lacks: the leaks' call sites at detection and at their peak.
    fn without_1_3_fields(dump: &mut Dump) {
        for leak in &mut dump.leaks {
            leak.sites_at_detection.clear();
            leak.peak_bytes = 0;
            leak.sites_at_peak.clear();
        }
    }

    /// A dump written by schema 1.2 (the format document's example as it was then) reads as
    /// the same dump without the leaks' sites added in 1.3, its age profiles and pressure kept.
    #[test]
    fn a_1_2_dump_still_reads() {
        let old = include_bytes!("../../tests/fixtures/dump-1.2.json");
        let dump = read_dump_from_slice(old).unwrap();
        let mut expected = example_dump();
        expected.schema_version = "1.2".into();
        without_1_3_fields(&mut expected);
        assert!(dump.scopes[1].history.iter().any(|p| p.live_age.is_some()));
        assert_eq!(dump, expected);
    }

    /// A dump written by schema 1.3, the last 1.x (the format document's example as it was
    /// then), reads as the same dump: 2.0 has 1.3's fields.
    #[test]
    fn a_1_3_dump_still_reads() {
        let old = include_bytes!("../../tests/fixtures/dump-1.3.json");
        let dump = read_dump_from_slice(old).unwrap();
        let mut expected = example_dump();
        expected.schema_version = "1.3".into();
        assert_eq!(dump, expected);
    }

    #[test]
    fn age_shares_above_the_scale_are_refused() {
        let json = example_json().replace("[9700,7200,0]", "[9700,10001,0]");
        assert!(json.contains("10001"));
        let m = message(json.as_bytes());
        assert!(
            m.contains("history column live_age holds [9700, 10001, 0]: shares are at most 10000"),
            "{m}"
        );
    }
}

//! A checker for the Prometheus text exposition format (version 0.0.4), written from the format's
//! rules so the test does not trust the writer's own idea of them:
//!
//! - `# HELP name text` and `# TYPE name type` lines, at most one of each per metric family, the
//!   TYPE before the family's first sample, type one of counter, gauge, histogram, summary,
//!   untyped; other `#` lines are comments;
//! - samples `name{label="value",…} value [timestamp]`, names matching
//!   `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*` (not starting with `__`),
//!   label values with only `\\`, `\"` and `\n` escapes, no repeated label name in a sample;
//! - values are Go floats (`NaN`, `+Inf`, `-Inf` included), timestamps integers;
//! - a family's samples are contiguous; the same series does not appear twice;
//! - the text ends with a newline.

use std::collections::{BTreeSet, HashMap};

/// The sample count of a valid exposition, or the first rule broken with its line number.
pub fn check(text: &str) -> Result<usize, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the text does not end with a newline".into());
    }
    let mut help: BTreeSet<String> = BTreeSet::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut seen_samples: BTreeSet<String> = BTreeSet::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut series: BTreeSet<String> = BTreeSet::new();
    let mut samples = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let at = |m: String| format!("line {n}: {m}: {line:?}");
        let fail = |m: String| Err(at(m));
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            let mut words = rest.splitn(3, ' ');
            let (kw, name, tail) = (words.next(), words.next(), words.next());
            match kw {
                Some("HELP") => {
                    let Some(name) = name else {
                        return fail("HELP without a metric name".into());
                    };
                    if !metric_name(name) {
                        return fail(format!("bad metric name {name}"));
                    }
                    if !help.insert(name.to_owned()) {
                        return fail(format!("second HELP for {name}"));
                    }
                    let text = tail.unwrap_or("");
                    check_help_escapes(text).map_err(at)?;
                }
                Some("TYPE") => {
                    let (Some(name), Some(ty)) = (name, tail) else {
                        return fail("TYPE needs a name and a type".into());
                    };
                    if !metric_name(name) {
                        return fail(format!("bad metric name {name}"));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty) {
                        return fail(format!("unknown type {ty}"));
                    }
                    if types.insert(name.to_owned(), ty.to_owned()).is_some() {
                        return fail(format!("second TYPE for {name}"));
                    }
                    if seen_samples.contains(name) {
                        return fail(format!("TYPE for {name} after its samples"));
                    }
                }
                _ => {} // a comment
            }
            continue;
        }
        let (name, labels, rest) = parse_sample(line).map_err(at)?;
        let family = family_of(&name, &types);
        if current.as_deref() != Some(family.as_str()) {
            if let Some(prev) = current.take() {
                finished.insert(prev);
            }
            if finished.contains(&family) {
                return fail(format!("samples of {family} are not contiguous"));
            }
            current = Some(family.clone());
        }
        seen_samples.insert(name.clone());
        let mut words = rest.split(' ').filter(|w| !w.is_empty());
        let value = words.next().unwrap_or("");
        if !go_float(value) {
            return fail(format!("bad value {value:?}"));
        }
        if let Some(ts) = words.next() {
            if ts.parse::<i64>().is_err() {
                return fail(format!("bad timestamp {ts:?}"));
            }
        }
        if words.next().is_some() {
            return fail("text after the timestamp".into());
        }
        let key = format!("{name}{labels:?}");
        if !series.insert(key) {
            return fail("the same series twice".into());
        }
        samples += 1;
    }
    Ok(samples)
}

fn family_of(name: &str, types: &HashMap<String, String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if matches!(
                types.get(base).map(String::as_str),
                Some("histogram" | "summary")
            ) {
                return base.to_owned();
            }
        }
    }
    name.to_owned()
}

fn metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn label_name(s: &str) -> bool {
    let mut chars = s.chars();
    !s.starts_with("__")
        && matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_help_escapes(text: &str) -> Result<(), String> {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
            return Err("HELP text with an escape other than \\\\ or \\n".into());
        }
    }
    Ok(())
}

/// A sample's labels, sorted by name, values unescaped.
type Labels = Vec<(String, String)>;

/// Splits a sample line into its name, its labels (sorted, unescaped) and the rest.
fn parse_sample(line: &str) -> Result<(String, Labels, &str), String> {
    let end = line.find(['{', ' ']).ok_or("a sample without a value")?;
    let name = &line[..end];
    if !metric_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[end..];
    let mut labels: Vec<(String, String)> = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut s = after;
        loop {
            s = s.trim_start();
            if let Some(r) = s.strip_prefix('}') {
                s = r;
                break;
            }
            let eq = s.find('=').ok_or("a label without =")?;
            let lname = s[..eq].trim();
            if !label_name(lname) {
                return Err(format!("bad label name {lname:?}"));
            }
            s = s[eq + 1..].trim_start();
            let body = s.strip_prefix('"').ok_or("a label value without quotes")?;
            let mut value = String::new();
            let mut chars = body.char_indices();
            let close = loop {
                match chars.next() {
                    None => return Err("an unterminated label value".into()),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape in a label value: {other:?}")),
                    },
                    Some((_, '\n')) => return Err("a raw newline in a label value".into()),
                    Some((_, c)) => value.push(c),
                }
            };
            if labels.iter().any(|(n, _)| n == lname) {
                return Err(format!("label {lname} twice"));
            }
            labels.push((lname.to_owned(), value));
            s = &body[close + 1..];
            s = s.trim_start();
            if let Some(r) = s.strip_prefix(',') {
                s = r;
            } else if !s.starts_with('}') {
                return Err("labels not separated by commas".into());
            }
        }
        rest = s;
    }
    if !rest.starts_with(' ') {
        return Err("no space before the value".into());
    }
    labels.sort();
    Ok((name.to_owned(), labels, rest))
}

/// A value Go's `strconv.ParseFloat` accepts as Prometheus writes it.
fn go_float(s: &str) -> bool {
    matches!(s, "NaN" | "+Inf" | "-Inf" | "Inf")
        || (!s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
            && s.parse::<f64>().is_ok())
}

#[test]
fn the_checker_knows_good_from_bad() {
    let good = "# HELP a_b Some text with \\\\ and \\n.\n# TYPE a_b gauge\n\
                a_b{x=\"1\",y=\"q\\\"\\\\\\n\"} 1.5\na_b{x=\"2\"} NaN 1700000000000\n\
                # a comment\nc:d -Inf\n";
    assert_eq!(check(good), Ok(3));
    for bad in [
        "a 1",                                     // no trailing newline
        "1a 1\n",                                  // name
        "a{1x=\"v\"} 1\n",                         // label name
        "a{x=\"v} 1\n",                            // unterminated
        "a{x=\"\\t\"} 1\n",                        // escape
        "a one\n",                                 // value
        "a 1\nb 1\na 2\n",                         // not contiguous
        "a 1\n# TYPE a gauge\n",                   // TYPE after samples
        "# TYPE a gauge\n# TYPE a counter\na 1\n", // two TYPEs
        "# TYPE a meter\na 1\n",                   // unknown type
        "a{x=\"1\"} 1\na{x=\"1\"} 2\n",            // same series
        "a{x=\"1\",x=\"2\"} 1\n",                  // label twice
    ] {
        assert!(check(bad).is_err(), "{bad:?} passed");
    }
}

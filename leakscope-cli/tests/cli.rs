//! The `leakscope` binary, run for real (`CARGO_BIN_EXE_leakscope`) on the fixture dump in
//! `tests/fixtures/`: golden files for `report` and `collapsed`, a parsed HTML page, a checked
//! Prometheus exposition, `diff` and `analyze`, and every kind of bad input.
//!
//! Golden files and the fixture are regenerated with `LEAKSCOPE_BLESS=1 cargo test -p leakscope-cli --test cli`
//! (as inferno does); review the diff before committing it.

mod cli {
    pub mod clients;
    pub mod fixture;
    pub mod prom_check;
}

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cli::clients::{client, python_samples, run_client};
use leakscope::dump::Dump;

const BIN: &str = env!("CARGO_BIN_EXE_leakscope");

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn fixture() -> PathBuf {
    manifest("tests/fixtures/service.json")
}

fn bless() -> bool {
    std::env::var_os("LEAKSCOPE_BLESS").is_some()
}

/// Runs the binary with `args`, no terminal, and a clean colour and width environment.
fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("TERM")
        .env_remove("COLUMNS")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects success with nothing on stderr.
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?} exited {:?}: {}",
        o.status.code(),
        stderr(&o)
    );
    assert_eq!(stderr(&o), "", "{args:?} wrote to stderr");
    stdout(&o)
}

/// Compares `actual` with the golden file `name`, or rewrites it when blessing.
fn golden(name: &str, actual: &str) {
    let path = manifest(&format!("tests/golden/{name}"));
    if bless() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with LEAKSCOPE_BLESS=1", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output, first at line {}:\n  golden: {:?}\n  actual: {:?}\n\
             Full output:\n{actual}\nIf the change is intended, rerun with LEAKSCOPE_BLESS=1 \
             and review the diff.",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line),
        );
    }
}

fn fixture_dump() -> Dump {
    leakscope::dump::read_dump(&fixture()).expect("the fixture reads")
}

fn fixture_str() -> String {
    fixture().to_str().unwrap().to_owned()
}

#[test]
fn the_fixture_is_current() {
    let generated = cli::fixture::service_dump();
    let path = fixture();
    let mut json = serde_json::to_string_pretty(&generated).unwrap();
    json.push('\n');
    if bless() {
        std::fs::write(&path, json).unwrap();
        return;
    }
    // Compared as text: serde_json parses floats fast rather than exactly (without its
    // `float_roundtrip` feature), so a dump read back may differ from the written one in the
    // last bit.
    assert!(
        std::fs::read_to_string(&path).unwrap() == json,
        "tests/fixtures/service.json differs from tests/cli/fixture.rs (or the detectors \
         changed their verdicts); rerun with LEAKSCOPE_BLESS=1 and review the diff"
    );
}

/// The format document's example, the dump this version writes, into `dir`.
fn documented_example(dir: &Path) -> PathBuf {
    let doc = std::fs::read_to_string(manifest("../docs/dump-format.md")).unwrap();
    let start = doc.find("```json\n").unwrap() + 8;
    let end = start + doc[start..].find("\n```").unwrap();
    let path = dir.join("example.json");
    std::fs::write(&path, &doc[start..end]).unwrap();
    path
}

/// Every 1.x dump still reads (the format document's example as each version wrote it): each
/// subcommand renders it, and the 1.3 example, which has 2.0's fields, gives exactly the output
/// of the 2.0 example but for the version the report and the page name.
#[test]
fn every_1_x_dump_still_renders() {
    let dir = tempfile::tempdir().unwrap();
    let current = documented_example(dir.path());
    let current = current.to_str().unwrap();
    for minor in 0..=3 {
        let old = manifest(&format!("../tests/fixtures/dump-1.{minor}.json"));
        let old = old.to_str().unwrap();
        let report = ok(&["report", old, "--no-color"]);
        assert!(
            report.contains(&format!(", schema 1.{minor}, ")),
            "{report}"
        );
        let page = dir.path().join(format!("1.{minor}.html"));
        ok(&["html", old, "-o", page.to_str().unwrap()]);
        ok(&["prom", old]);
        ok(&["collapsed", old]);
        if minor == 3 {
            assert_eq!(ok(&["prom", old]), ok(&["prom", current]));
            assert_eq!(ok(&["collapsed", old]), ok(&["collapsed", current]));
            let new_report = ok(&["report", current, "--no-color"]);
            assert_eq!(
                report.replace(", schema 1.3, ", ", schema 2.0, "),
                new_report
            );
            let new_page = dir.path().join("2.0.html");
            ok(&["html", current, "-o", new_page.to_str().unwrap()]);
            let (old_html, new_html) = (
                std::fs::read_to_string(&page).unwrap(),
                std::fs::read_to_string(&new_page).unwrap(),
            );
            assert_ne!(old_html, new_html);
            assert_eq!(old_html.replace("schema 1.3", "schema 2.0"), new_html);
        }
    }
}

#[test]
fn report_matches_its_golden_file() {
    let text = ok(&["report", &fixture_str(), "--no-color"]);
    golden("report.txt", &text);
    // Not a terminal: plain even without --no-color.
    assert_eq!(ok(&["report", &fixture_str()]), text);
    assert_fits(&text, 100);
}

/// At 80 and 160 columns (issue 14): `--width`, and `COLUMNS` through a pipe, give the same
/// report, every line within the width.
#[test]
fn report_at_80_and_160_columns_matches_its_golden_files() {
    for width in [80, 160] {
        let w = width.to_string();
        let text = ok(&["report", &fixture_str(), "--width", &w]);
        golden(&format!("report-{width}.txt"), &text);
        assert_fits(&text, width);
        let o = Command::new(BIN)
            .args(["report", &fixture_str()])
            .env("COLUMNS", &w)
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        assert_eq!(stdout(&o), text, "COLUMNS={w}");
    }
    // The flag wins over COLUMNS.
    let o = Command::new(BIN)
        .args(["report", &fixture_str(), "--width", "80"])
        .env("COLUMNS", "160")
        .output()
        .unwrap();
    assert_eq!(stdout(&o), ok(&["report", &fixture_str(), "--width=80"]));
}

/// On a terminal (a pseudo-terminal from util-linux's `script`, 72 columns wide) and without
/// COLUMNS or --width, the report asks the terminal for its width, and colours.
#[test]
fn report_follows_the_terminal_it_is_printed_on() {
    // Not an export's client: skipped without it even under REQUIRE_REAL_CLIENTS (Debian has
    // it in bsdutils, which every install has).
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("skipped: util-linux script is not installed");
        return;
    }
    let command = format!("stty cols 72 rows 40; exec {BIN} report {}", fixture_str());
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // The terminal turns each newline into CR LF.
    let text = stdout(&o).replace("\r\n", "\n");
    assert_eq!(
        text,
        ok(&["report", &fixture_str(), "--width=72", "--color=always"])
    );
}

/// Panics with the line when a line of `text` is wider than `width` display columns (after
/// removing colour codes, which take none).
fn assert_fits(text: &str, width: usize) {
    for line in text.lines() {
        let plain = strip_sgr(line);
        let w = unicode_width::UnicodeWidthStr::width(plain.as_str());
        assert!(w <= width, "{w} columns at width {width}: {plain:?}");
        assert!(
            !plain.chars().any(char::is_control),
            "a control character: {plain:?}"
        );
    }
}

/// `line` without its SGR colour sequences (`ESC [ … m`).
fn strip_sgr(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The fixture with names and text a program could put in a dump from user input: terminal
/// escapes and other control characters (which the report shows escaped, several columns
/// each), words far longer than a line, wide CJK and emoji, combining marks, a right-to-left
/// override and zero-width characters, in scope names, leak summaries and advice, call-site
/// frames and paths, thread names and the executable.
fn hostile_text_dump(dir: &Path) -> PathBuf {
    let mut dump = fixture_dump();
    let names = [
        "\u{1b}[2J\u{1b}[31m".repeat(12),
        "tenant/".repeat(40),
        "キャッシュ".repeat(12),
        "🦀cache🦀".repeat(9),
        format!("e\u{301}{}", "\u{301}".repeat(50)),
        "users\u{202e}ehcac\u{200b}\u{feff}".to_owned(),
        "tab\there\nnewline\r".repeat(10),
    ];
    let template = dump.scopes[0].clone();
    dump.scopes.resize(names.len(), template);
    for (scope, name) in dump.scopes.iter_mut().zip(&names) {
        scope.name = name.clone();
    }
    let long_word = format!("{}::f", "very_long_module_name".repeat(10));
    for (i, leak) in dump.leaks.iter_mut().enumerate() {
        leak.finding.scope = names[i % names.len()].clone();
        leak.finding.summary = format!(
            "{}: floor rose {long_word} \u{1b}[1A{}",
            leak.finding.scope,
            "\u{7}".repeat(40)
        );
        leak.finding
            .recommendations
            .push(format!("{long_word} {}", names[2]));
        for site in &mut leak.finding.top_sites {
            site.scope = leak.finding.scope.clone();
            site.threads.push("\u{1b}]0;pwned\u{7}".repeat(10));
        }
    }
    for (i, site) in dump.top_call_sites.iter_mut().enumerate() {
        site.scope = names[i % names.len()].clone();
        for frame in &mut site.frames {
            frame.function = Some(format!("{long_word}<{}>", names[i % names.len()]));
            frame.file = Some(format!("/{}/{}.rs", "deep".repeat(30), names[3]));
        }
    }
    dump.process.executable = Some(format!("/bin/{}", names[0]));
    let path = dir.join("hostile-text.json");
    std::fs::write(&path, serde_json::to_string(&dump).unwrap()).unwrap();
    path
}

/// Issue 15 item 5: no line of `report`, `diff` or `analyze` is wider than the width, at any
/// width, in colour or not, whatever the dump's names are; escaped names count the columns
/// they print.
#[test]
fn no_line_exceeds_the_width_with_hostile_names() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = hostile_text_dump(dir.path());
    let hostile = hostile.to_str().unwrap();
    let f = fixture_str();
    for width in [40, 41, 57, 80, 100, 133, 160, 240] {
        let w = format!("--width={width}");
        for color in ["--color=never", "--color=always"] {
            for args in [
                vec!["report", hostile],
                vec!["diff", &f, hostile],
                vec!["diff", hostile, hostile],
                vec!["analyze", hostile],
            ] {
                let mut args = args.clone();
                args.extend([w.as_str(), color]);
                let text = ok(&args);
                assert_fits(&text, width);
            }
        }
    }
    // The names are all there, escaped, not obeyed.
    let text = ok(&["report", hostile, "--width=240"]);
    assert!(text.contains("\\u{1b}[2J"), "{text}");
    assert!(text.contains("users\\u{202e}ehcac"), "{text}");
    assert!(text.contains("キャッシュ"), "{text}");
}

#[test]
fn report_says_what_a_person_needs() {
    let text = ok(&["report", &fixture_str()]);
    for needle in [
        "pid 31337",
        "/srv/photo-api/bin/photo-api",
        "leakscope itself",
        "OPEN LEAKS",
        "sessions: gradual growth",
        "photo_api::session::SessionStore::record_event (src/session.rs:88)",
        "RESOLVED LEAKS",
        "TOP CALL SITES",
        "▁",
    ] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }
    // The leaking scope ranks above the flat ones.
    let sessions = text.find("\n  sessions ").expect("sessions row");
    let unscoped = text.find("\n  unscoped ").expect("unscoped row");
    assert!(sessions < unscoped, "{text}");
}

#[test]
fn colour_is_used_only_when_asked_or_on_a_terminal() {
    let plain = ok(&["report", &fixture_str()]);
    assert!(!plain.contains('\u{1b}'));
    let coloured = ok(&["--color", "always", "report", &fixture_str()]);
    assert!(
        coloured.contains("\u{1b}["),
        "no colour with --color always"
    );
    let o = Command::new(BIN)
        .args(["report", &fixture_str(), "--color=always", "--no-color"])
        .output()
        .unwrap();
    assert!(!stdout(&o).contains('\u{1b}'), "--no-color wins");
}

#[test]
fn collapsed_matches_its_golden_file() {
    let text = ok(&["collapsed", &fixture_str()]);
    golden("collapsed.txt", &text);
    for line in text.lines() {
        let (stack, bytes) = line.rsplit_once(' ').expect("stack and count");
        assert!(bytes.parse::<u64>().is_ok(), "{line}");
        let frames: Vec<&str> = stack.split(';').collect();
        assert!(
            frames.len() >= 2 && frames.iter().all(|f| !f.is_empty()),
            "{line}"
        );
    }
    // Outermost first: the innermost frame of the largest site ends its line.
    assert!(
        text.contains(";photo_api::session::SessionStore::record_event 112400000\n"),
        "{text}"
    );
}

/// `collapsed --lines`: the same stacks with `function (file:line)` frames, the leaf of each
/// naming the line of its call site.
#[test]
fn collapsed_lines_matches_its_golden_file() {
    let text = ok(&["collapsed", &fixture_str(), "--lines"]);
    golden("collapsed-lines.txt", &text);
    let dump = fixture_dump();
    for site in &dump.top_call_sites {
        let f = &site.frames[0];
        let leaf = format!(
            "{} ({}:{}) {}\n",
            f.function.as_deref().unwrap().replace(';', ":"),
            f.file.as_deref().unwrap(),
            f.line.unwrap(),
            site.live_bytes
        );
        assert!(text.contains(&format!(";{leaf}")), "no {leaf:?} in {text}");
    }
    let plain = ok(&["collapsed", &fixture_str()]);
    assert_eq!(text.lines().count(), plain.lines().count());
}

/// Both forms as inferno-flamegraph reads them: an SVG whose frames carry the bytes of the
/// dump, each scope's the sum of its sites, each leaf its site's, with `file:line` under
/// `--lines`.
#[test]
fn collapsed_is_drawn_by_inferno_with_the_bytes_of_every_site() {
    if !client("inferno-flamegraph", &["--help"]) {
        return;
    }
    let dump = fixture_dump();
    for lines in [false, true] {
        let f = fixture_str();
        let mut args = vec!["collapsed", f.as_str()];
        if lines {
            args.push("--lines");
        }
        let folded = ok(&args);
        let svg = run_client(
            "inferno-flamegraph",
            &["--countname", "bytes", "--title", "live memory"],
            folded.as_bytes(),
        );
        let titles = svg_titles(&svg);
        let total: u64 = dump.top_call_sites.iter().map(|s| s.live_bytes).sum();
        let all = format!("all ({} bytes, 100%)", thousands(total));
        assert!(titles.contains(&all), "no {all:?} in {titles:#?}");
        let mut scopes: std::collections::BTreeMap<&str, u64> = Default::default();
        for site in &dump.top_call_sites {
            *scopes.entry(site.scope.as_str()).or_default() += site.live_bytes;
            let f = &site.frames[0];
            let function = f.function.as_deref().unwrap().replace(';', ":");
            let leaf = if lines {
                format!(
                    "{function} ({}:{}) ({} bytes, ",
                    f.file.as_deref().unwrap(),
                    f.line.unwrap(),
                    thousands(site.live_bytes)
                )
            } else {
                format!("{function} ({} bytes, ", thousands(site.live_bytes))
            };
            assert!(
                titles.iter().any(|t| t.starts_with(&leaf)),
                "lines {lines}: no {leaf:?} in {titles:#?}"
            );
        }
        for (scope, bytes) in scopes {
            let title = format!("{scope} ({} bytes, ", thousands(bytes));
            assert!(
                titles.iter().any(|t| t.starts_with(&title)),
                "no {title:?} in {titles:#?}"
            );
        }
    }
}

/// The text of every `<title>` of an SVG, unescaped, read with an XML parser.
fn svg_titles(svg: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut titles = Vec::new();
    let mut in_title = false;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) if e.name().as_ref() == b"title" => {
                in_title = true;
                titles.push(String::new());
            }
            Ok(quick_xml::events::Event::End(e)) if e.name().as_ref() == b"title" => {
                in_title = false;
            }
            Ok(quick_xml::events::Event::Text(t)) if in_title => {
                let text = t.decode().unwrap();
                let text = quick_xml::escape::unescape(&text).unwrap();
                titles.last_mut().unwrap().push_str(&text);
            }
            Ok(quick_xml::events::Event::GeneralRef(r)) if in_title => {
                let name = String::from_utf8(r.to_vec()).unwrap();
                let c = match name.as_str() {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("entity {other} in an inferno title"),
                };
                titles.last_mut().unwrap().push_str(c);
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("inferno's SVG is not well-formed: {e}"),
        }
    }
    titles
}

/// `n` with thousands separators, as inferno prints counts.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn html_is_well_formed_self_contained_and_has_one_chart_per_scope() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.html");
    let printed = ok(&["html", &fixture_str(), "-o", out.to_str().unwrap()]);
    assert_eq!(printed, "", "the page goes to the file, not stdout");
    let page = std::fs::read_to_string(&out).unwrap();
    assert_eq!(ok(&["html", &fixture_str(), "-o", "-"]), page);

    let mut reader = quick_xml::Reader::from_str(&page);
    reader.config_mut().check_end_names = true;
    let (mut svgs, mut depth, mut max_depth) = (0, 0i32, 0);
    let mut elements = std::collections::BTreeSet::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                if name == "svg" {
                    svgs += 1;
                }
                elements.insert(name);
                depth += 1;
                max_depth = max_depth.max(depth);
            }
            Ok(quick_xml::events::Event::Empty(e)) => {
                elements.insert(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed at byte {}: {e}", reader.buffer_position()),
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    assert!(max_depth > 3);
    let dump = fixture_dump();
    let scopes = dump.scopes.len();
    // Per scope its live bytes and its allocation and free rates; then the process chart.
    assert_eq!(
        svgs,
        2 * scopes + 1,
        "two charts per scope and the process chart"
    );
    assert_eq!(page.matches("<svg").count(), 2 * scopes + 1);
    for s in &dump.scopes {
        let rates = format!("aria-label=\"allocation and free rates of {}", s.name);
        assert_eq!(page.matches(&rates).count(), 1, "{}", s.name);
    }
    // The rate charts are secondary: 100 units high (a 62-unit plot, tick labels, no caption)
    // where a bytes chart and the process chart are 240 and more (186, caption, label lanes).
    let heights: Vec<f64> = page
        .split("viewBox=\"0 0 960 ")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect();
    assert_eq!(heights.len(), 2 * scopes + 1);
    for (i, pair) in heights[..2 * scopes].chunks(2).enumerate() {
        assert!(pair[0] >= 240.0, "{}: {pair:?}", dump.scopes[i].name);
        assert_eq!(pair[1], 100.0, "{}", dump.scopes[i].name);
    }
    assert_eq!(heights[2 * scopes], 240.0);
    assert_eq!(page.matches(">time (UTC)<").count(), scopes + 1);
    assert_eq!(
        page.matches("aria-label=\"process memory and memory pressure over time\"")
            .count(),
        1
    );
    for legend in ["allocated / s", "freed / s"] {
        assert_eq!(page.matches(legend).count(), scopes, "{legend}");
    }
    for legend in [
        "</i>RSS<",
        "memory stall, some (avg10)",
        "memory stall, full (avg10)",
    ] {
        assert_eq!(page.matches(legend).count(), 1, "{legend}");
    }
    for e in ["script", "link", "img", "iframe", "object", "embed"] {
        assert!(!elements.contains(e), "<{e}> in a self-contained page");
    }
    for fetch in ["src=", "href=", "url(", "@import"] {
        assert!(!page.contains(fetch), "{fetch} in a self-contained page");
    }
    for needle in [
        "polyline",
        "<title>",
        "time (UTC)",
        "gradual growth",
        "record_event",
    ] {
        assert!(page.contains(needle), "no {needle:?} in the page");
    }
}

#[test]
fn html_escapes_text_from_the_dump() {
    let mut dump = fixture_dump();
    dump.scopes[0].name = "<script>alert(1)</script>&\"'".into();
    dump.leaks[0].finding.summary = "</td><img src=x onerror=alert(1)>".into();
    dump.scopes[1].name = "non\u{fffe}\u{ffff}char".into();
    dump.scopes[2].name = "users\u{202e}ehcac\u{200b}".into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.json");
    std::fs::write(&path, serde_json::to_string(&dump).unwrap()).unwrap();
    let page = ok(&["html", path.to_str().unwrap(), "-o", "-"]);
    assert!(!page.contains("<script>"));
    assert!(!page.contains("<img"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"));
    // Non-characters that XML 1.0 excludes are shown escaped, as the report shows them.
    assert!(
        !page.contains(['\u{fffe}', '\u{ffff}']),
        "a non-character in the page"
    );
    assert!(page.contains("non\\u{fffe}\\u{ffff}char"));
    // A right-to-left override would show this name as "userscache" (issue 15: names that
    // impersonate); it is shown escaped, as in the report.
    assert!(
        !page.contains(['\u{202e}', '\u{200b}']),
        "an invisible character"
    );
    assert!(page.contains("users\\u{202e}ehcac\\u{200b}"));
    let mut reader = quick_xml::Reader::from_str(&page);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed: {e}"),
        }
    }
}

/// Issue 11: a leak whose memory was freed before the dump keeps the call site it had at its
/// peak, and the report names it with the peak's bytes.
#[test]
fn a_freed_leak_shows_its_site_at_peak() {
    let mut dump = fixture_dump();
    let leak = dump
        .leaks
        .iter_mut()
        .find(|l| !l.finding.top_sites.is_empty())
        .unwrap();
    let site = leak.finding.top_sites[0].clone();
    let function = site.frames[0].function.clone().unwrap();
    leak.finding.top_sites.clear();
    leak.sites_at_peak = vec![site];
    leak.peak_bytes = 987_654_321;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("freed.json");
    std::fs::write(&path, serde_json::to_string(&dump).unwrap()).unwrap();
    let report = ok(&["report", path.to_str().unwrap()]);
    let at = report
        .find("the scope held 987.7 MB at the leak's peak")
        .unwrap_or_else(|| panic!("{report}"));
    let after = &report[at..];
    let short = function.rsplit("::").next().unwrap();
    assert!(after.contains(short), "{report}");
}

/// Issue 14 (and 12): two sites whose stacks differ only in return addresses that resolve to
/// the same lines are one row, with their bytes summed, in the page, the report and the folded
/// stacks.
#[test]
fn identical_call_sites_are_one_row_everywhere() {
    let mut dump = fixture_dump();
    let record = |s: &leakscope::leaks::CallSite| {
        s.frames[0].function.as_deref() == Some("photo_api::session::SessionStore::record_event")
    };
    let original = dump
        .top_call_sites
        .iter()
        .find(|s| record(s))
        .unwrap()
        .clone();
    let mut twin = original.clone();
    for f in twin.frames.iter_mut().filter(|f| f.function.is_some()) {
        f.addr += 8;
    }
    twin.live_bytes = 1_000_000;
    dump.top_call_sites.push(twin.clone());
    let leak = dump
        .leaks
        .iter_mut()
        .find(|l| l.finding.top_sites.iter().any(record))
        .unwrap();
    leak.finding.top_sites.push(twin);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twins.json");
    std::fs::write(&path, serde_json::to_string(&dump).unwrap()).unwrap();
    let p = path.to_str().unwrap();
    let merged = original.live_bytes + 1_000_000;
    let shown = leakscope::dump::units::bytes(merged as f64);

    let page = ok(&["html", p, "-o", "-"]);
    let rows = page
        .matches("<td class=\"callsite\"><code>photo_api::<wbr/>session::")
        .count();
    assert_eq!(rows, 1, "{page}");
    assert!(
        page.contains(&format!("{shown} live")),
        "the leak's site: {shown}"
    );
    let report = ok(&["report", p]);
    assert_eq!(
        report.matches("SessionStore::record_event").count(),
        ok(&["report", &fixture_str()])
            .matches("SessionStore::record_event")
            .count(),
        "{report}"
    );
    assert!(
        report.contains(&format!("{shown} at photo_api::session::")),
        "{report}"
    );
    let folded = ok(&["collapsed", p, "--lines"]);
    assert!(
        folded.contains(&format!("(src/session.rs:88) {merged}\n")),
        "{folded}"
    );
    assert_eq!(folded.lines().count(), dump.top_call_sites.len() - 1);
}

#[test]
fn prom_is_a_valid_exposition() {
    let text = ok(&["prom", &fixture_str()]);
    let samples = cli::prom_check::check(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(samples > 30, "{samples} samples");
    assert!(text.contains("leakscope_scope_bytes{scope=\"sessions\"}"));
    assert_eq!(text, leakscope::dump::prometheus_text(&fixture_dump()));
}

/// The exposition as Prometheus's own linter and the Python client's parser read it: valid,
/// every scope's bytes exact, every sample line one sample.
#[test]
fn prom_passes_promtool_and_the_python_parser() {
    let text = ok(&["prom", &fixture_str()]);
    if client("promtool", &["--version"]) {
        run_client("promtool", &["check", "metrics"], text.as_bytes());
    }
    if !client("python3", &["-c", "import prometheus_client"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leakscope.prom");
    std::fs::write(&path, &text).unwrap();
    let samples = python_samples(&path);
    let lines = text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(samples.len(), lines, "{samples:#?}");
    let dump = fixture_dump();
    for scope in &dump.scopes {
        let bytes = format!(
            "leakscope_scope_bytes{{scope='{}'}} {}.0",
            scope.name, scope.stats.curr_bytes
        );
        assert!(samples.contains(&bytes), "{bytes} not in {samples:#?}");
    }
    for leak in dump.open_leaks() {
        if let Some(secs) = leak.finding.time_to_budget_secs {
            let ttb = format!(
                "leakscope_leak_time_to_budget_seconds{{scope='{}',type='{}'}} {secs:?}",
                leak.finding.scope,
                snake(&format!("{:?}", leak.finding.leak_type))
            );
            assert!(samples.contains(&ttb), "{ttb} not in {samples:#?}");
        }
    }
    // Churn and pressure, exactly as the dump has them.
    let window = dump.config.rapid_growth_window_minutes * 60.0;
    for scope in &dump.scopes {
        let ratio = scope.churn(window).and_then(|c| c.free_ratio).unwrap();
        let line = format!(
            "leakscope_scope_free_ratio{{scope='{}'}} {ratio:?}",
            scope.name
        );
        assert!(samples.contains(&line), "{line} not in {samples:#?}");
        let age = scope.history.last().unwrap().live_older_than().unwrap();
        let line = format!(
            "leakscope_scope_live_older_than_ratio{{older_than_intervals='10',scope='{}'}} {:?}",
            scope.name, age[1]
        );
        assert!(samples.contains(&line), "{line} not in {samples:#?}");
    }
    let pressure = dump
        .process_history
        .last()
        .unwrap()
        .pressure
        .clone()
        .unwrap();
    let psi = pressure.psi.unwrap();
    for line in [
        format!(
            "leakscope_memory_stall_ratio{{kind='some',source='cgroup',window='10s'}} {:?}",
            (psi.some.avg10 * 100.0).round() / 10_000.0
        ),
        format!(
            "leakscope_process_major_faults_total{{}} {:?}",
            pressure.major_faults.unwrap() as f64
        ),
        format!(
            "leakscope_cgroup_memory_events_total{{event='high'}} {:?}",
            pressure.cgroup.unwrap().events.unwrap().high as f64
        ),
    ] {
        assert!(samples.contains(&line), "{line} not in {samples:#?}");
    }
}

/// The heap profile as `go tool pprof -raw` decodes it: one sample per call site with the
/// site's exact bytes and blocks and its scope as the label, every frame named.
#[test]
fn pprof_is_read_by_go_tool_pprof_with_the_bytes_of_every_site() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heap.pb.gz");
    ok(&["pprof", &fixture_str(), "-o", path.to_str().unwrap()]);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..2], [0x1f, 0x8b], "gzipped");
    if !client("go", &["version"]) {
        return;
    }
    let raw = run_client(
        "go",
        &["tool", "pprof", "-raw", path.to_str().unwrap()],
        b"",
    );
    assert!(
        raw.contains("inuse_objects/count inuse_space/bytes[dflt]"),
        "{raw}"
    );
    // "      54882  112400000: 1 2 3 4 5 " then "                scope:[sessions]"
    let mut samples: Vec<(String, u64, u64)> = Vec::new();
    let mut lines = raw
        .lines()
        .skip_while(|l| !l.starts_with("Samples:"))
        .skip(2);
    while let Some(line) = lines.next() {
        let Some((values, _)) = line.split_once(':') else {
            break;
        };
        let v: Vec<u64> = values
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        let label = lines.next().unwrap().trim();
        let scope = label
            .strip_prefix("scope:[")
            .and_then(|l| l.strip_suffix(']'))
            .unwrap_or_else(|| panic!("{label:?}"));
        samples.push((scope.to_owned(), v[1], v[0]));
    }
    let dump = fixture_dump();
    let mut expected: Vec<(String, u64, u64)> = dump
        .top_call_sites
        .iter()
        .map(|s| (s.scope.clone(), s.live_bytes, s.live_blocks))
        .collect();
    expected.sort();
    samples.sort();
    assert_eq!(samples, expected, "{raw}");
    for site in &dump.top_call_sites {
        let f = &site.frames[0];
        // pprof shortens generic names on the line and gives the full one after it.
        let function = f.function.as_deref().unwrap();
        let place = format!("{}:{}", f.file.as_deref().unwrap(), f.line.unwrap());
        let line = raw.lines().find(|l| l.contains(&place));
        assert!(
            line.is_some_and(|l| l.contains(function)),
            "{function} {place} not in {raw}"
        );
    }
}

/// `GradualGrowth` as `gradual_growth`, the leak type as Prometheus labels spell it.
fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Hostile scope names (issue 15 item 6): a raw carriage return, a backslash spelling of one, a
/// quote, a newline, a terminal escape and a non-character each stay one series, read back by
/// promtool and by a parser that opens the file in text mode, with no two series alike.
#[test]
fn hostile_scope_names_stay_one_series_each_for_real_readers() {
    let names = [
        "a\rb",
        "a\\rb",
        "quote\"",
        "line\nfeed",
        "esc\u{1b}[31m",
        "non\u{fffe}char",
        "back\\slash",
    ];
    let mut dump = fixture_dump();
    let template = dump.scopes[0].clone();
    dump.scopes.resize(names.len(), template);
    for (scope, name) in dump.scopes.iter_mut().zip(names) {
        scope.name = name.to_owned();
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("hostile.json");
    std::fs::write(&json, serde_json::to_string(&dump).unwrap()).unwrap();
    let text = ok(&["prom", json.to_str().unwrap()]);
    assert!(!text.contains('\r'), "a raw carriage return: {text:?}");
    if client("promtool", &["--version"]) {
        run_client("promtool", &["check", "metrics"], text.as_bytes());
    }
    if !client("python3", &["-c", "import prometheus_client"]) {
        return;
    }
    let path = dir.path().join("hostile.prom");
    std::fs::write(&path, &text).unwrap();
    let samples = python_samples(&path);
    let bytes: std::collections::BTreeSet<&String> = samples
        .iter()
        .filter(|s| s.starts_with("leakscope_scope_bytes{"))
        .collect();
    assert_eq!(bytes.len(), names.len(), "{bytes:#?}");
    assert_eq!(
        samples.len(),
        text.lines().filter(|l| !l.starts_with('#')).count()
    );
}

/// A copy of the fixture where `interner` gained 200 MB and its call site 150 MB, ten minutes
/// later.
fn grown_dump(dir: &Path) -> PathBuf {
    let mut dump = fixture_dump();
    dump.written_at_unix += 600.0;
    dump.clock_secs += 600.0;
    let interner = dump
        .scopes
        .iter_mut()
        .find(|s| s.name == "interner")
        .unwrap();
    interner.stats.curr_bytes += 200_000_000;
    let site = dump
        .top_call_sites
        .iter_mut()
        .find(|s| s.scope == "interner")
        .unwrap();
    site.live_bytes += 150_000_000;
    let path = dir.join("later.json");
    std::fs::write(&path, serde_json::to_string(&dump).unwrap()).unwrap();
    path
}

#[test]
fn diff_ranks_the_grown_scope_and_site_first() {
    let dir = tempfile::tempdir().unwrap();
    let later = grown_dump(dir.path());
    let text = ok(&["diff", &fixture_str(), later.to_str().unwrap()]);
    golden("diff.txt", &text);
    let first_row = text
        .lines()
        .skip_while(|l| !l.starts_with("SCOPES THAT GREW"))
        .nth(2)
        .unwrap();
    assert!(first_row.trim_start().starts_with("interner "), "{text}");
    assert!(first_row.contains("+200.0 MB"), "{text}");
    assert!(
        text.contains("same process (pid 31337), 10 min apart"),
        "{text}"
    );

    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "diff",
        &fixture_str(),
        later.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(json["scopes"][0]["name"], "interner");
    assert_eq!(json["scopes"][0]["change_bytes"], 200_000_000);
    assert_eq!(json["scopes"][0]["rate_bytes_per_min"], 20_000_000.0);
    assert_eq!(json["call_sites"][0]["scope"], "interner");
    assert_eq!(json["call_sites"][0]["change_bytes"], 150_000_000);
    // A dump compared with itself: nothing grew.
    let same = ok(&["diff", &fixture_str(), &fixture_str()]);
    assert!(same.contains("SCOPES THAT GREW  0"), "{same}");
}

fn open_leaks(json: &serde_json::Value) -> Vec<(String, String)> {
    json["leaks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["status"] == "Open")
        .map(|l| {
            (
                l["scope"].as_str().unwrap().to_owned(),
                l["leak_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn analyze_with_other_thresholds_changes_the_verdict() {
    let parse = |args: &[&str]| -> serde_json::Value {
        serde_json::from_str(&ok(args)).expect("analyze --json prints JSON")
    };
    let f = fixture_str();
    let default = parse(&["analyze", &f, "--json"]);
    let found = open_leaks(&default);
    assert!(
        found.contains(&("sessions".into(), "GradualGrowth".into())),
        "{found:?}"
    );
    // The dump's own settings reproduce the dump's open leaks.
    let recorded: Vec<(String, String)> = fixture_dump()
        .open_leaks()
        .map(|l| {
            (
                l.finding.scope.clone(),
                format!("{:?}", l.finding.leak_type),
            )
        })
        .collect();
    for leak in &recorded {
        assert!(found.contains(leak), "{leak:?} not replayed: {found:?}");
    }
    // A 1 MB/min leak is no leak for someone who only cares about 500 MB or 50 MB/min and sets
    // no budget (a budget reached within a day is a reason to report at any threshold).
    let lenient = parse(&[
        "analyze",
        &f,
        "--set",
        "memory_growth_threshold_mb=500",
        "--set",
        "growth_rate_threshold_mb_per_min=50",
        "--set",
        "budgets=none",
        "--json",
    ]);
    let found = open_leaks(&lenient);
    assert!(
        !found.contains(&("sessions".into(), "GradualGrowth".into())),
        "{found:?}"
    );
    assert_eq!(
        lenient["config"]["memory_growth_threshold_mb"], 500.0,
        "the settings are applied"
    );
    let text = ok(&["analyze", &f, "--set", "memory_growth_threshold_mb=500"]);
    assert!(
        text.contains("with memory_growth_threshold_mb=500"),
        "{text}"
    );
    assert!(text.contains("OPEN LEAKS"), "{text}");
}

#[test]
fn analyze_refuses_bad_settings_in_one_line() {
    for (set, words) in [
        ("no_such_setting=1", "unknown setting"),
        (
            "memory_growth_threshold_mb=lots",
            "memory_growth_threshold_mb",
        ),
        ("justakey", "expected key=value"),
        // Valid alone, invalid with the dump's 30 s interval: windows must span two intervals.
        ("detection_window_minutes=0.5", "detection_window_minutes"),
    ] {
        let o = run(&["analyze", &fixture_str(), "--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("leakscope: "), "{err}");
        assert!(err.contains(words), "{set}: {err}");
        assert!(o.stdout.is_empty());
    }
}

/// Runs every subcommand that reads a dump on `path` and checks that each prints exactly one
/// line naming the file and containing `problem`, and exits 2.
fn refuses(path: &Path, problem: &str) {
    let p = path.to_str().unwrap();
    let f = fixture_str();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("out.html");
    let html = html.to_str().unwrap();
    let invocations: Vec<Vec<&str>> = vec![
        vec!["report", p],
        vec!["html", p, "-o", html],
        vec!["diff", p, &f],
        vec!["diff", &f, p],
        vec!["analyze", p],
        vec!["collapsed", p],
        vec!["prom", p],
    ];
    for args in invocations {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err:?}");
        assert!(err.ends_with('\n'));
        assert!(err.starts_with("leakscope: "), "{args:?}: {err}");
        assert!(err.contains(p), "{args:?}: does not name the file: {err}");
        assert!(err.contains(problem), "{args:?}: no {problem:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(o.stdout.is_empty(), "{args:?} printed to stdout");
    }
    assert!(!Path::new(html).exists(), "a failed html left a file");
}

#[test]
fn bad_input_is_one_line_and_exit_code_two() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str, content: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    let json = std::fs::read_to_string(fixture()).unwrap();

    refuses(
        &dir.path().join("missing.json"),
        "No such file or directory",
    );
    refuses(dir.path(), "cannot read dump");
    refuses(&at("empty.json", b""), "is empty");
    refuses(&at("blank.json", b"  \n"), "is empty");
    refuses(&at("text.json", b"leakscope report\n"), "is not JSON");
    refuses(&at("binary.json", b"\xff\xfe\x00\x01"), "is not JSON");
    refuses(
        &at("truncated.json", &json.as_bytes()[..json.len() / 2]),
        "is truncated",
    );
    refuses(&at("array.json", b"[1, 2, 3]"), "not an object");
    refuses(&at("other.json", br#"{"name": "x"}"#), "no schema_version");
    let v3 = json.replacen(
        &format!(
            "\"schema_version\": \"{}\"",
            leakscope::dump::SCHEMA_VERSION
        ),
        "\"schema_version\": \"3.0\"",
        1,
    );
    assert_ne!(v3, json);
    refuses(
        &at("v3.json", v3.as_bytes()),
        "schema version 3.0, but this leakscope (0.1.0) reads major versions 1 to 2 (it writes 2.0)",
    );
    // Hostile sizes: a byte count past u64, a negative count, a huge pid, deep nesting.
    let huge = json.replacen(
        "\"curr_bytes\": ",
        "\"curr_bytes\": 99999999999999999999",
        1,
    );
    refuses(&at("huge.json", huge.as_bytes()), "expected u64");
    let negative = json.replacen("\"curr_bytes\": ", "\"curr_bytes\": -", 1);
    refuses(&at("negative.json", negative.as_bytes()), "expected u64");
    let pid = json.replacen("\"pid\": 31337", "\"pid\": 1e300", 1);
    refuses(&at("pid.json", pid.as_bytes()), "pid");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    refuses(&at("deep.json", deep.as_bytes()), "not a leakscope dump");
    let deep = format!(
        "{{\"schema_version\": \"1.0\", \"x\": {}1{}}}",
        "{\"a\":".repeat(100_000),
        "}".repeat(100_000)
    );
    refuses(
        &at("deep_object.json", deep.as_bytes()),
        "does not match the leakscope dump format",
    );
    // A hostile message stays one line and carries no terminal escape.
    let escape = json.replacen("\"GradualGrowth\"", "\"Gradual\\n\\u001b[2JGrowth\"", 1);
    refuses(&at("escape.json", escape.as_bytes()), "unknown variant");
    let o = run(&["report", dir.path().join("escape.json").to_str().unwrap()]);
    assert!(!stderr(&o).contains('\u{1b}'));
}

#[test]
fn a_dump_with_out_of_order_history_is_refused_by_analyze_not_a_panic() {
    let mut dump = fixture_dump();
    dump.scopes[0].history.reverse();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disorder.json");
    std::fs::write(&path, serde_json::to_string(&dump).unwrap()).unwrap();
    let p = path.to_str().unwrap();
    let o = run(&["analyze", p]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(p) && err.contains(&dump.scopes[0].name),
        "{err}"
    );
    // The other commands draw it as it is.
    ok(&["report", p]);
    ok(&["html", p, "-o", "-"]);
}

#[test]
fn an_unwritable_html_output_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no/such/dir/page.html");
    let o = run(&["html", &fixture_str(), "-o", out.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(out.to_str().unwrap()), "{err}");
}

#[test]
fn usage_errors_exit_two_and_help_exits_zero() {
    let o = run(&["report"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("DUMP"), "{}", stderr(&o));
    let o = run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    let help = ok(&["--help"]);
    for cmd in ["report", "html", "diff", "analyze", "collapsed", "prom"] {
        assert!(help.contains(cmd), "{cmd} missing from --help:\n{help}");
    }
    assert!(ok(&["--version"]).starts_with("leakscope "));
}

/// A dump whose report is far larger than a pipe's buffer, so the writer must meet the closed
/// pipe whatever the timing.
fn big_dump(dir: &Path) -> PathBuf {
    let mut dump = fixture_dump();
    let template = dump.scopes[0].clone();
    dump.scopes = (0..3000)
        .map(|i| {
            let mut s = template.clone();
            s.name = format!("scope_{i:04}");
            s.history.truncate(3);
            s
        })
        .collect();
    let path = dir.join("big.json");
    std::fs::write(&path, serde_json::to_string(&dump).unwrap()).unwrap();
    path
}

#[test]
fn a_closed_pipe_is_a_quiet_success() {
    let dir = tempfile::tempdir().unwrap();
    let big = big_dump(dir.path());
    for args in [vec!["report"], vec!["html", "-o", "-"], vec!["prom"]] {
        let mut child = Command::new(BIN)
            .args(&args[..1])
            .arg(&big)
            .args(&args[1..])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read one line, as `| head -1` does, then hang up.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        let _ = std::io::Read::read(&mut stdout, &mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    // Through a shell, as a person types it.
    let script = format!("set -o pipefail; {BIN} report {} | head -1", big.display());
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1);
    assert_eq!(stderr(&o), "");
}

/// Values at the edges of what the format allows: every command still renders, none panics.
#[test]
fn extreme_but_valid_dumps_render_without_panicking() {
    let mut dump = fixture_dump();
    dump.written_at_unix = 1e300;
    dump.clock_secs = -1e300;
    dump.process.start_time_unix = Some(f64::MAX);
    dump.process.rss_bytes = Some(u64::MAX);
    dump.process.cgroup_limit_bytes = Some(0);
    dump.tracker.self_bytes = u64::MAX;
    dump.config.detection_window_minutes = 1e308;
    for scope in &mut dump.scopes {
        scope.stats.curr_bytes = u64::MAX;
        scope.stats.max_bytes = 0;
        scope.budget_bytes = Some(1);
        scope.entries = Some(u64::MAX);
    }
    dump.scopes[0].history.clear();
    dump.scopes[1].history.truncate(1);
    for (i, s) in dump.scopes[2].history.iter_mut().enumerate() {
        s.t = i as f64 * 1e300;
        s.curr_bytes = u64::MAX - i as u64;
        s.entries = Some(u64::MAX);
    }
    for leak in &mut dump.leaks {
        leak.finding.window = [1e308, -1e308];
        leak.finding.confidence = -5.0;
        leak.finding.rate_bytes_per_min = 1e308;
        leak.finding.time_to_budget_secs = Some(1e308);
        leak.finding.growth_bytes = i64::MIN;
        leak.finding.statistics.push(leakscope::leaks::Statistic {
            name: "x\u{7}_bytes".into(),
            value: -1e308,
        });
    }
    for site in &mut dump.top_call_sites {
        site.live_bytes = u64::MAX;
        site.frames.clear();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("extreme.json");
    std::fs::write(&path, serde_json::to_string(&dump).unwrap()).unwrap();
    let p = path.to_str().unwrap();
    let f = fixture_str();
    for args in [
        vec!["report", p],
        vec!["--color", "always", "report", p],
        vec!["html", p, "-o", "-"],
        vec!["diff", &f, p],
        vec!["diff", p, &f, "--json"],
        vec!["collapsed", p],
        vec!["prom", p],
    ] {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // analyze may refuse the dump's config (a window of 1e308 minutes), but in one line.
    let o = run(&["analyze", p]);
    let err = stderr(&o);
    assert!(matches!(o.status.code(), Some(0 | 2)), "{err}");
    assert!(
        !err.contains("panicked") && err.lines().count() <= 1,
        "{err}"
    );
}

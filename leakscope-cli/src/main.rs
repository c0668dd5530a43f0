//! `leakscope`: reads the dump a program using leakscope writes, and turns it into something a
//! person reads and looks at.
//!
//! ```text
//! leakscope report DUMP                  terminal report: scopes, leaks, call sites
//! leakscope html DUMP -o FILE            one self-contained HTML page with a chart per scope
//! leakscope diff OLD NEW [--json]        scopes and call sites that grew between two dumps
//! leakscope analyze DUMP --set K=V [--json]   re-run the detectors with other settings
//! leakscope collapsed DUMP [--lines]     folded stacks for inferno / flamegraph.pl / speedscope
//! leakscope pprof DUMP -o FILE           gzipped pprof heap profile for go tool pprof
//! leakscope prom DUMP                    Prometheus text exposition
//! ```
//!
//! Like ripgrep's binary, this one only glues the library to the terminal: `args` turns flags
//! into checked [`Args`], each renderer is a pure function from a dump to a `String`, and only
//! this file reads files, writes output and picks the exit code.
//!
//! Exit codes: 0 on success, and also when the reader of stdout goes away (`| head -1`), as
//! ripgrep does; 2 for bad input or bad arguments, after exactly one line on stderr that starts
//! with `leakscope: ` and names the file and the problem.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod analyze;
mod args;
mod churn;
mod collapsed;
mod diff;
mod fmt;
mod html;
mod report;
mod sites;
mod style;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use leakscope::dump::{self, Dump};

use args::{Args, Env};

/// Why a command stopped early.
enum Failure {
    /// Something the user must fix: one line for stderr, exit code 2.
    Message(String),
    /// stdout was closed by its reader: not an error for a command-line filter.
    BrokenPipe,
}

impl From<io::Error> for Failure {
    /// Only writing to stdout produces a bare `io::Error` here; file errors carry their path.
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Message(format!("cannot write to stdout: {e}"))
        }
    }
}

fn main() -> ExitCode {
    let raw = match Args::parse_from(std::env::args_os()) {
        Ok(raw) => raw,
        // clap prints usage errors to stderr (exit 2) and --help/--version to stdout (exit 0).
        Err(e) => {
            let code = e.exit_code();
            // A closed stdout or stderr while printing help is not worth a panic.
            let _ = e.print();
            return ExitCode::from(u8::try_from(code).unwrap_or(2));
        }
    };
    let outcome = Args::from_raw(raw, Env::current())
        .map_err(Failure::Message)
        .and_then(run);
    match outcome {
        Ok(()) | Err(Failure::BrokenPipe) => ExitCode::SUCCESS,
        Err(Failure::Message(m)) => {
            // Not eprintln!: it panics when stderr is closed, and this path must not panic.
            let _ = writeln!(io::stderr().lock(), "leakscope: {m}");
            ExitCode::from(2)
        }
    }
}

/// Reads a dump. The library's messages already name the file and the problem on one line
/// ("dump x.json is truncated: …"), as docs/dump-format.md documents them.
/// Identical call sites are merged here, once, for every command (see `sites`).
fn read(path: &Path) -> Result<Dump, Failure> {
    let mut dump = dump::read_dump(path).map_err(|e| Failure::Message(e.to_string()))?;
    sites::merge_identical(&mut dump);
    Ok(dump)
}

fn stdout(text: &str) -> Result<(), Failure> {
    output_to(None, text.as_bytes())
}

/// Writes `bytes` to the file `path`, or to stdout for `None`. A file is written atomically and
/// privately like the dump itself: a page or profile names code paths, and a reader reloading it
/// never sees half of it.
fn output_to(path: Option<std::path::PathBuf>, bytes: &[u8]) -> Result<(), Failure> {
    match path {
        None => {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
        Some(path) => dump::write_atomic(&path, dump::DUMP_MODE, |w| w.write_all(bytes))
            .map_err(|e| Failure::Message(e.to_string())),
    }
}

fn json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::Message(format!("cannot encode JSON: {e}")))?;
    text.push('\n');
    stdout(&text)
}

fn run(args: Args) -> Result<(), Failure> {
    match args {
        Args::Report { dump, style } => stdout(&report::render(&read(&dump)?, style)),
        Args::Html { dump, output } => output_to(output, html::render(&read(&dump)?).as_bytes()),
        // A dump does not carry the process's mappings: the profile's frames are resolved.
        Args::Pprof { dump, output } => output_to(output, &dump::pprof_profile(&read(&dump)?, &[])),
        Args::Diff {
            old,
            new,
            json: as_json,
            style,
        } => {
            let d = diff::compare(&read(&old)?, &read(&new)?);
            if as_json {
                json(&d)
            } else {
                stdout(&diff::render(&d, style))
            }
        }
        Args::Analyze {
            dump: path,
            settings,
            json: as_json,
            style,
        } => {
            let dump = read(&path)?;
            let analysis = analyze::run(&dump, &settings)
                .map_err(|m| Failure::Message(format!("dump {}: {m}", path.display())))?;
            if as_json {
                json(&analysis)
            } else {
                stdout(&analyze::render(&dump, &analysis, style))
            }
        }
        Args::Collapsed { dump, lines } => {
            let d = read(&dump)?;
            if d.top_call_sites.is_empty() {
                let _ = writeln!(
                    io::stderr().lock(),
                    "leakscope: note: dump {} has no sampled call sites (sampling off with \
                     sample_interval_bytes = 0, or nothing sampled yet)",
                    dump.display()
                );
            }
            stdout(&collapsed::render(&d, lines))
        }
        Args::Prom { dump } => stdout(&dump::prometheus_text(&read(&dump)?)),
    }
}

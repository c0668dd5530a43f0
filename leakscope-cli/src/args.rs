//! Command-line arguments, in two steps (as ripgrep does): clap parses the raw flags into
//! [`RawArgs`], then [`Args::from_raw`] checks them and resolves everything that depends on the
//! environment (whether stdout is a terminal and how wide, `NO_COLOR`, `COLUMNS`) into plain
//! decisions. The commands
//! then run on [`Args`] alone and never look at flags or the environment again.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use leakscope::Config;

use crate::style::{Style, DEFAULT_WIDTH, MAX_WIDTH, MIN_WIDTH};

/// Reads leakscope dump files: reports, charts, diffs, offline re-analysis and exports.
///
/// A program using leakscope writes a JSON dump (`leakscope.json` by default); every command
/// here reads one. Exit codes: 0 on success (also when the reader of the output goes away, as
/// with `| head`), 2 on bad input or bad arguments.
#[derive(Debug, Parser)]
#[command(name = "leakscope", version, max_term_width = 100)]
pub struct RawArgs {
    /// When to colour the output: `auto` colours a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true, value_name = "WHEN")]
    color: ColorWhen,
    /// Never colour the output (the same as `--color never`).
    #[arg(long, global = true)]
    no_color: bool,
    /// Columns the text of `report`, `diff` and `analyze` fits in (40 to 1000). Without it:
    /// COLUMNS when set to a number, else the terminal's width, else 100.
    #[arg(long, global = true, value_name = "N",
          value_parser = clap::value_parser!(u16).range(MIN_WIDTH as i64..=MAX_WIDTH as i64))]
    width: Option<u16>,
    #[command(subcommand)]
    command: RawCommand,
}

/// `--color`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ColorWhen {
    /// Colour when stdout is a terminal and NO_COLOR is unset or empty.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

#[derive(Debug, Subcommand)]
enum RawCommand {
    /// The terminal report: process, scopes ranked by growth with sparklines, open leaks with
    /// evidence, time to budget, call sites and what to do, resolved leaks, top call sites.
    Report {
        /// The dump file.
        dump: PathBuf,
    },
    /// One self-contained HTML page: a chart per scope (bytes and entries over time, leak
    /// windows shaded), the leak table and the call sites. Loads nothing from the network.
    Html {
        /// The dump file.
        dump: PathBuf,
        /// Where to write the page (`-` for stdout).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Scopes and call sites that grew between two dumps, largest growth first.
    Diff {
        /// The older dump.
        old: PathBuf,
        /// The newer dump.
        new: PathBuf,
        /// Print JSON instead of text (the format is in docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Re-runs the leak detectors over the dump's history with other settings and prints the
    /// leaks they find.
    Analyze {
        /// The dump file.
        dump: PathBuf,
        /// A setting to change from the dump's config, as in LEAKSCOPE (`key=value`, or several
        /// separated by commas); repeatable, later ones win. Example:
        /// `--set memory_growth_threshold_mb=10`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// Print JSON instead of text (the format is in docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Sampled live memory as folded stacks (`scope;outermost;…;innermost bytes`), for
    /// inferno-flamegraph, flamegraph.pl or speedscope.
    Collapsed {
        /// The dump file.
        dump: PathBuf,
        /// Frames as `function (file:line)`, so a flame graph's leaf names the line.
        #[arg(long)]
        lines: bool,
    },
    /// The dump's call sites as a gzipped pprof heap profile (inuse_objects, inuse_space; the
    /// scope as a label), for `go tool pprof` and continuous profilers.
    Pprof {
        /// The dump file.
        dump: PathBuf,
        /// Where to write the profile (`-` for stdout).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// The dump's figures in the Prometheus text exposition format.
    Prom {
        /// The dump file.
        dump: PathBuf,
    },
}

/// What to do, checked.
#[derive(Debug, PartialEq)]
pub enum Args {
    /// `report`.
    Report {
        /// The dump.
        dump: PathBuf,
        /// Colours or not.
        style: Style,
    },
    /// `html`.
    Html {
        /// The dump.
        dump: PathBuf,
        /// The page's path; `None` for stdout.
        output: Option<PathBuf>,
    },
    /// `diff`.
    Diff {
        /// The older dump.
        old: PathBuf,
        /// The newer dump.
        new: PathBuf,
        /// JSON instead of text.
        json: bool,
        /// Colours or not (text only).
        style: Style,
    },
    /// `analyze`.
    Analyze {
        /// The dump.
        dump: PathBuf,
        /// `key=value` settings in the order given; each was checked against a default config.
        settings: Vec<String>,
        /// JSON instead of text.
        json: bool,
        /// Colours or not (text only).
        style: Style,
    },
    /// `collapsed`.
    Collapsed {
        /// The dump.
        dump: PathBuf,
        /// `function (file:line)` frames.
        lines: bool,
    },
    /// `pprof`.
    Pprof {
        /// The dump.
        dump: PathBuf,
        /// The profile's path; `None` for stdout.
        output: Option<PathBuf>,
    },
    /// `prom`.
    Prom {
        /// The dump.
        dump: PathBuf,
    },
}

/// What the environment says about colour and width, gathered once so [`Args::from_raw`]
/// stays testable.
#[derive(Clone, Copy, Debug)]
pub struct Env {
    /// stdout is a terminal.
    pub stdout_is_terminal: bool,
    /// `NO_COLOR` is set to something non-empty (<https://no-color.org>), or `TERM=dumb`.
    pub no_color: bool,
    /// `COLUMNS`, when it is a positive number (shells set it for the terminal they run in,
    /// and a user sets it to ask for a width through a pipe).
    pub columns: Option<usize>,
    /// The terminal's width in columns, when stdout is a terminal that says.
    pub terminal_width: Option<usize>,
}

impl Env {
    /// The process's environment.
    pub fn current() -> Env {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let stdout = std::io::stdout();
        let stdout_is_terminal = stdout.is_terminal();
        Env {
            stdout_is_terminal,
            no_color: set("NO_COLOR") || std::env::var_os("TERM").is_some_and(|t| t == "dumb"),
            columns: std::env::var("COLUMNS").ok().and_then(|c| columns(&c)),
            terminal_width: if stdout_is_terminal {
                terminal_size::terminal_size_of(&stdout).map(|(w, _)| usize::from(w.0))
            } else {
                None
            },
        }
    }

    /// The width of text output: `--width`, else `COLUMNS`, else the terminal's, else
    /// [`DEFAULT_WIDTH`]; held to what the renderers lay out for.
    fn width(&self, flag: Option<u16>) -> usize {
        flag.map(usize::from)
            .or(self.columns)
            .or(self.terminal_width.filter(|&w| w > 0))
            .unwrap_or(DEFAULT_WIDTH)
            .clamp(MIN_WIDTH, MAX_WIDTH)
    }
}

/// `COLUMNS` as a width: a positive decimal number, else nothing (an empty or garbled value
/// is ignored, as `ls` ignores it).
fn columns(value: &str) -> Option<usize> {
    value.trim().parse::<usize>().ok().filter(|&c| c > 0)
}

impl Args {
    /// Parses `argv` (program name first).
    ///
    /// # Errors
    /// clap's error for unknown or missing flags, and for `--help`/`--version` (which clap
    /// prints to stdout with exit code 0 when told to exit).
    pub fn parse_from(argv: impl IntoIterator<Item = OsString>) -> Result<RawArgs, clap::Error> {
        RawArgs::try_parse_from(argv)
    }

    /// Checks the raw flags and settles colour.
    ///
    /// # Errors
    /// A one-line message for an `--set` item that is not `key=value` or that names an unknown
    /// setting or a value out of range.
    pub fn from_raw(raw: RawArgs, env: Env) -> Result<Args, String> {
        let color = !raw.no_color
            && match raw.color {
                ColorWhen::Always => true,
                ColorWhen::Never => false,
                ColorWhen::Auto => env.stdout_is_terminal && !env.no_color,
            };
        let style =
            if color { Style::COLOR } else { Style::PLAIN }.with_width(env.width(raw.width));
        Ok(match raw.command {
            RawCommand::Report { dump } => Args::Report { dump, style },
            RawCommand::Html { dump, output } => Args::Html {
                dump,
                output: (output.as_os_str() != "-").then_some(output),
            },
            RawCommand::Diff { old, new, json } => Args::Diff {
                old,
                new,
                json,
                style,
            },
            RawCommand::Analyze {
                dump,
                settings,
                json,
            } => {
                // Each item is checked on its own now, so a typo fails before a large dump is
                // read; ranges that depend on the dump's other settings wait for `validate`.
                for item in &settings {
                    Config::default()
                        .set_many(item)
                        .map_err(|e| format!("--set {item}: {e}"))?;
                }
                Args::Analyze {
                    dump,
                    settings,
                    json,
                    style,
                }
            }
            RawCommand::Collapsed { dump, lines } => Args::Collapsed { dump, lines },
            RawCommand::Pprof { dump, output } => Args::Pprof {
                dump,
                output: (output.as_os_str() != "-").then_some(output),
            },
            RawCommand::Prom { dump } => Args::Prom { dump },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(argv: &[&str], env: Env) -> Result<Args, String> {
        let argv = std::iter::once("leakscope")
            .chain(argv.iter().copied())
            .map(OsString::from);
        Args::from_raw(Args::parse_from(argv).map_err(|e| e.to_string())?, env)
    }

    const TTY: Env = Env {
        stdout_is_terminal: true,
        no_color: false,
        columns: None,
        terminal_width: None,
    };
    const PIPE: Env = Env {
        stdout_is_terminal: false,
        no_color: false,
        columns: None,
        terminal_width: None,
    };

    fn style_of(a: Args) -> Style {
        match a {
            Args::Report { style, .. } => style,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn colour_follows_the_terminal_no_color_and_flags() {
        assert_eq!(style_of(args(&["report", "d"], TTY).unwrap()), Style::COLOR);
        assert_eq!(
            style_of(args(&["report", "d"], PIPE).unwrap()),
            Style::PLAIN
        );
        let no_color = Env {
            no_color: true,
            ..TTY
        };
        assert_eq!(
            style_of(args(&["report", "d"], no_color).unwrap()),
            Style::PLAIN
        );
        assert_eq!(
            style_of(args(&["report", "d", "--no-color"], TTY).unwrap()),
            Style::PLAIN
        );
        assert_eq!(
            style_of(args(&["--color", "always", "report", "d"], PIPE).unwrap()),
            Style::COLOR
        );
        assert_eq!(
            style_of(args(&["report", "d", "--color=never"], TTY).unwrap()),
            Style::PLAIN
        );
    }

    #[test]
    fn width_is_the_flag_then_columns_then_the_terminal_then_100() {
        let width = |argv: &[&str], env: Env| style_of(args(argv, env).unwrap()).width();
        let term = Env {
            terminal_width: Some(132),
            ..TTY
        };
        let both = Env {
            columns: Some(90),
            ..term
        };
        assert_eq!(width(&["report", "d"], PIPE), 100);
        assert_eq!(width(&["report", "d"], term), 132);
        assert_eq!(width(&["report", "d"], both), 90);
        assert_eq!(width(&["report", "d", "--width", "80"], both), 80);
        assert_eq!(width(&["--width=160", "report", "d"], PIPE), 160);
        // A tiny terminal or COLUMNS gets the narrowest layout; a tiny flag is refused.
        let tiny = Env {
            columns: Some(12),
            ..PIPE
        };
        assert_eq!(width(&["report", "d"], tiny), MIN_WIDTH);
        let zero = Env {
            terminal_width: Some(0),
            ..TTY
        };
        assert_eq!(width(&["report", "d"], zero), 100);
        for bad in ["39", "1001", "0", "-5", "wide"] {
            let e = args(&["report", "d", &format!("--width={bad}")], PIPE).unwrap_err();
            assert!(e.contains("--width"), "{bad}: {e}");
        }
        assert_eq!(columns("120"), Some(120));
        assert_eq!(columns(" 80 "), Some(80));
        assert_eq!(columns(""), None);
        assert_eq!(columns("0"), None);
        assert_eq!(columns("80x"), None);
    }

    #[test]
    fn html_dash_means_stdout() {
        assert_eq!(
            args(&["html", "d", "-o", "-"], PIPE).unwrap(),
            Args::Html {
                dump: "d".into(),
                output: None
            }
        );
        assert!(args(&["html", "d"], PIPE).unwrap_err().contains("--output"));
    }

    #[test]
    fn settings_are_checked_before_any_dump_is_read() {
        let ok = args(
            &[
                "analyze",
                "d",
                "--set",
                "memory_growth_threshold_mb=10",
                "--json",
            ],
            PIPE,
        )
        .unwrap();
        assert_eq!(
            ok,
            Args::Analyze {
                dump: "d".into(),
                settings: vec!["memory_growth_threshold_mb=10".into()],
                json: true,
                style: Style::PLAIN
            }
        );
        let bad = args(&["analyze", "d", "--set", "no_such_key=1"], PIPE).unwrap_err();
        assert!(bad.starts_with("--set no_such_key=1: "), "{bad}");
        assert!(bad.contains("unknown setting"), "{bad}");
        let bad = args(&["analyze", "d", "--set", "growth"], PIPE).unwrap_err();
        assert!(bad.contains("expected key=value"), "{bad}");
    }
}

//! How text output looks: its colour (the one place that knows ANSI escape codes) and its
//! width.
//!
//! The renderers ask a [`Style`] to paint a piece of text with a *meaning* (a heading, a
//! severity, something secondary); with colour off the text comes back unchanged, so the plain
//! report is byte-for-byte what a golden file holds. Eight SGR codes do not justify a
//! dependency. The width is the number of columns every line of the text output fits in,
//! settled once by `args` (`--width`, `COLUMNS`, the terminal, else [`DEFAULT_WIDTH`]).

use leakscope::leaks::LeakSeverity;

/// What a piece of text is, which decides its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    /// A section heading.
    Heading,
    /// A leak's severity.
    Severity(LeakSeverity),
    /// Secondary detail: units, notes, resolved leaks.
    Dim,
    /// Something that got better (a shrinking scope, a resolved leak).
    Good,
    /// Something that got worse (growth).
    Bad,
}

/// The width of text output that is not going to a terminal and was given none.
pub const DEFAULT_WIDTH: usize = 100;
/// The narrowest width the renderers lay out for: a label column, an indent and a few words.
pub const MIN_WIDTH: usize = 40;
/// The widest that prose (summaries, advice, notes) is filled to, however wide the line: a
/// sentence across 200 columns is hard to follow. Tables, stacks and sparklines use the whole
/// width.
pub const PROSE_WIDTH: usize = 120;
/// The widest: past this a line is no easier to read, and a hostile `COLUMNS` cannot make the
/// renderers pad lines to gigabytes.
pub const MAX_WIDTH: usize = 1000;

/// Whether and how to colour output, and how wide it may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    color: bool,
    width: usize,
}

impl Style {
    /// Plain text at [`DEFAULT_WIDTH`]: what pipes, files and golden tests get.
    pub const PLAIN: Style = Style {
        color: false,
        width: DEFAULT_WIDTH,
    };
    /// ANSI colours at [`DEFAULT_WIDTH`], for a terminal.
    pub const COLOR: Style = Style {
        color: true,
        width: DEFAULT_WIDTH,
    };

    /// The same colours at `width` columns, held to [`MIN_WIDTH`]..=[`MAX_WIDTH`].
    pub fn with_width(self, width: usize) -> Style {
        Style {
            width: width.clamp(MIN_WIDTH, MAX_WIDTH),
            ..self
        }
    }

    /// The columns every line must fit in.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The columns prose is filled to: the width, up to [`PROSE_WIDTH`].
    pub fn prose(&self) -> usize {
        self.width.min(PROSE_WIDTH)
    }

    /// `text` painted as `what`, or unchanged without colour.
    pub fn paint(&self, what: Paint, text: &str) -> String {
        if !self.color || text.is_empty() {
            return text.to_owned();
        }
        let sgr = match what {
            Paint::Heading => "1",
            Paint::Severity(LeakSeverity::Critical) => "1;97;41",
            Paint::Severity(LeakSeverity::High) => "1;31",
            Paint::Severity(LeakSeverity::Medium) => "1;33",
            Paint::Severity(LeakSeverity::Low) => "36",
            Paint::Dim => "2",
            Paint::Good => "32",
            Paint::Bad => "31",
        };
        format!("\x1b[{sgr}m{text}\x1b[0m")
    }

    /// Pieces of one line, each painted (or not), cut with `…` where the line reaches the
    /// width: a painted piece cannot be cut after painting, because its escape codes take no
    /// columns.
    pub fn fit(&self, pieces: &[(Option<Paint>, &str)]) -> String {
        let total: usize = pieces.iter().map(|(_, t)| crate::fmt::width(t)).sum();
        let mut room = self.width;
        let cut = total > room;
        if cut {
            room -= 1;
        }
        let mut out = String::new();
        for &(paint, text) in pieces {
            // The ellipsis is added once, after the last piece shown.
            let shown = crate::fmt::prefix(text, room);
            room -= crate::fmt::width(shown);
            out.push_str(&match paint {
                Some(p) => self.paint(p, shown),
                None => shown.to_owned(),
            });
            if shown.len() < text.len() {
                break;
            }
        }
        if cut {
            out.push('…');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_leaves_text_alone_and_color_wraps_it() {
        assert_eq!(Style::PLAIN.paint(Paint::Heading, "SCOPES"), "SCOPES");
        assert_eq!(
            Style::COLOR.paint(Paint::Severity(LeakSeverity::High), "HIGH"),
            "\x1b[1;31mHIGH\x1b[0m"
        );
        assert_eq!(Style::COLOR.paint(Paint::Dim, ""), "");
    }

    #[test]
    fn fitting_cuts_before_painting() {
        let s = Style::COLOR.with_width(40);
        let long = "x".repeat(50);
        let line = s.fit(&[(None, "ab "), (Some(Paint::Bad), &long)]);
        assert_eq!(line, format!("ab \x1b[31m{}\x1b[0m…", "x".repeat(36)));
        assert_eq!(
            Style::PLAIN
                .with_width(40)
                .fit(&[(None, "ab "), (Some(Paint::Bad), "cd")]),
            "ab cd"
        );
    }

    #[test]
    fn widths_are_held_to_the_range_laid_out_for() {
        assert_eq!(Style::PLAIN.width(), 100);
        assert_eq!(Style::PLAIN.with_width(80).width(), 80);
        assert_eq!(Style::PLAIN.with_width(3).width(), MIN_WIDTH);
        assert_eq!(Style::COLOR.with_width(usize::MAX).width(), MAX_WIDTH);
        assert_eq!(Style::COLOR.with_width(80), Style::COLOR.with_width(80));
    }
}

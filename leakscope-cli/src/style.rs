//! Terminal colour: the one place that knows ANSI escape codes.
//!
//! The renderers ask a [`Style`] to paint a piece of text with a *meaning* (a heading, a
//! severity, something secondary); with colour off the text comes back unchanged, so the plain
//! report is byte-for-byte what a golden file holds. Eight SGR codes do not justify a
//! dependency.

use leakscope::LeakSeverity;

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

/// Whether and how to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Plain text: what pipes, files and golden tests get.
    pub const PLAIN: Style = Style { color: false };
    /// ANSI colours, for a terminal.
    pub const COLOR: Style = Style { color: true };

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
}

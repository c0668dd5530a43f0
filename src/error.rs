//! The library's one error type.
//!
//! Errors carry a [`ErrorKind`] for programs that branch on them and a message that names the
//! bad field, value or file for people who read them. The allocation path never produces an
//! error: only configuration, start-up and file handling do.

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong, for callers that branch on it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A configuration field has a value that is out of range or does not parse.
    Config {
        /// The field's name as written in `LEAKSCOPE_*` variables and `key=value` strings.
        field: String,
        /// The rejected value, as given.
        value: String,
    },
    /// `start` was called while a collector is already running.
    AlreadyStarted,
    /// A query needs the collector, and none is running.
    NotStarted,
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
    },
    /// A dump file is not a leakscope dump this version can read.
    Dump {
        /// The file, when the dump came from one.
        path: Option<PathBuf>,
    },
    /// The input (a snapshot series, a query) is malformed.
    InvalidInput,
}

/// The error type of every fallible leakscope operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of `kind` with a human-readable `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A configuration error naming the field, the value and what is wrong with it.
    pub fn config(field: &str, value: impl fmt::Display, problem: impl fmt::Display) -> Self {
        let value = value.to_string();
        Error {
            message: format!("invalid value {value:?} for {field}: {problem}"),
            kind: ErrorKind::Config {
                field: field.to_owned(),
                value,
            },
        }
    }

    /// An I/O error on `path`, keeping the operating system's reason.
    pub fn io(path: &Path, what: &str, err: &std::io::Error) -> Self {
        Error {
            kind: ErrorKind::Io {
                path: path.to_owned(),
            },
            message: format!("{what} {}: {err}", path.display()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

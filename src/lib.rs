//! leakscope: per-scope allocation accounting and leak detection for long-running programs.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod config;
mod detect;
mod error;
mod leak;
mod snapshot;

pub use config::Config;
#[doc(hidden)]
pub use detect::scenarios;
pub use detect::{
    analyze_process, analyze_series, replay_process, replay_series, required_history_secs, Finding,
    LeakEvent, LeakTracker, PROCESS_SCOPE,
};
pub use error::{Error, ErrorKind};
pub use leak::{
    CallSite, Frame, GrowthModel, Leak, LeakCheck, LeakSeverity, LeakStatus, LeakType, Statistic,
};
pub use snapshot::{ProcessSnapshot, Snapshot};

//! leakscope: per-scope allocation accounting and leak detection for long-running programs.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod collector;
mod config;
pub mod dump;
mod error;
mod leak;
mod snapshot;

pub use collector::clock::{Clock, SystemClock};
pub use config::{Config, ConfigBuilder};
pub use error::{Error, ErrorKind};
pub use leak::{
    CallSite, Frame, GrowthModel, Leak, LeakCheck, LeakSeverity, LeakStatus, LeakType, Statistic,
};
pub use snapshot::{ProcessSnapshot, Snapshot};

#[doc(hidden)]
pub use collector::clock::ManualClock;
#[doc(hidden)]
pub use collector::history::{Histories, ScopeHistory, TIER_FACTOR};
#[doc(hidden)]
pub use collector::process;

//! The background collector's building blocks: its clock, the bounded per-scope history, and
//! what it reads about the process from the operating system.
//!
//! None of these touch the allocator: they run on the collector thread (under the re-entrancy
//! guard, so their own allocations are not user memory) and are tested on their own.

pub mod clock;
pub mod history;
pub mod process;
pub mod worker;

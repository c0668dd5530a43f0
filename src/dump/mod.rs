//! The dump file and the Prometheus textfile: the only code that knows their formats.
//!
//! - `schema`: the serde types of the JSON dump and its version (documented in
//!   `docs/dump-format.md`);
//! - `stream`: the dump file written from history columns, without a `Snapshot` per point;
//! - `write`: atomic replacement of a file (temporary file, fsync, rename, directory fsync);
//! - `read`: the CLI's checked reader, one clear line for every kind of bad input;
//! - `prometheus`: the text exposition of a dump, for node_exporter's textfile collector;
//! - `pprof` (feature `pprof`): the heap as a pprof profile.

#[cfg(feature = "pprof")]
mod pprof;
mod prometheus;
mod read;
mod schema;
mod stream;
mod write;

pub use crate::ids::UNSCOPED_NAME;
#[cfg(feature = "pprof")]
pub use pprof::{pprof_profile, self_mappings, Mapping};
pub(crate) use prometheus::{history_window_secs, window_start};
pub use prometheus::{prometheus_text, write_prometheus};
pub use read::{read_dump, read_dump_from_slice, MAX_DUMP_BYTES};
pub use schema::{
    Dump, ProcessInfo, ScopeDump, TrackerStats, MAX_HISTORY_POINTS, OLDEST_SCHEMA_MAJOR,
    SCHEMA_MAJOR, SCHEMA_MINOR, SCHEMA_VERSION,
};
pub(crate) use stream::HistoryColumns;
pub(crate) use write::write_dump_streamed;
pub use write::{write_atomic, write_dump, DUMP_MODE, PROMETHEUS_MODE};

/// Human units, one way everywhere: the detectors' summaries and recommendations and the
/// reports rendered from a dump print the same numbers the same way. Bytes are decimal with one
/// decimal ("4.2 KB"), durations take the largest sensible unit; a non-finite value prints as
/// `?` instead of panicking.
pub mod units {
    pub use crate::units::{bytes, duration};
}

/// A small dump exercising every field, shared by the tests of each part of the format and by
/// the example in `docs/dump-format.md`.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::leak::{
        CallSite, Finding, Frame, GrowthModel, Leak, LeakSeverity, LeakStatus, LeakType, Statistic,
    };
    use crate::snapshot::{
        CgroupMemory, MemoryEvents, Pressure, ProcessSnapshot, Psi, PsiSource, Snapshot, Stall,
    };
    use crate::Config;

    fn snapshot(t: f64, curr_bytes: u64, curr_blocks: u64, entries: u64) -> Snapshot {
        let mut s = Snapshot::new(t, curr_bytes, curr_blocks);
        s.allocs = 40;
        s.frees = 25;
        s.bytes_allocated = 80_000;
        s.bytes_freed = 50_000;
        s.entries = Some(entries);
        s.rss_bytes = Some(268_435_456);
        s
    }

    fn call_site() -> CallSite {
        CallSite {
            scope: "users_cache".into(),
            frames: vec![
                Frame {
                    addr: 0x5581_2a3b_41f0,
                    function: Some("app::session::Session::push_event".into()),
                    file: Some("src/session.rs".into()),
                    line: Some(88),
                },
                Frame {
                    addr: 0x5581_2a3b_1c02,
                    function: Some("app::handlers::login".into()),
                    file: Some("src/handlers.rs".into()),
                    line: Some(41),
                },
            ],
            live_bytes: 2_900_000,
            live_blocks: 1_450,
            samples: 6,
            bytes_older_than: [2_800_000, 2_100_000, 0],
            threads: Vec::new(),
        }
    }

    pub(crate) fn example_dump() -> Dump {
        let mut config = Config::default();
        config.budgets.insert("users_cache".into(), 64 << 20);
        let process = ProcessInfo {
            pid: 4242,
            executable: Some("/srv/app/bin/server".into()),
            start_time_unix: Some(1_699_999_990.5),
            rss_bytes: Some(268_435_456),
            cgroup_limit_bytes: Some(1 << 30),
        };
        let mut dump = Dump::new(1_700_003_600.0, 3600.0, process, config);

        let mut unscoped = ScopeDump::new("unscoped");
        unscoped.stats.curr_bytes = 1_200_000;
        unscoped.stats.curr_blocks = 3_100;
        unscoped.stats.total_allocs = 91_000;
        unscoped.stats.total_frees = 87_900;
        unscoped.stats.total_bytes_allocated = 40_000_000;
        unscoped.stats.total_bytes_freed = 38_800_000;
        unscoped.stats.max_bytes = 1_500_000;
        unscoped.history = vec![Snapshot::new(3600.0, 1_200_000, 3_100)];

        let mut users = ScopeDump::new("users_cache");
        users.stats.curr_bytes = 3_400_000;
        users.stats.curr_blocks = 1_700;
        users.stats.total_allocs = 4_800;
        users.stats.total_frees = 3_100;
        users.stats.total_bytes_allocated = 9_600_000;
        users.stats.total_bytes_freed = 6_200_000;
        users.stats.max_bytes = 3_400_000;
        users.entries = Some(850);
        users.budget_bytes = Some(64 << 20);
        let mut coarse = snapshot(3510.0, 3_310_000, 1_655, 828);
        coarse.allocs = 400;
        coarse.frees = 250;
        coarse.bytes_allocated = 800_000;
        coarse.bytes_freed = 500_000;
        users.history = vec![
            coarse,
            snapshot(3540.0, 3_340_000, 1_670, 835),
            snapshot(3570.0, 3_370_000, 1_685, 843),
            snapshot(3600.0, 3_400_000, 1_700, 850),
        ];
        // The age profile from the second point on: 97% of the live sampled bytes older than one
        // interval, 72% older than ten, none older than a hundred.
        for s in &mut users.history[1..] {
            s.live_age = Some([9_700, 7_200, 0]);
        }
        dump.scopes = vec![unscoped, users];
        dump.process_history = vec![
            ProcessSnapshot::new(3570.0, Some(268_000_000), 4_540_000, 790_000),
            ProcessSnapshot::new(3600.0, Some(268_435_456), 4_600_000, 812_000),
        ];
        dump.process_history[1].pressure = Some(Box::new(Pressure {
            psi: Some(Psi {
                source: PsiSource::Cgroup,
                some: Stall {
                    avg10: 1.25,
                    avg60: 0.61,
                    total_us: 987_654,
                },
                full: Some(Stall {
                    avg10: 0.5,
                    avg60: 0.2,
                    total_us: 123_456,
                }),
            }),
            cgroup: Some(CgroupMemory {
                current_bytes: Some(402_653_184),
                max_bytes: Some(1 << 30),
                events: Some(MemoryEvents {
                    high: 17,
                    max: 3,
                    oom: 0,
                    oom_kill: 0,
                }),
            }),
            major_faults: Some(42),
        }));
        dump.leaks = vec![
            Leak {
                id: 2,
                status: LeakStatus::Open,
                first_detected: 2400.0,
                last_detected: 3600.0,
                resolved_at: None,
                finding: Finding {
                    scope: "users_cache".into(),
                    leak_type: LeakType::GradualGrowth,
                    severity: LeakSeverity::High,
                    confidence: 0.97,
                    window: [1800.0, 3600.0],
                    baseline_bytes: 1_600_000,
                    current_bytes: 3_400_000,
                    growth_bytes: 1_800_000,
                    rate_bytes_per_min: 60_000.0,
                    model: GrowthModel::Linear,
                    statistics: vec![
                        Statistic {
                            name: "mann_kendall_z".into(),
                            value: 7.9,
                        },
                        Statistic {
                            name: "kendall_tau".into(),
                            value: 0.93,
                        },
                    ],
                    budget_bytes: Some(64 << 20),
                    time_to_budget_secs: Some(63_700.0),
                    summary: "users_cache grows 60.0 kB/min with entries rising".into(),
                    top_sites: vec![call_site()],
                    recommendations: vec!["cap users_cache or evict by size: src/session.rs:88 \
                         `Session::push_event` holds 2.9 MB"
                        .into()],
                    t: 3600.0,
                    hold_only: false,
                },
                sites_at_detection: vec![],
                peak_bytes: 0,
                sites_at_peak: vec![],
            },
            Leak {
                id: 1,
                status: LeakStatus::Resolved,
                first_detected: 600.0,
                last_detected: 690.0,
                resolved_at: Some(780.0),
                finding: Finding {
                    scope: "unscoped".into(),
                    leak_type: LeakType::RapidGrowth,
                    severity: LeakSeverity::Low,
                    confidence: 0.6,
                    window: [300.0, 690.0],
                    baseline_bytes: 900_000,
                    current_bytes: 1_100_000,
                    growth_bytes: 200_000,
                    rate_bytes_per_min: 30_769.2,
                    model: GrowthModel::Linear,
                    statistics: vec![Statistic {
                        name: "cusum".into(),
                        value: 8.4,
                    }],
                    budget_bytes: None,
                    time_to_budget_secs: None,
                    summary: "unscoped rose 200.0 kB in 6.5 min, then settled".into(),
                    top_sites: vec![],
                    recommendations: vec![],
                    t: 690.0,
                    hold_only: false,
                },
                sites_at_detection: vec![],
                peak_bytes: 0,
                sites_at_peak: vec![],
            },
        ];
        dump.top_call_sites = vec![call_site()];
        dump.tracker = TrackerStats {
            self_bytes: 812_000,
            self_blocks: 2_400,
            samples_taken: 5_120,
            samples_dropped: 3,
            channel_full_retries: 17,
            dumps_written: 60,
            dump_errors: 0,
            symbolizer_peak_bytes: 3_100_000,
            gauges_dropped: 0,
        };
        dump
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::example_dump;
    use super::*;

    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/dump-format.md");

    /// The example JSON block of the format document: its byte range in `doc`.
    fn example_block(doc: &str) -> std::ops::Range<usize> {
        let start = doc.find("```json\n").expect("the doc has a ```json block") + 8;
        let len = doc[start..]
            .find("```")
            .expect("the ```json block is closed");
        start..start + len
    }

    /// The documented example is a dump this version reads, and the same one the tests use, so
    /// the document cannot drift from the types. `LEAKSCOPE_BLESS=1` rewrites it after a change.
    #[test]
    fn the_documented_example_is_current() {
        let doc = std::fs::read_to_string(DOC).unwrap();
        let block = example_block(&doc);
        if std::env::var_os("LEAKSCOPE_BLESS").is_some() {
            let json = serde_json::to_string_pretty(&example_dump()).unwrap();
            let blessed = format!("{}{json}\n{}", &doc[..block.start], &doc[block.end..]);
            std::fs::write(DOC, blessed).unwrap();
            return;
        }
        let parsed = read_dump_from_slice(doc[block].as_bytes())
            .unwrap_or_else(|e| panic!("docs/dump-format.md: {e}"));
        assert_eq!(
            parsed,
            example_dump(),
            "docs/dump-format.md's example differs from dump::fixtures; \
             rerun with LEAKSCOPE_BLESS=1 and review the diff"
        );
    }

    /// Every top-level field of the dump is described in the document.
    #[test]
    fn the_document_describes_every_field() {
        let doc = std::fs::read_to_string(DOC).unwrap();
        let json = serde_json::to_value(example_dump()).unwrap();
        let mut objects = vec![("dump", &json)];
        objects.push(("process", &json["process"]));
        objects.push(("scope", &json["scopes"][1]));
        objects.push(("tracker", &json["tracker"]));
        objects.push(("leak", &json["leaks"][0]));
        objects.push(("snapshot", &json["scopes"][1]["history"]));
        let pressure = &json["process_history"][1]["pressure"];
        objects.push(("process snapshot", &json["process_history"][1]));
        objects.push(("pressure", pressure));
        objects.push(("psi", &pressure["psi"]));
        objects.push(("stall", &pressure["psi"]["some"]));
        objects.push(("cgroup", &pressure["cgroup"]));
        objects.push(("memory events", &pressure["cgroup"]["events"]));
        for (what, object) in objects {
            for field in object.as_object().unwrap().keys() {
                assert!(
                    doc.contains(&format!("`{field}`")),
                    "docs/dump-format.md does not describe the {what} field `{field}`"
                );
            }
        }
    }
}

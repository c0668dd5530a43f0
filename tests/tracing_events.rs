//! With the `tracing` feature, leak events are also `tracing` events with structured fields:
//! a leak raised by the collector arrives at the subscriber as an event on target `leakscope`
//! at warn or error level, carrying the scope, the type and the severity.
//!
//! `cargo test --features tracing --test tracing_events`

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use leakscope::{flush, Config, ManualClock, Scope};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

/// One event as the subscriber saw it: level, target and every field as text.
#[derive(Debug, Clone)]
struct Seen {
    level: Level,
    target: String,
    fields: Vec<(String, String)>,
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Seen>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

struct Sub(Arc<Recorder>);

impl Subscriber for Sub {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.0 .0.lock().unwrap().push(Seen {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[inline(never)]
fn grow(into: &mut Vec<Vec<u8>>) {
    for _ in 0..16 {
        into.push(black_box(vec![3u8; 16 * 1024]));
    }
}

#[test]
fn a_new_leak_is_a_tracing_event_with_structured_fields() {
    static GROWING: Scope = Scope::new("tracing_growing");
    let recorder = Arc::new(Recorder::default());
    tracing::subscriber::set_global_default(Sub(recorder.clone())).unwrap();
    let config = Config::builder()
        .set("snapshot_interval_seconds", 1)
        .set("detection_window_minutes", 2)
        .set("rapid_growth_window_minutes", 0.5)
        .set("baseline_calculation_minutes", 2)
        .set("memory_growth_threshold_mb", 2)
        .set("growth_rate_threshold_mb_per_min", 1)
        .set("sample_interval_bytes", "64KiB")
        .set("dump_path", "none")
        .build()
        .unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000.0));
    let handle = leakscope::__start_manual(config, clock.clone()).unwrap();
    let mut kept = Vec::with_capacity(16 * 400);
    for _ in 0..400 {
        {
            let _g = GROWING.enter();
            grow(&mut kept);
        }
        flush();
        clock.advance(1.0);
        if !handle.tick().is_empty() {
            break;
        }
    }
    let seen = recorder.0.lock().unwrap().clone();
    let event = seen
        .iter()
        .find(|e| e.target == "leakscope")
        .unwrap_or_else(|| panic!("no leakscope event among {seen:#?}"));
    assert!(event.level <= Level::WARN, "{event:?}");
    let field = |name: &str| {
        event
            .fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no field {name} in {event:?}"))
    };
    assert_eq!(field("event"), "\"new\"");
    assert_eq!(field("scope"), "tracing_growing");
    assert!(field("leak_type").contains("Growth"), "{event:?}");
    assert!(field("current_bytes").parse::<u64>().unwrap() > 1_000_000);
    assert!(field("leak_id").parse::<u64>().unwrap() >= 1);
    let confidence: f64 = field("confidence").parse().unwrap();
    assert!(confidence > 0.0 && confidence <= 1.0, "{event:?}");
    assert!(field("growth_bytes").parse::<i64>().unwrap() > 1_000_000);
    assert!(field("top_site").contains("grow"), "{event:?}");
    drop(kept);
    handle.shutdown().unwrap();
}

//! Whatever the reader accepts, the writer writes back as a dump the reader accepts again and
//! reads as the same dump: the CLI may rewrite or filter a dump it read, and a field that does
//! not survive that trip (a float off by one ULP, a history column dropped) would be a silent
//! change of the data.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dump) = leakscope::dump::read_dump_from_slice(data) else {
        return;
    };
    let json = serde_json::to_vec(&dump).expect("a dump that was read serializes");
    let again = leakscope::dump::read_dump_from_slice(&json)
        .unwrap_or_else(|e| panic!("a re-serialized dump does not read back: {e}"));
    assert_eq!(again, dump, "a dump changed on its way through JSON");
});

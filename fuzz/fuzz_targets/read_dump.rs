//! Arbitrary bytes into the dump reader: it must never panic (libFuzzer turns a panic into a
//! crash) and never run out of memory on an input of the fuzzer's size; any `Err` is a correct
//! answer to bytes that are not a dump.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = leakscope::dump::read_dump_from_slice(data) {
        // The CLI prints the message as its one line of output: building it must not panic
        // either, and it must stay one line, free of terminal escapes, whatever the input
        // quoted into it.
        let message = e.to_string();
        assert!(!message.chars().any(char::is_control), "{message:?}");
    }
});

//! Any bytes: opening, walking the pages, verifying every signature and preparing a seal
//! return errors, never panic, in bounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bidkey_platform::pdf::fuzz_one(data);
});

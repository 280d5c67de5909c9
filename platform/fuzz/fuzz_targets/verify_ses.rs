//! GB/T 38540 seal and seal-signature parsing and verification on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bidkey_platform::eseal::fuzz_one(data);
});

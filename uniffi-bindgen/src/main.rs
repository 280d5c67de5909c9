//! `cargo run -p uniffi-bindgen -- generate target/debug/libbidkey_ffi.so --language kotlin …`
//!
//! The generator lives in the workspace so its version always matches the `uniffi` the FFI
//! crate was built with (both pinned to `=0.32.2`).

fn main() {
    uniffi::uniffi_bindgen_main()
}

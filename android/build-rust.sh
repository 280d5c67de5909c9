#!/usr/bin/env bash
# Build libbidkey_ffi.so for the Android ABIs with cargo-ndk into app/src/main/jniLibs, and
# generate the Kotlin bindings into shared/src/generated/kotlin. Needs the Android NDK
# (ANDROID_NDK_HOME), `cargo install cargo-ndk`, and
# `rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android`.
# Usage: android/build-rust.sh [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
ndk_flags=(--release)
if [[ "${1:-}" == "--debug" ]]; then
    profile=debug
    ndk_flags=()
fi

# arm64-v8a = aarch64-linux-android, armeabi-v7a = armv7-linux-androideabi, x86_64 (emulator).
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 --platform 28 \
    -o android/app/src/main/jniLibs build --locked "${ndk_flags[@]}" -p bidkey-ffi

# The bindings come from the metadata in a built library; any ABI's carries the same interface.
cargo build --locked --release -p uniffi-bindgen
out=android/shared/src/generated/kotlin
rm -rf "$out"
mkdir -p "$out"
target/release/uniffi-bindgen generate \
    "target/aarch64-linux-android/$profile/libbidkey_ffi.so" \
    --language kotlin --no-format --out-dir "$out"
echo "jniLibs: $(cd android/app/src/main/jniLibs && find . -name '*.so' | sort | tr '\n' ' ')"
echo "bindings: $out/uniffi/bidkey/bidkey.kt"

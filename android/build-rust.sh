#!/usr/bin/env bash
# Build libbidkey_ffi.so for the Android ABIs with cargo-ndk into app/src/main/jniLibs, and
# generate the Kotlin bindings (package cn.bidkey.core, names from bindings/uniffi.toml) into
# shared/src/generated/kotlin. Needs the Android NDK (ANDROID_NDK_HOME, r26 or later),
# `cargo install cargo-ndk`, and
# `rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android`.
# The libraries are linked with 16 KB page alignment (.cargo/config.toml) and checked here.
# Usage: android/build-rust.sh [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
ndk_flags=(--release)
if [[ "${1:-}" == "--debug" ]]; then
    profile=debug
    ndk_flags=()
fi
# RUSTFLAGS would replace the per-target flags of .cargo/config.toml (the 16 KB alignment).
unset RUSTFLAGS

# arm64-v8a = aarch64-linux-android, armeabi-v7a = armv7-linux-androideabi, x86_64 (emulator).
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 --platform 28 \
    -o android/app/src/main/jniLibs build --locked "${ndk_flags[@]}" -p bidkey-ffi

# Every LOAD segment of the 64-bit libraries must be aligned to 16 KB (0x4000) or more.
readelf=$(find "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME}/toolchains/llvm/prebuilt" -name llvm-readelf -type f | head -n 1)
for so in android/app/src/main/jniLibs/arm64-v8a/libbidkey_ffi.so android/app/src/main/jniLibs/x86_64/libbidkey_ffi.so; do
    aligns=$("$readelf" -lW "$so" | awk '$1 == "LOAD" { print $NF }')
    for a in $aligns; do
        if (( a < 0x4000 )); then
            echo "$so: LOAD segment aligned to $a, not 16 KB" >&2
            exit 1
        fi
    done
done

# The bindings come from the metadata in a built library; any ABI's carries the same interface.
# uniffi-bindgen reads bindings/uniffi.toml (package cn.bidkey.core, library bidkey_ffi).
cargo build --locked --release -p uniffi-bindgen
out=android/shared/src/generated/kotlin
rm -rf "$out"
mkdir -p "$out"
target/release/uniffi-bindgen generate \
    "target/aarch64-linux-android/$profile/libbidkey_ffi.so" \
    --language kotlin --no-format --out-dir "$out"
echo "jniLibs: $(cd android/app/src/main/jniLibs && find . -name '*.so' | sort | tr '\n' ' ')"
echo "bindings: $out/cn/bidkey/core/bidkey.kt"

#!/usr/bin/env bash
# Build libbidkey_ffi and generate the Kotlin and Swift bindings into
# bindings/generated/{kotlin,swift} (gitignored). Usage: bindings/generate.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debug builds the whole workspace with all targets, exactly what `cargo test --workspace`
# builds: the features of shared dependencies unify, so CI compiles each dependency once
# (building only `-p bidkey-ffi` would resolve features differently and rebuild them).
# A release build is for shipping and builds only the library and the generator.
profile=debug
cargo_args=(--locked --workspace --all-targets)
if [[ "${1:-}" == "--release" ]]; then
    profile=release
    cargo_args=(--locked --release -p bidkey-ffi -p uniffi-bindgen)
fi

case "$(uname -s)" in
    Darwin) lib="target/$profile/libbidkey_ffi.dylib" ;;
    *) lib="target/$profile/libbidkey_ffi.so" ;;
esac

cargo build "${cargo_args[@]}"
out=bindings/generated
rm -rf "$out/kotlin" "$out/swift"
mkdir -p "$out/kotlin" "$out/swift"
# Library mode: the interface is read from the metadata compiled into the library.
"target/$profile/uniffi-bindgen" generate "$lib" --language kotlin --no-format --out-dir "$out/kotlin"
"target/$profile/uniffi-bindgen" generate "$lib" --language swift --no-format --out-dir "$out/swift"
echo "generated: $(cd "$out" && find kotlin swift -type f | sort | tr '\n' ' ')"

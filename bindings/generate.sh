#!/usr/bin/env bash
# Build libbidkey_ffi and generate the Kotlin and Swift bindings into
# bindings/generated/{kotlin,swift} (gitignored). Usage: bindings/generate.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
cargo_flags=(--locked)
if [[ "${1:-}" == "--release" ]]; then
    profile=release
    cargo_flags+=(--release)
fi

case "$(uname -s)" in
    Darwin) lib="target/$profile/libbidkey_ffi.dylib" ;;
    *) lib="target/$profile/libbidkey_ffi.so" ;;
esac

cargo build "${cargo_flags[@]}" -p bidkey-ffi -p uniffi-bindgen
out=bindings/generated
rm -rf "$out/kotlin" "$out/swift"
mkdir -p "$out/kotlin" "$out/swift"
# Library mode: the interface is read from the metadata compiled into the library.
"target/$profile/uniffi-bindgen" generate "$lib" --language kotlin --no-format --out-dir "$out/kotlin"
"target/$profile/uniffi-bindgen" generate "$lib" --language swift --no-format --out-dir "$out/swift"
echo "generated: $(cd "$out" && find kotlin swift -type f | sort | tr '\n' ' ')"

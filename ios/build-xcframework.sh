#!/usr/bin/env bash
# Build BidkeyCoreFFI.xcframework (the crate's staticlib, libbidkey_ffi.a, for device and
# simulator) and the Swift bindings (module BidkeyCore, names from bindings/uniffi.toml) for
# the iOS app. Run on a Mac with Xcode and
# `rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios`.
# Output: ios/build/BidkeyCoreFFI.xcframework and ios/BidkeyCore/BidkeyCore.swift.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ "$(uname -s)" == Darwin ]] || { echo "build-xcframework.sh needs macOS with Xcode" >&2; exit 1; }
export IPHONEOS_DEPLOYMENT_TARGET=16.0

# bindings/Cargo.toml has crate-type = ["cdylib", "staticlib", "lib"]: each target gives
# target/<triple>/release/libbidkey_ffi.a (the app links the static one).
for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
    cargo build --locked --release -p bidkey-ffi --target "$target"
    [[ -f "target/$target/release/libbidkey_ffi.a" ]] || { echo "no staticlib for $target" >&2; exit 1; }
done

# The bindings come from a built library's metadata (the host dylib carries the same
# interface); uniffi-bindgen reads bindings/uniffi.toml: module BidkeyCore, C module
# BidkeyCoreFFI (BidkeyCoreFFI.h, BidkeyCoreFFI.modulemap).
cargo build --locked --release -p bidkey-ffi -p uniffi-bindgen
gen=ios/build/generated
rm -rf "$gen"
mkdir -p "$gen"
target/release/uniffi-bindgen generate target/release/libbidkey_ffi.dylib \
    --language swift --no-format --out-dir "$gen"
for f in BidkeyCore.swift BidkeyCoreFFI.h BidkeyCoreFFI.modulemap; do
    [[ -f "$gen/$f" ]] || { echo "uniffi-bindgen did not write $f" >&2; exit 1; }
done

# The simulator slice is one fat library (Apple silicon + Intel Macs).
sim=ios/build/sim
mkdir -p "$sim"
lipo -create \
    target/aarch64-apple-ios-sim/release/libbidkey_ffi.a \
    target/x86_64-apple-ios/release/libbidkey_ffi.a \
    -output "$sim/libbidkey_ffi.a"

# Headers: the C header and its module map, renamed module.modulemap so that
# `import BidkeyCoreFFI` (in the generated BidkeyCore.swift) finds it.
headers=ios/build/headers
rm -rf "$headers"
mkdir -p "$headers"
cp "$gen/BidkeyCoreFFI.h" "$headers/"
cp "$gen/BidkeyCoreFFI.modulemap" "$headers/module.modulemap"

rm -rf ios/build/BidkeyCoreFFI.xcframework
xcodebuild -create-xcframework \
    -library target/aarch64-apple-ios/release/libbidkey_ffi.a -headers "$headers" \
    -library "$sim/libbidkey_ffi.a" -headers "$headers" \
    -output ios/build/BidkeyCoreFFI.xcframework

# The Swift bindings are the sources of the BidkeyCore framework target (project.yml).
mkdir -p ios/BidkeyCore
cp "$gen/BidkeyCore.swift" ios/BidkeyCore/
echo "built ios/build/BidkeyCoreFFI.xcframework and ios/BidkeyCore/BidkeyCore.swift"

#!/usr/bin/env bash
# Build BidkeyFFI.xcframework (static libbidkey_ffi.a for device and simulator) and the Swift
# bindings for the iOS app. Run on a Mac with Xcode and
# `rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios`.
# Output: ios/build/BidkeyFFI.xcframework and ios/Bidkey/Generated/bidkey.swift.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ "$(uname -s)" == Darwin ]] || { echo "build-xcframework.sh needs macOS with Xcode" >&2; exit 1; }
export IPHONEOS_DEPLOYMENT_TARGET=16.0

for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
    cargo build --locked --release -p bidkey-ffi --target "$target"
done

# The bindings come from a built library's metadata (the host dylib carries the same interface).
cargo build --locked --release -p bidkey-ffi -p uniffi-bindgen
gen=ios/build/generated
rm -rf "$gen"
mkdir -p "$gen"
target/release/uniffi-bindgen generate target/release/libbidkey_ffi.dylib \
    --language swift --out-dir "$gen"

# The simulator slice is one fat library (Apple silicon + Intel Macs).
sim=ios/build/sim
mkdir -p "$sim"
lipo -create \
    target/aarch64-apple-ios-sim/release/libbidkey_ffi.a \
    target/x86_64-apple-ios/release/libbidkey_ffi.a \
    -output "$sim/libbidkey_ffi.a"

# Headers: the C header and a module map named module.modulemap so `import bidkeyFFI` works.
headers=ios/build/headers
rm -rf "$headers"
mkdir -p "$headers"
cp "$gen/bidkeyFFI.h" "$headers/"
cp "$gen/bidkeyFFI.modulemap" "$headers/module.modulemap"

rm -rf ios/build/BidkeyFFI.xcframework
xcodebuild -create-xcframework \
    -library target/aarch64-apple-ios/release/libbidkey_ffi.a -headers "$headers" \
    -library "$sim/libbidkey_ffi.a" -headers "$headers" \
    -output ios/build/BidkeyFFI.xcframework

mkdir -p ios/Bidkey/Generated
cp "$gen/bidkey.swift" ios/Bidkey/Generated/
echo "built ios/build/BidkeyFFI.xcframework and ios/Bidkey/Generated/bidkey.swift"

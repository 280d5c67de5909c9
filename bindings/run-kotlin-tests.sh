#!/usr/bin/env bash
# The Kotlin bindings on the JVM against a real server on loopback
# (bindings/kotlin-test/BindingsTest.kt), then the Android app's non-UI Kotlin
# (android/shared: view models, error wording, formatting) on the same bindings
# (android/shared/src/test/kotlin/ShellTest.kt). Installs what is missing: the Kotlin compiler (npm,
# into a cache directory) and JNA (apt). Needs Java 17+.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${BIDKEY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bidkey-tools}"
# The Kotlin version the Android build names (android/gradle/libs.versions.toml): the JVM
# tests compile with the same compiler.
kotlin_version=$(sed -n 's/^kotlin = "\(.*\)"$/\1/p' android/gradle/libs.versions.toml)
[[ -n "$kotlin_version" ]] || { echo "no kotlin version in android/gradle/libs.versions.toml" >&2; exit 1; }
kotlin_home="$tools/node_modules/kotlin-compiler"

# kotlinc: $BIDKEY_KOTLIN_HOME, else the cached npm install, else one on PATH, else install.
if [[ -n "${BIDKEY_KOTLIN_HOME:-}" ]]; then
    kotlin_home="$BIDKEY_KOTLIN_HOME"
elif [[ ! -x "$kotlin_home/bin/kotlinc" ]] && command -v kotlinc >/dev/null; then
    kotlin_home="$(cd "$(dirname "$(readlink -f "$(command -v kotlinc)")")/.." && pwd)"
elif [[ ! -x "$kotlin_home/bin/kotlinc" ]]; then
    echo "installing kotlin-compiler@$kotlin_version into $tools"
    mkdir -p "$tools"
    npm install --silent --prefix "$tools" "kotlin-compiler@$kotlin_version"
fi
kotlinc="$kotlin_home/bin/kotlinc"
# A kotlinc found elsewhere (or a stale cache) must be the version Gradle names.
found=$("$kotlinc" -version 2>&1 | sed -n 's/.*kotlinc-jvm \([^ ]*\).*/\1/p')
if [[ "$found" != "$kotlin_version" ]]; then
    echo "kotlinc $found at $kotlin_home, but android/gradle/libs.versions.toml names $kotlin_version" >&2
    exit 1
fi
kotlin_lib="$kotlin_home/lib"

jna=/usr/share/java/jna.jar
if [[ ! -f "$jna" ]]; then
    echo "installing libjna-java"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libjna-java >/dev/null
fi

stdlib="$kotlin_lib/kotlin-stdlib.jar"
coroutines="$kotlin_lib/kotlinx-coroutines-core-jvm.jar"
for jar in "$stdlib" "$coroutines" "$jna"; do
    [[ -f "$jar" ]] || { echo "missing $jar" >&2; exit 1; }
done

# generate.sh builds the workspace (all targets), which includes bidkey-test-server.
bindings/generate.sh

build=target/kotlin-test
mkdir -p "$build"
jar="$build/bidkey-kotlin-test.jar"
mapfile -t shared < <(find android/shared/src/main/kotlin -name '*.kt' | sort)
sources=(
    bindings/generated/kotlin/cn/bidkey/core/bidkey.kt
    bindings/kotlin-test/Harness.kt
    bindings/kotlin-test/BindingsTest.kt
    "${shared[@]}"
    android/shared/src/test/kotlin/ShellTest.kt
)
# Recompile only when a source changed (kotlinc takes most of this script's time).
if [[ ! -f "$jar" ]] || [[ -n "$(find "${sources[@]}" -newer "$jar")" ]]; then
    echo "kotlinc: compiling the bindings, android/shared and the tests"
    rm -f "$jar"
    "$kotlinc" -nowarn -cp "$jna:$coroutines" -d "$jar" "${sources[@]}" 2>&1 \
        | grep -v "^warning: unable to find kotlin-stdlib.jar" || true
    [[ -f "$jar" ]] || { echo "kotlinc failed" >&2; exit 1; }
fi

status=0
for main in BindingsTestKt ShellTestKt; do
    echo "== $main"
    java -Djna.library.path="$PWD/target/debug" \
        -cp "$jar:$stdlib:$coroutines:$jna" \
        "$main" "$PWD/target/debug/bidkey-test-server" || status=1
done
exit "$status"

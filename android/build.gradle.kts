// Plugin versions live in gradle/libs.versions.toml (Kotlin there is the version the JVM
// tests compile with, bindings/run-kotlin-tests.sh).
plugins {
    alias(libs.plugins.android.application) apply false
    alias(libs.plugins.kotlin.android) apply false
    alias(libs.plugins.kotlin.jvm) apply false
    alias(libs.plugins.kotlin.compose) apply false
}

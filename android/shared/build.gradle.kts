// The app's non-UI Kotlin: view models (StateFlow), error wording, formatting. Plain Kotlin/JVM
// with no androidx, so the same sources compile and are tested with kotlinc on a desktop JVM
// (bindings/run-kotlin-tests.sh). The generated bindings (cn.bidkey.core) are compiled here
// from src/generated/kotlin, written by ../build-rust.sh.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
    sourceSets["main"].kotlin.srcDir("src/generated/kotlin")
}

dependencies {
    api("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.9.0")
    // The app brings JNA as an Android AAR (with its native dispatch library) at run time.
    compileOnly("net.java.dev.jna:jna:5.15.0")
}

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

// The server and whom to trust for its TLS certificate (android/README.md):
//   -PbidkeyServer=https://bidkey.example.cn   the Bidkey server
//   -PbidkeyTrust=system                       a server with a public certificate: the phone's
//                                              system trust store (default)
//   -PbidkeyTrust=pinned -PbidkeyServerCa=ca.pem   only this CA (a private CA, or pinning)
// A wrong combination stops the build here; what only the phone can find out (a PEM that does
// not parse, an unusable trust store, a wallet that cannot open) is the app's error screen.
val bidkeyServer = providers.gradleProperty("bidkeyServer").getOrElse("https://bidkey.example.cn")
val bidkeyTrust = providers.gradleProperty("bidkeyTrust").getOrElse("system")
val bidkeyServerCaPem: String = providers.gradleProperty("bidkeyServerCa").orNull
    ?.let { rootProject.file(it).readText() } ?: ""
require(bidkeyTrust in setOf("system", "pinned", "loopback")) {
    "bidkeyTrust must be system, pinned or loopback, not $bidkeyTrust"
}
require(bidkeyTrust != "pinned" || bidkeyServerCaPem.isNotBlank()) {
    "bidkeyTrust=pinned needs -PbidkeyServerCa=<PEM file of the server's CA>"
}
require(bidkeyServer.startsWith("https://") || bidkeyTrust == "loopback") {
    "bidkeyServer must be https:// (plain http only with bidkeyTrust=loopback, for an emulator)"
}
fun javaString(s: String) = "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\""

android {
    namespace = "cn.bidkey.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "cn.bidkey.app"
        minSdk = 28
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        buildConfigField("String", "BIDKEY_SERVER", javaString(bidkeyServer))
        buildConfigField("String", "BIDKEY_TRUST", javaString(bidkeyTrust))
        buildConfigField("String", "BIDKEY_SERVER_CA_PEM", javaString(bidkeyServerCaPem))
        ndk {
            // The ABIs build-rust.sh builds libbidkey_ffi.so for.
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
    }

    buildFeatures {
        compose = true
        buildConfig = true
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            // JNA and the generated bindings are called reflectively.
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
}

dependencies {
    implementation(project(":shared"))
    implementation("net.java.dev.jna:jna:5.15.0@aar")

    implementation(platform("androidx.compose:compose-bom:2024.12.01"))
    implementation("androidx.compose.material3:material3")
    implementation("androidx.compose.ui:ui")
    implementation("androidx.compose.ui:ui-tooling-preview")
    implementation("androidx.activity:activity-compose:1.9.3")
    // BiometricPrompt with a CryptoObject (AndroidDeviceKeystore, when the person turns it on).
    implementation("androidx.biometric:biometric:1.1.0")
    implementation("androidx.fragment:fragment-ktx:1.8.5")
    implementation("androidx.lifecycle:lifecycle-viewmodel-compose:2.8.7")
    implementation("androidx.lifecycle:lifecycle-runtime-compose:2.8.7")
    implementation("androidx.navigation:navigation-compose:2.8.5")

    implementation("androidx.camera:camera-camera2:1.4.1")
    implementation("androidx.camera:camera-lifecycle:1.4.1")
    implementation("androidx.camera:camera-view:1.4.1")
    implementation("com.google.mlkit:barcode-scanning:17.3.0")
}

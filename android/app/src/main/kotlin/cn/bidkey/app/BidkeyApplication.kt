package cn.bidkey.app

import android.app.Application
import cn.bidkey.core.Lang
import cn.bidkey.shared.AppConfig
import cn.bidkey.shared.Launcher
import cn.bidkey.shared.Startup
import kotlinx.coroutines.flow.MutableStateFlow
import java.io.File
import java.security.KeyStore
import java.security.cert.X509Certificate
import java.util.Locale

/**
 * Holds how the process started: the one Bidkey core (one wallet) or the reason it could not
 * start, which MainActivity shows. Nothing here throws: a bad build configuration or a wallet
 * that cannot open is a screen, not a crash.
 */
class BidkeyApplication : Application() {
    lateinit var startup: Startup
        private set

    /** The app's language: the person's choice kept in the wallet, else the phone's. */
    lateinit var language: MutableStateFlow<Lang>
        private set

    /** The keystore asks BiometricPrompt through the activity in front (MainActivity). */
    val biometrics = BiometricGate { language.value }

    override fun onCreate() {
        super.onCreate()
        val deviceLang = if (Locale.getDefault().language == "zh") Lang.ZH else Lang.EN
        // From the Gradle properties bidkeyServer, bidkeyTrust, bidkeyServerCa (README).
        val config = AppConfig(
            serverUrl = BuildConfig.BIDKEY_SERVER,
            trust = Launcher.trust(BuildConfig.BIDKEY_TRUST),
            serverCaPem = BuildConfig.BIDKEY_SERVER_CA_PEM,
        )
        val wallet = File(noBackupFilesDir, "wallet").apply { mkdirs() }
        startup = Launcher.start(config, wallet.path, AndroidDeviceKeystore(this, biometrics), deviceLang, ::systemRoots)
        language = MutableStateFlow((startup as? Startup.Ready)?.lang ?: deviceLang)
    }

    /**
     * The phone's system trust store: the `system:` entries of AndroidCAStore (the roots the
     * OS ships; user-added CAs are left out, as Android's default network security config does
     * for apps). The core checks the server's certificate against these (ServerTrust.SystemRoots).
     */
    private fun systemRoots(): List<ByteArray> {
        val store = KeyStore.getInstance("AndroidCAStore").apply { load(null) }
        return store.aliases().toList()
            .filter { it.startsWith("system:") }
            .mapNotNull { (store.getCertificate(it) as? X509Certificate)?.encoded }
    }
}

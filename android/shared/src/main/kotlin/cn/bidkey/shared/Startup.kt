package cn.bidkey.shared

import cn.bidkey.core.Bidkey
import cn.bidkey.core.BidkeyConfig
import cn.bidkey.core.BidkeyException
import cn.bidkey.core.CoreText
import cn.bidkey.core.DeviceKeystore
import cn.bidkey.core.Lang
import cn.bidkey.core.ServerTrust
import cn.bidkey.core.coreText
import cn.bidkey.core.errorMessage

/**
 * What the build chose (Android: `BuildConfig.BIDKEY_SERVER`, `BIDKEY_TRUST`,
 * `BIDKEY_SERVER_CA_PEM`, from the Gradle properties `bidkeyServer`, `bidkeyTrust`,
 * `bidkeyServerCa`; see android/README.md).
 */
data class AppConfig(val serverUrl: String, val trust: Trust, val serverCaPem: String) {
    /** Whom the app trusts for the server's TLS certificate. */
    enum class Trust {
        /** A server with a public certificate: the phone's system trust store. */
        SYSTEM,

        /** Only the CA of `serverCaPem` (a private CA, or pinning a public one). */
        PINNED,

        /** Plain HTTP on loopback only (tests); an https server is refused by the core. */
        LOOPBACK,
    }
}

/** How the app started: the core, or the reason it could not (shown on the error screen). */
sealed interface Startup {
    class Ready(val bidkey: Bidkey, val lang: Lang) : Startup

    /**
     * `message` is the core's sentence (`coreText(STARTUP_FAILED)` and `errorMessage` of the
     * cause); null when the core itself could not be loaded (then only the shell's own words
     * and `detail` can be shown). Never thrown: the app shows it instead of crashing.
     */
    data class Failed(val message: String?, val detail: String) : Startup
}

object Launcher {
    /**
     * Open the wallet in [walletDir] for the configured server. [systemRoots] reads the
     * platform's trust store (Android: the `system:` entries of AndroidCAStore, DER); it is
     * called only for [AppConfig.Trust.SYSTEM]. [deviceLang] is used until the person picks a
     * language (kept in the wallet). Nothing here throws.
     */
    fun start(
        config: AppConfig,
        walletDir: String,
        keystore: DeviceKeystore,
        deviceLang: Lang,
        systemRoots: () -> List<ByteArray>,
    ): Startup = try {
        val trust = when (config.trust) {
            AppConfig.Trust.SYSTEM -> ServerTrust.SystemRoots(systemRoots())
            AppConfig.Trust.PINNED -> ServerTrust.PinnedCa(config.serverCaPem)
            AppConfig.Trust.LOOPBACK -> ServerTrust.LoopbackOnly
        }
        val bidkey = Bidkey(BidkeyConfig(serverUrl = config.serverUrl, trust = trust, walletDir = walletDir), keystore)
        Startup.Ready(bidkey, runCatching { bidkey.language() }.getOrNull() ?: deviceLang)
    } catch (e: BidkeyException) {
        Startup.Failed(coreText(CoreText.STARTUP_FAILED, deviceLang) + " " + errorMessage(e, deviceLang), e.toString())
    } catch (e: Exception) {
        // Reading the trust store failed, or something else the core never saw.
        Startup.Failed(coreText(CoreText.STARTUP_FAILED, deviceLang), e.toString())
    } catch (e: LinkageError) {
        // The native library is missing or does not match (UnsatisfiedLinkError): no core words.
        Startup.Failed(null, e.toString())
    }

    /** The Gradle property's value (`system`, `pinned`, `loopback`); anything else is PINNED with the given PEM. */
    fun trust(value: String): AppConfig.Trust = when (value.lowercase()) {
        "system" -> AppConfig.Trust.SYSTEM
        "loopback" -> AppConfig.Trust.LOOPBACK
        else -> AppConfig.Trust.PINNED
    }
}

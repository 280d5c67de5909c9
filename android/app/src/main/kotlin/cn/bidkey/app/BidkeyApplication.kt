package cn.bidkey.app

import android.app.Application
import kotlinx.coroutines.flow.MutableStateFlow
import uniffi.bidkey.Bidkey
import uniffi.bidkey.BidkeyConfig
import uniffi.bidkey.Lang
import java.io.File
import java.util.Locale

/** Holds the one Bidkey core of the process (one wallet) and the app's language. */
class BidkeyApplication : Application() {
    lateinit var bidkey: Bidkey
        private set

    val language = MutableStateFlow(if (Locale.getDefault().language == "zh") Lang.ZH else Lang.EN)

    override fun onCreate() {
        super.onCreate()
        val wallet = File(noBackupFilesDir, "wallet").apply { mkdirs() }
        bidkey = Bidkey(
            BidkeyConfig(serverUrl = BuildConfig.BIDKEY_SERVER, walletDir = wallet.path),
            AndroidDeviceKeystore(this),
        )
    }
}

package cn.bidkey.app

import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import androidx.biometric.BiometricPrompt
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import cn.bidkey.core.BidkeyException
import cn.bidkey.core.CoreText
import cn.bidkey.core.Lang
import cn.bidkey.core.coreText
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withContext
import java.lang.ref.WeakReference
import javax.crypto.Cipher
import kotlin.coroutines.resume
import kotlin.coroutines.resumeWithException

/**
 * Shows BiometricPrompt with a CryptoObject over the activity in front and resumes with the
 * cipher the prompt unlocked. The keystore's user-presence key only works through that cipher,
 * so the wallet's key share is released by the person's fingerprint or face, not by a flag.
 * The prompt's sentence is the core's (CoreText.BIOMETRIC_PROMPT_REASON).
 */
class BiometricGate(private val lang: () -> Lang) {
    private var activity = WeakReference<FragmentActivity>(null)

    fun attach(a: FragmentActivity) {
        activity = WeakReference(a)
    }

    fun detach(a: FragmentActivity) {
        if (activity.get() === a) activity = WeakReference(null)
    }

    /** Suspends (never blocks a thread) until the person answers; a cancel is `Keystore`. */
    suspend fun unlock(cipher: Cipher): Cipher = withContext(Dispatchers.Main) {
        val a = activity.get() ?: throw BidkeyException.Keystore("no screen to ask for the fingerprint")
        suspendCancellableCoroutine { cont ->
            val prompt = BiometricPrompt(a, ContextCompat.getMainExecutor(a), object : BiometricPrompt.AuthenticationCallback() {
                override fun onAuthenticationSucceeded(result: BiometricPrompt.AuthenticationResult) {
                    val unlocked = result.cryptoObject?.cipher
                    if (unlocked != null) cont.resume(unlocked)
                    else cont.resumeWithException(BidkeyException.Keystore("the prompt returned no cipher"))
                }

                override fun onAuthenticationError(code: Int, message: CharSequence) {
                    cont.resumeWithException(BidkeyException.Keystore("biometric prompt: $code $message"))
                }
                // onAuthenticationFailed (a finger not recognised) keeps the prompt open.
            })
            val info = BiometricPrompt.PromptInfo.Builder()
                .setTitle(a.getString(R.string.biometric_title))
                .setSubtitle(coreText(CoreText.BIOMETRIC_PROMPT_REASON, lang()))
                .setNegativeButtonText(a.getString(R.string.cancel))
                .setAllowedAuthenticators(BIOMETRIC_STRONG)
                .build()
            prompt.authenticate(info, BiometricPrompt.CryptoObject(cipher))
            cont.invokeOnCancellation { prompt.cancelAuthentication() }
        }
    }
}

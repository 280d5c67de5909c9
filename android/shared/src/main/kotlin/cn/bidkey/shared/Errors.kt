package cn.bidkey.shared

import cn.bidkey.core.BidkeyException
import cn.bidkey.core.Lang
import cn.bidkey.core.errorMessage

/** What the screen offers after an error. */
enum class ErrorAction {
    /** Show a retry button. */
    RETRY,

    /** Go to the login screen. */
    LOG_IN,

    /** Ask for the PIN again. */
    PIN_AGAIN,

    /** Lead to 解锁 (real-name again + SMS code). */
    UNLOCK,

    /** Let the person correct the highlighted field. */
    FIX_INPUT,

    /** Nothing to do but acknowledge (and report). */
    DISMISS,
}

/**
 * An error ready for a dialog or snackbar: the core's sentence for it (`errorMessage`, the same
 * words the CLI and the iOS app show) and the button the screen offers. No words of our own.
 */
data class UiError(val message: String, val action: ErrorAction, val serverCode: String? = null) {
    companion object {
        /** The one place an exception of the core becomes a message; every screen goes through it. */
        fun of(e: BidkeyException, lang: Lang): UiError = UiError(errorMessage(e, lang), action(e), (e as? BidkeyException.Server)?.code)

        /** What the screen offers: the only decision the shell makes about an error. */
        fun action(e: BidkeyException): ErrorAction = when (e) {
            is BidkeyException.Network -> ErrorAction.RETRY
            is BidkeyException.Server -> if (e.retryAfterSecs != null) ErrorAction.RETRY else ErrorAction.DISMISS
            is BidkeyException.WrongPin -> ErrorAction.PIN_AGAIN
            is BidkeyException.KeyLocked -> ErrorAction.UNLOCK
            is BidkeyException.UnlockLimited, is BidkeyException.RecoveryCoolingOff -> ErrorAction.DISMISS
            is BidkeyException.NotLoggedIn -> ErrorAction.LOG_IN
            is BidkeyException.InvalidInput -> ErrorAction.FIX_INPUT
            is BidkeyException.NotFound, is BidkeyException.Storage, is BidkeyException.Crypto -> ErrorAction.DISMISS
            // Biometrics cancelled or the key invalidated: the person may try again.
            is BidkeyException.Keystore -> ErrorAction.RETRY
        }
    }
}

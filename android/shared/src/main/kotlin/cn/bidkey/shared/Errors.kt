package cn.bidkey.shared

import cn.bidkey.core.BidkeyException
import cn.bidkey.core.Lang
import cn.bidkey.core.NextStep
import cn.bidkey.core.nextStep
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

        /**
         * What the screen offers: the core decides what the app should do ([nextStep], the same on
         * iOS and in the CLI); the shell only picks the button for it.
         */
        fun action(e: BidkeyException): ErrorAction = when (nextStep(e)) {
            NextStep.RETRY -> ErrorAction.RETRY
            NextStep.PIN_AGAIN -> ErrorAction.PIN_AGAIN
            NextStep.UNLOCK -> ErrorAction.UNLOCK
            NextStep.LOG_IN -> ErrorAction.LOG_IN
            NextStep.FIX_INPUT -> ErrorAction.FIX_INPUT
            // The message says from when, to update the app, or to report: acknowledging is all
            // a screen does.
            NextStep.RETRY_LATER, NextStep.UPDATE_APP, NextStep.REPORT, NextStep.DISMISS -> ErrorAction.DISMISS
        }
    }
}

package cn.bidkey.shared

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import cn.bidkey.core.BidkeyException
import cn.bidkey.core.Lang

/**
 * Base of the screens' view models: plain Kotlin with StateFlow, no androidx, so they run on
 * the JVM in tests. The Android app hands in `viewModelScope`; the language comes from
 * [Settings]. Each action returns its Job (tests join it; the UI ignores it).
 */
abstract class ShellViewModel(protected val scope: CoroutineScope, protected val lang: StateFlow<Lang>) {
    private val _busy = MutableStateFlow(false)
    private val _error = MutableStateFlow<UiError?>(null)

    /** A call to the core is running: show a progress indicator, disable buttons. */
    val busy: StateFlow<Boolean> = _busy.asStateFlow()

    /** The last failure, until dismissed. */
    val error: StateFlow<UiError?> = _error.asStateFlow()

    fun dismissError() {
        _error.value = null
    }

    /** Run [block] on [scope]; a BidkeyException becomes [error]. */
    protected fun run(block: suspend () -> Unit): Job = scope.launch {
        _busy.value = true
        _error.value = null
        try {
            block()
        } catch (e: BidkeyException) {
            _error.value = UiError.of(e, lang.value)
        } finally {
            _busy.value = false
        }
    }
}

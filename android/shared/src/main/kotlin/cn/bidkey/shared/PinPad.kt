package cn.bidkey.shared

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/**
 * The PIN pad's state: digits typed so far (kept in a CharArray that is wiped, never in a
 * String until handed to the core), shown as dots. The core checks the PIN itself; the pad only
 * enforces 6–12 digits so the confirm button can be enabled.
 */
class PinPad(val minDigits: Int = 6, val maxDigits: Int = 12) {
    private val digits = CharArray(maxDigits)
    private var length = 0
    private val _dots = MutableStateFlow(0)

    /** How many dots to show. */
    val dots: StateFlow<Int> = _dots.asStateFlow()

    val complete: Boolean get() = length >= minDigits

    fun press(digit: Int) {
        require(digit in 0..9) { "not a digit" }
        if (length < maxDigits) {
            digits[length++] = ('0' + digit)
            _dots.value = length
        }
    }

    fun backspace() {
        if (length > 0) {
            digits[--length] = '\u0000'
            _dots.value = length
        }
    }

    fun clear() {
        digits.fill('\u0000')
        length = 0
        _dots.value = 0
    }

    /** The PIN for one core call; the pad is wiped. Null until [complete]. */
    fun take(): String? {
        if (!complete) return null
        val pin = String(digits, 0, length)
        clear()
        return pin
    }
}

package cn.bidkey.shared

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import cn.bidkey.core.Account
import cn.bidkey.core.Bidkey
import cn.bidkey.core.Lang
import cn.bidkey.core.Platform
import cn.bidkey.core.RealName
import cn.bidkey.core.RealNameMethod
import cn.bidkey.core.SmsPurpose

/** Settings: language, the account, log out, clear cache, the trading platform. */
class SettingsViewModel(private val bidkey: Bidkey, scope: CoroutineScope, language: MutableStateFlow<Lang>) :
    ShellViewModel(scope, language) {
    private val languageFlow = language
    private val _account = MutableStateFlow(runCatching { bidkey.account() }.getOrNull())
    private val _platforms = MutableStateFlow<List<Platform>>(emptyList())
    private val _current = MutableStateFlow(runCatching { bidkey.currentPlatform() }.getOrNull())

    private val _biometric = MutableStateFlow(runCatching { bidkey.biometric() }.getOrDefault(false))

    /** Biometric confirmation (kept in the wallet): fingerprint or face before each key use. */
    val biometric: StateFlow<Boolean> = _biometric.asStateFlow()

    /** Turn it on or off; the keystore asks the person for each key share (a refusal changes nothing). */
    fun setBiometric(on: Boolean) = run {
        bidkey.setBiometric(on)
        _biometric.value = bidkey.biometric()
    }

    /** Null when logged out: the app shows the login screen. */
    val account: StateFlow<Account?> = _account.asStateFlow()
    val platforms: StateFlow<List<Platform>> = _platforms.asStateFlow()
    val currentPlatform: StateFlow<Platform?> = _current.asStateFlow()

    /** Switch the language and keep the choice in the wallet for the next start. */
    fun setLanguage(l: Lang) = run {
        bidkey.setLanguage(l)
        languageFlow.value = l
    }

    /** After login or sign-up elsewhere. */
    fun accountChanged(a: Account?) {
        _account.value = a
    }

    fun refresh() = run { _account.value = bidkey.refreshAccount() }

    fun logOut() = run {
        bidkey.logOut()
        _account.value = null
    }

    fun clearCache() = run { bidkey.clearCache() }

    fun loadPlatforms(latitude: Double? = null, longitude: Double? = null) = run {
        val near = if (latitude != null && longitude != null) cn.bidkey.core.Location(latitude, longitude) else null
        _platforms.value = bidkey.platforms(near)
    }

    fun selectPlatform(id: String) = run { _current.value = bidkey.selectPlatform(id) }

    fun clearPlatform() = run {
        bidkey.clearPlatform()
        _current.value = null
    }
}

/** 登录: SMS code (registers a new number) or password; also sign-up and forgotten password. */
class LoginViewModel(
    private val bidkey: Bidkey,
    scope: CoroutineScope,
    lang: StateFlow<Lang>,
    private val deviceName: String,
    private val onLoggedIn: (Account) -> Unit,
) : ShellViewModel(scope, lang) {
    private val _resendIn = MutableStateFlow(0L)

    /** Seconds until another code may be sent (0: the button is enabled). */
    val resendIn: StateFlow<Long> = _resendIn.asStateFlow()

    fun sendCode(phone: String, purpose: SmsPurpose = SmsPurpose.LOGIN) = run {
        val sent = bidkey.sendSmsCode(phone.trim(), purpose)
        countDown(sent.resendAfter.toLong())
    }

    fun loginWithSms(phone: String, code: String) = run {
        onLoggedIn(bidkey.loginWithSms(phone.trim(), code.trim(), deviceName))
    }

    fun signUp(phone: String, code: String) = run {
        onLoggedIn(bidkey.signUp(phone.trim(), code.trim(), deviceName))
    }

    fun loginWithPassword(phone: String, password: String) = run {
        onLoggedIn(bidkey.loginWithPassword(phone.trim(), password, deviceName))
    }

    fun resetPassword(phone: String, code: String, newPassword: String) = run {
        bidkey.resetPassword(phone.trim(), code.trim(), newPassword)
    }

    private fun countDown(secs: Long) {
        // Set before the countdown starts, so the button is disabled as soon as the code is
        // sent (not when the countdown coroutine first runs).
        _resendIn.value = secs
        scope.launch {
            var left = secs
            while (left > 0) {
                _resendIn.value = left
                delay(1000)
                left--
            }
            _resendIn.value = 0
        }
    }
}

/** 实名认证, and the account's password and phone. */
class RealNameViewModel(
    private val bidkey: Bidkey,
    scope: CoroutineScope,
    lang: StateFlow<Lang>,
    private val onChanged: (Account) -> Unit,
) : ShellViewModel(scope, lang) {
    private val _done = MutableStateFlow(false)
    val done: StateFlow<Boolean> = _done.asStateFlow()

    fun verify(
        method: RealNameMethod,
        name: String,
        idNumber: String,
        bankCard: String? = null,
        bankPhone: String? = null,
    ) = run {
        val a = bidkey.verifyRealName(RealName(method, name.trim(), idNumber.trim(), bankCard?.trim(), bankPhone?.trim()))
        _done.value = true
        onChanged(a)
    }

    fun setPassword(old: String?, new: String) = run { bidkey.setPassword(old, new) }

    /** A code to the new number, and proof from the holder: a code to the old number or the password. */
    fun changePhone(newPhone: String, code: String, oldCode: String?, password: String?) = run {
        onChanged(bidkey.changePhone(newPhone.trim(), code.trim(), oldCode?.trim(), password))
    }
}

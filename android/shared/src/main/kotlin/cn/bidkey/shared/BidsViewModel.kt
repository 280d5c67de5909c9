package cn.bidkey.shared

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import cn.bidkey.core.BidRecipient
import cn.bidkey.core.BidSelfCheck
import cn.bidkey.core.BidTarget
import cn.bidkey.core.Bidkey
import cn.bidkey.core.CoreText
import cn.bidkey.core.EncryptedBid
import cn.bidkey.core.Lang
import cn.bidkey.core.Preauthorization
import cn.bidkey.core.coreText

/**
 * 投标文件: encrypt a bid on the phone before upload (the platform never sees the plaintext),
 * 解密自检 on the file as uploaded, and 预授权开标. Files are paths the app copied into its
 * own storage (from the system file picker); the core streams them.
 */
class BidsViewModel(private val bidkey: Bidkey, scope: CoroutineScope, lang: StateFlow<Lang>) :
    ShellViewModel(scope, lang) {
    private val _recipients = MutableStateFlow<List<BidRecipient>?>(null)
    private val _encrypted = MutableStateFlow<EncryptedBid?>(null)
    private val _selfCheck = MutableStateFlow<BidSelfCheck?>(null)
    private val _preauthorizations = MutableStateFlow<List<Preauthorization>>(emptyList())

    /** Who a bid for the chosen enterprise and platform would open for; null until loaded. */
    val recipients: StateFlow<List<BidRecipient>?> = _recipients.asStateFlow()
    val encrypted: StateFlow<EncryptedBid?> = _encrypted.asStateFlow()
    val selfCheck: StateFlow<BidSelfCheck?> = _selfCheck.asStateFlow()
    val preauthorizations: StateFlow<List<Preauthorization>> = _preauthorizations.asStateFlow()

    fun loadRecipients(enterpriseId: String, platformId: String) = run {
        _recipients.value = bidkey.bidRecipients(enterpriseId, platformId)
    }

    /** The warning shown instead of the encrypt button when nobody could open the bid. */
    fun noRecipientsWarning(): String? =
        if (_recipients.value?.isEmpty() == true) coreText(CoreText.NO_BID_RECIPIENTS, lang.value) else null

    fun encrypt(target: BidTarget, inputPath: String, outputPath: String) = run {
        _encrypted.value = null
        _encrypted.value = bidkey.encryptBidFile(target, inputPath, outputPath)
    }

    /** [pin] from the [PinPad]; the result stays until the next check. */
    fun selfCheck(path: String, pin: String) = run {
        _selfCheck.value = null
        _selfCheck.value = bidkey.selfCheckBidFile(path, pin)
    }

    /** The self-check's line: 可解密 ✓, or why the file would not open, in the app's language. */
    fun selfCheckText(): String? = when (val c = _selfCheck.value) {
        null -> null
        is BidSelfCheck.Passed -> coreText(CoreText.BID_OPENS, lang.value)
        is BidSelfCheck.Failed -> if (lang.value == Lang.ZH) c.reasonZh else c.reasonEn
    }

    /** Shown before [preauthorize] asks for the PIN. */
    fun preauthExplained(): String = coreText(CoreText.PREAUTH_EXPLAINED, lang.value)

    fun loadPreauthorizations() = run { _preauthorizations.value = bidkey.preauthorizations() }

    fun preauthorize(path: String, pin: String, openingAt: Long) = run {
        bidkey.preauthorizeOpening(path, pin, openingAt)
        _preauthorizations.value = bidkey.preauthorizations()
    }

    fun withdraw(id: String) = run {
        bidkey.withdrawPreauthorization(id)
        _preauthorizations.value = bidkey.preauthorizations()
    }
}

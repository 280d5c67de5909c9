package cn.bidkey.shared

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import cn.bidkey.core.Application
import cn.bidkey.core.Bidkey
import cn.bidkey.core.Enterprise
import cn.bidkey.core.EnterpriseSearch
import cn.bidkey.core.Lang
import cn.bidkey.core.MaterialFile
import cn.bidkey.core.Message
import cn.bidkey.core.Micropayment
import cn.bidkey.core.MicropaymentStatus
import cn.bidkey.core.micropaymentInstructions
import cn.bidkey.core.micropaymentStatusText

/** 企业: search, 认领, 对公打款 (with polling), 加入, my enterprises and messages. */
class EnterpriseViewModel(private val bidkey: Bidkey, scope: CoroutineScope, lang: StateFlow<Lang>) :
    ShellViewModel(scope, lang) {
    private val _search = MutableStateFlow<EnterpriseSearch?>(null)
    private val _mine = MutableStateFlow<List<Enterprise>>(emptyList())
    private val _micropayment = MutableStateFlow<Micropayment?>(null)
    private val _application = MutableStateFlow<Application?>(null)
    private val _messages = MutableStateFlow<List<Message>>(emptyList())

    val search: StateFlow<EnterpriseSearch?> = _search.asStateFlow()
    val mine: StateFlow<List<Enterprise>> = _mine.asStateFlow()

    /** The micro-payment being verified; [instructions] and [micropaymentText] describe it. */
    val micropayment: StateFlow<Micropayment?> = _micropayment.asStateFlow()

    /** The claim or join application just made. */
    val application: StateFlow<Application?> = _application.asStateFlow()
    val messages: StateFlow<List<Message>> = _messages.asStateFlow()

    fun search(query: String) = run { _search.value = bidkey.searchEnterprises(query) }

    fun loadMine() = run { _mine.value = bidkey.myEnterprises() }

    fun loadMessages() = run { _messages.value = bidkey.messages() }

    fun markRead(id: String) = run {
        bidkey.markMessageRead(id)
        _messages.value = bidkey.messages()
    }

    fun claim(uscc: String, name: String, legalRep: String?, materials: List<MaterialFile>) = run {
        _application.value = bidkey.claimEnterprise(uscc, name, legalRep?.ifBlank { null }, materials)
    }

    fun join(enterpriseId: String) = run { _application.value = bidkey.joinEnterprise(enterpriseId) }

    fun requestMicropayment(uscc: String, name: String, accountLast6: String) = run {
        _micropayment.value = bidkey.requestMicropayment(uscc, name, accountLast6)
    }

    /** The transfer to make, in the app's language (the core's wording). */
    fun instructions(): String? = _micropayment.value?.let { micropaymentInstructions(it, lang.value) }

    fun micropaymentText(): String? = _micropayment.value?.let { micropaymentStatusText(it.status, lang.value) }

    /**
     * Poll the micro-payment every [everyMillis] until it is matched or expired, at most
     * [maxPolls] times; the screen stays open meanwhile. On a match, my enterprises reload.
     */
    fun pollMicropayment(everyMillis: Long = 5_000, maxPolls: Int = 120): Job = run {
        var polls = 0
        while (polls++ < maxPolls) {
            val id = _micropayment.value?.id ?: return@run
            val mp = bidkey.micropayment(id)
            _micropayment.value = mp
            if (mp.status != MicropaymentStatus.PENDING) {
                if (mp.status == MicropaymentStatus.MATCHED) _mine.value = bidkey.myEnterprises()
                return@run
            }
            delay(everyMillis)
        }
    }
}

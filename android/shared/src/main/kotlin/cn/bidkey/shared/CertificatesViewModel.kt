package cn.bidkey.shared

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import cn.bidkey.core.Application
import cn.bidkey.core.Bidkey
import cn.bidkey.core.CertList
import cn.bidkey.core.Lang
import cn.bidkey.core.PairChange
import cn.bidkey.core.RealName
import cn.bidkey.core.SmsPurpose
import cn.bidkey.core.Status
import cn.bidkey.core.CoreText
import cn.bidkey.core.coreText
import cn.bidkey.core.statusLabel

/** 证书管理: the lists, applications and orders, enrolment, and every action on a pair. */
class CertificatesViewModel(private val bidkey: Bidkey, scope: CoroutineScope, lang: StateFlow<Lang>) :
    ShellViewModel(scope, lang) {
    private val _list = MutableStateFlow<CertList?>(null)
    private val _applications = MutableStateFlow<List<Application>>(emptyList())
    private val _lastChange = MutableStateFlow<PairChange?>(null)

    val list: StateFlow<CertList?> = _list.asStateFlow()
    val applications: StateFlow<List<Application>> = _applications.asStateFlow()

    /** The outcome of the last loss report, undo, or revocation. */
    val lastChange: StateFlow<PairChange?> = _lastChange.asStateFlow()

    fun load() = run {
        _list.value = bidkey.certificates()
        _applications.value = bidkey.applications()
    }

    /** An SMS code for 挂失/解挂 (`LOSS_REPORT`), 解锁 (`UNLOCK`) or 找回 (`RECOVER`). */
    fun sendCode(phone: String, purpose: SmsPurpose) = run { bidkey.sendSmsCode(phone.trim(), purpose) }

    fun statusText(status: Status): String = statusLabel(status, lang.value)

    /** Shown before [revoke] is confirmed. */
    fun revokeWarning(): String = coreText(CoreText.REVOKE_WARNING, lang.value)

    fun applyPersonal() = run {
        bidkey.applyPersonalCertificate()
        _applications.value = bidkey.applications()
    }

    /** Pay an application's order (sandbox provider in this build), then refresh. */
    fun pay(application: Application) = run {
        val order = application.order ?: return@run
        bidkey.payOrder(order.id)
        _applications.value = bidkey.applications()
    }

    /** 下载证书 of a paid application under [pin] (from the [PinPad]). */
    fun enroll(applicationId: String, pin: String) = run {
        bidkey.enroll(applicationId, pin)
        _list.value = bidkey.certificates()
        _applications.value = bidkey.applications()
    }

    fun renew(serial: String) = run {
        bidkey.renew(serial)
        _applications.value = bidkey.applications()
    }

    fun reapply(serial: String) = run {
        bidkey.reapply(serial)
        _applications.value = bidkey.applications()
    }

    fun revoke(serial: String, pin: String) = run {
        _lastChange.value = bidkey.revoke(serial, pin)
        _list.value = bidkey.certificates()
    }

    fun changePin(oldPin: String, newPin: String) = run { bidkey.changePin(oldPin, newPin) }

    fun unlock(serial: String, realName: RealName, code: String) = run {
        bidkey.unlock(serial, realName, code)
        _list.value = bidkey.certificates()
    }

    /** 挂失 needs no login: by phone and SMS code, one pair or (serial null) all. */
    fun reportLoss(phone: String, code: String, serial: String?) = run {
        _lastChange.value = bidkey.reportLoss(phone, code, serial)
    }

    fun undoLossReport(serial: String, code: String) = run {
        _lastChange.value = bidkey.undoLossReport(serial, code)
        _list.value = bidkey.certificates()
    }

    fun recover(realName: RealName, code: String, enterpriseId: String?) = run {
        bidkey.recover(realName, code, enterpriseId)
        _applications.value = bidkey.applications()
    }
}

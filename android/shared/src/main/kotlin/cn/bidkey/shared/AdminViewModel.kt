package cn.bidkey.shared

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import cn.bidkey.core.Bidkey
import cn.bidkey.core.Grant
import cn.bidkey.core.GrantFilter
import cn.bidkey.core.InfoChange
import cn.bidkey.core.JoinRequestView
import cn.bidkey.core.Lang
import cn.bidkey.core.Member
import cn.bidkey.core.Seal
import cn.bidkey.core.Zone

/** The admin's screens for one enterprise: 人员管理, 转授管理员, 授权管理 per platform, 印章, 专区. */
class AdminViewModel(
    private val bidkey: Bidkey,
    scope: CoroutineScope,
    lang: StateFlow<Lang>,
    val enterpriseId: String,
) : ShellViewModel(scope, lang) {
    private val _staff = MutableStateFlow<List<Member>>(emptyList())
    private val _joinRequests = MutableStateFlow<List<JoinRequestView>>(emptyList())
    private val _grants = MutableStateFlow<List<Grant>>(emptyList())
    private val _seals = MutableStateFlow<List<Seal>>(emptyList())
    private val _zones = MutableStateFlow<List<Zone>>(emptyList())
    private val _infoChange = MutableStateFlow<InfoChange?>(null)

    val staff: StateFlow<List<Member>> = _staff.asStateFlow()
    val joinRequests: StateFlow<List<JoinRequestView>> = _joinRequests.asStateFlow()
    val grants: StateFlow<List<Grant>> = _grants.asStateFlow()
    val seals: StateFlow<List<Seal>> = _seals.asStateFlow()
    val zones: StateFlow<List<Zone>> = _zones.asStateFlow()

    /** The change of information just filed; show its warning in the app's language. */
    val infoChange: StateFlow<InfoChange?> = _infoChange.asStateFlow()

    fun load() = run {
        _staff.value = bidkey.staff(enterpriseId)
        _joinRequests.value = bidkey.joinRequests(enterpriseId)
        _seals.value = bidkey.seals(enterpriseId)
        _zones.value = bidkey.zones(enterpriseId)
    }

    fun invite(phone: String) = run {
        bidkey.inviteStaff(enterpriseId, phone)
        _joinRequests.value = bidkey.joinRequests(enterpriseId)
    }

    /** Removing staff, like every change of the role, grants and seal images, takes the admin's PIN (ADR 0018). */
    fun remove(accountId: String, pin: String) = run {
        bidkey.removeStaff(enterpriseId, accountId, pin)
        _staff.value = bidkey.staff(enterpriseId)
    }

    fun approve(applicationId: String) = run {
        bidkey.approveJoin(enterpriseId, applicationId)
        _joinRequests.value = bidkey.joinRequests(enterpriseId)
    }

    fun reject(applicationId: String, reason: String) = run {
        bidkey.rejectJoin(enterpriseId, applicationId, reason)
        _joinRequests.value = bidkey.joinRequests(enterpriseId)
    }

    fun transferAdmin(toAccountId: String, pin: String) = run { _staff.value = bidkey.transferAdmin(enterpriseId, toAccountId, pin) }

    fun changeInfo(name: String?, legalRep: String?) = run {
        _infoChange.value = bidkey.changeEnterpriseInfo(enterpriseId, name?.ifBlank { null }, legalRep?.ifBlank { null })
    }

    fun infoWarning(): String? = _infoChange.value?.let { if (lang.value == Lang.ZH) it.warningZh else it.warningEn }

    /** 授权管理 for one platform (or every platform when [platformId] is null). */
    fun loadGrants(platformId: String? = null, includeRevoked: Boolean = false) = run {
        _grants.value = bidkey.grants(enterpriseId, GrantFilter(platformId = platformId, includeRevoked = includeRevoked))
    }

    fun grant(accountId: String, platformId: String, pin: String) = run {
        bidkey.addGrant(enterpriseId, accountId, platformId, pin)
        _grants.value = bidkey.grants(enterpriseId, GrantFilter(platformId = platformId))
    }

    fun revokeGrant(grantId: String, pin: String) = run {
        bidkey.revokeGrant(enterpriseId, grantId, pin)
        _grants.value = bidkey.grants(enterpriseId, GrantFilter())
    }

    fun addSeal(name: String, png: ByteArray, pin: String) = run {
        bidkey.addSeal(enterpriseId, name, png, pin)
        _seals.value = bidkey.seals(enterpriseId)
    }

    fun renameSeal(sealId: String, name: String) = run {
        bidkey.renameSeal(enterpriseId, sealId, name)
        _seals.value = bidkey.seals(enterpriseId)
    }

    fun replaceSealImage(sealId: String, png: ByteArray, pin: String) = run {
        bidkey.replaceSealImage(enterpriseId, sealId, png, pin)
        _seals.value = bidkey.seals(enterpriseId)
    }

    fun deleteSeal(sealId: String) = run {
        bidkey.deleteSeal(enterpriseId, sealId)
        _seals.value = bidkey.seals(enterpriseId)
    }

    /** The PNG of a seal, for display; null after an error (see [error]). */
    suspend fun sealImage(sealId: String): ByteArray? =
        runCatching { bidkey.sealImage(enterpriseId, sealId) }.getOrNull()

    fun bindZone(platformId: String) = run {
        bidkey.bindZone(enterpriseId, platformId)
        _zones.value = bidkey.zones(enterpriseId)
    }

    fun unbindZone(platformId: String) = run {
        bidkey.unbindZone(enterpriseId, platformId)
        _zones.value = bidkey.zones(enterpriseId)
    }
}

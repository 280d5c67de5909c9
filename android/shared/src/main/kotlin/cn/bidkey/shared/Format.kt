package cn.bidkey.shared

import cn.bidkey.core.CertPair
import cn.bidkey.core.Lang
import cn.bidkey.core.PairState
import cn.bidkey.core.Role
import cn.bidkey.core.CoreText
import cn.bidkey.core.coreText
import cn.bidkey.core.pairStateLabel
import cn.bidkey.core.roleLabel
import cn.bidkey.core.validityText
import java.time.Instant
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter

/** Display formatting shared by the screens; every word in it is the core's (statuses, roles, validity). */
object Format {
    private val beijing = ZoneOffset.ofHours(8)
    private val date = DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(beijing)
    private val dateTime = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(beijing)

    /** Fen as yuan: 37 → "¥0.37", 150000 → "¥1500.00". */
    fun yuan(fen: Long): String {
        val sign = if (fen < 0) "-" else ""
        val abs = Math.abs(fen)
        return "$sign¥${abs / 100}.${(abs % 100).toString().padStart(2, '0')}"
    }

    /** Unix seconds as a Beijing date. */
    fun day(unix: Long): String = date.format(Instant.ofEpochSecond(unix))

    /** Unix seconds as Beijing date and time. */
    fun time(unix: Long): String = dateTime.format(Instant.ofEpochSecond(unix))

    /** The core's label of a pair's state (生效中, 已挂失 …). */
    fun pairState(state: PairState, lang: Lang): String = pairStateLabel(state, lang)

    /** The core's word for a member's role (管理员 / 办事人员). */
    fun role(role: Role, lang: Lang): String = roleLabel(role, lang)

    /** The title of a certificate card: the enterprise, or the core's 个人证书. */
    fun pairTitle(pair: CertPair, lang: Lang): String =
        pair.enterpriseName ?: coreText(CoreText.PERSONAL_CERTIFICATE, lang)

    /** The core's "有效期至 2027-11-22（剩余30天）" / "Valid until … (30 days left)"; `now` in Unix seconds. */
    fun validity(notAfter: Long, now: Long, lang: Lang): String = validityText(notAfter, now, lang)

    /** What a certificate card may offer, in the order of the 证书管理 screen. */
    fun actions(pair: CertPair): List<CertAction> = buildList {
        if (!pair.thisDevice && pair.state != PairState.REVOKED && pair.state != PairState.EXPIRED) add(CertAction.RECOVER)
        if (pair.keyLocked) add(CertAction.UNLOCK)
        when (pair.state) {
            PairState.IN_FORCE, PairState.EXPIRING -> {
                if (pair.thisDevice) add(CertAction.CHANGE_PIN)
                if (pair.state == PairState.EXPIRING) add(CertAction.RENEW)
                add(CertAction.REPORT_LOSS)
                if (pair.thisDevice) add(CertAction.REVOKE)
            }
            PairState.SUSPENDED -> add(CertAction.UNDO_LOSS_REPORT)
            PairState.EXPIRED -> add(CertAction.REAPPLY)
            PairState.REVOKED -> {}
        }
    }
}

/** A button on a certificate card. */
enum class CertAction { RECOVER, UNLOCK, CHANGE_PIN, RENEW, REPORT_LOSS, REVOKE, UNDO_LOSS_REPORT, REAPPLY }

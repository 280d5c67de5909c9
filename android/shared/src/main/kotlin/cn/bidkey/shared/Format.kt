package cn.bidkey.shared

import cn.bidkey.core.CertPair
import cn.bidkey.core.Lang
import cn.bidkey.core.PairState
import cn.bidkey.core.Role
import cn.bidkey.core.pairStateLabel
import java.time.Instant
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter

/** Display formatting shared by the screens; the words of statuses come from the core where it has them. */
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

    fun role(role: Role, lang: Lang): String = when (role) {
        Role.ADMIN -> if (lang == Lang.ZH) "管理员" else "Administrator"
        Role.STAFF -> if (lang == Lang.ZH) "办事人员" else "Staff"
    }

    /** The title of a certificate card: the enterprise, or 个人证书. */
    fun pairTitle(pair: CertPair, lang: Lang): String =
        pair.enterpriseName ?: if (lang == Lang.ZH) "个人证书" else "Personal certificate"

    /** "有效期至 2027-11-22（剩余 30 天）" / "Valid until … (30 days left)"; `now` in Unix seconds. */
    fun validity(notAfter: Long, now: Long, lang: Lang): String {
        val days = Math.floorDiv(notAfter - now, 86_400L)
        return when {
            days < 0 && lang == Lang.ZH -> "已于${day(notAfter)}过期"
            days < 0 -> "Expired on ${day(notAfter)}"
            lang == Lang.ZH -> "有效期至${day(notAfter)}（剩余${days}天）"
            else -> "Valid until ${day(notAfter)} ($days ${if (days == 1L) "day" else "days"} left)"
        }
    }

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

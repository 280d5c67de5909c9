package cn.bidkey.shared.scan

import cn.bidkey.shared.Format
import uniffi.bidkey.DigestAlg
import uniffi.bidkey.Lang
import uniffi.bidkey.ScanAction
import uniffi.bidkey.ScanKind
import uniffi.bidkey.ScanView

/** The words of the scan confirmation page (扫码确认), in the app's language. */
object ScanText {
    fun kind(kind: ScanKind, lang: Lang): String = when (lang) {
        Lang.ZH -> when (kind) {
            ScanKind.BIND -> "绑定证书"
            ScanKind.LOGIN -> "扫码登录"
            ScanKind.SIGN -> "签名签章"
            ScanKind.DECRYPT -> "开标解密"
            ScanKind.SESSION -> "开启会话"
        }
        Lang.EN -> when (kind) {
            ScanKind.BIND -> "Bind certificate"
            ScanKind.LOGIN -> "Log in"
            ScanKind.SIGN -> "Sign"
            ScanKind.DECRYPT -> "Decrypt bids"
            ScanKind.SESSION -> "Open a session"
        }
    }

    /** Everything the person must see before the PIN: who asks, the four digits, what, with what. */
    fun details(v: ScanView, lang: Lang): List<String> {
        val zh = lang == Lang.ZH
        fun t(z: String, e: String) = if (zh) z else e
        val lines = mutableListOf(
            t("平台：", "Platform: ") + v.platformName,
            t("网址：", "Origin: ") + v.origin,
            t("校验码：", "Verification code: ") + v.verificationCode + t("（请与平台页面核对）", " (compare with the platform's page)"),
            t("操作：", "Action: ") + kind(v.kind, lang),
        )
        when (val a = v.action) {
            is ScanAction.Bind -> lines += t("平台账号：", "Platform account: ") + a.platformUser
            is ScanAction.Login -> {}
            // The core's own view of each document: exactly what it will sign (CMS over the digest).
            is ScanAction.Sign -> v.documents.forEach { d ->
                val alg = if (d.digestAlg == DigestAlg.SM3) "SM3" else "SHA-256"
                lines += "· ${d.name}（$alg ${d.digestShort}，" + t("共${d.pageCount}页）", "${d.pageCount} pages)")
                d.seal?.let { s ->
                    lines += t(
                        "  盖章：${s.sealName}，第${s.page}页，距左${s.xMm}毫米、距上${s.yMm}毫米，${s.widthMm}×${s.heightMm}毫米",
                        "  Seal: ${s.sealName}, page ${s.page}, ${s.xMm} mm from the left, ${s.yMm} mm from the top, ${s.widthMm}×${s.heightMm} mm",
                    )
                }
            }
            is ScanAction.Decrypt -> {
                lines += t("项目：", "Tender: ") + a.tenderName
                lines += t("开标时间：", "Opening: ") + Format.time(a.openingAt)
                a.files.forEach { f ->
                    val mine = f.fileName in v.decryptableFiles
                    lines += "· ${f.fileName}" + if (mine) "" else t("（非本机证书）", " (not for this phone)")
                }
            }
            is ScanAction.Session -> {
                lines += t("会话时长：", "Session length: ") + minutes(a.ttlSecs, zh)
                if (a.autoConfirmAllowed) lines += t("平台允许自动确认签名和登录", "The platform allows auto-confirm of signing and login")
            }
        }
        v.certificate?.let { c ->
            lines += t("使用证书：", "Certificate: ") + (c.enterpriseName ?: c.subject) + " · " + c.serial
        }
        lines += t("有效期至 ", "Valid until ") + Format.time(v.expiresAt)
        return lines
    }

    private fun minutes(secs: ULong, zh: Boolean): String {
        val m = (secs / 60uL).toString()
        return if (zh) "${m}分钟" else "$m min"
    }
}

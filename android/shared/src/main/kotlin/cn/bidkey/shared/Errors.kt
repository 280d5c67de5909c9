package cn.bidkey.shared

import uniffi.bidkey.BidkeyException
import uniffi.bidkey.Lang
import uniffi.bidkey.CoreText
import uniffi.bidkey.coreText

/** What the screen offers after an error. */
enum class ErrorAction {
    /** Show a retry button. */
    RETRY,

    /** Go to the login screen. */
    LOG_IN,

    /** Ask for the PIN again. */
    PIN_AGAIN,

    /** Lead to 解锁 (real-name again + SMS code). */
    UNLOCK,

    /** Let the person correct the highlighted field. */
    FIX_INPUT,

    /** Nothing to do but acknowledge (and report). */
    DISMISS,
}

/** An error ready for a dialog or snackbar, in the app's language. */
data class UiError(val message: String, val action: ErrorAction, val serverCode: String? = null) {
    companion object {
        /** The one place an exception of the core becomes words; every screen goes through it. */
        fun of(e: BidkeyException, lang: Lang): UiError = when (e) {
            is BidkeyException.Network -> UiError(coreText(CoreText.NETWORK_DOWN, lang), ErrorAction.RETRY)
            is BidkeyException.Server -> UiError(
                (if (lang == Lang.ZH) e.messageZh else e.messageEn) + retryHint(e.retryAfterSecs, lang),
                if (e.retryAfterSecs != null) ErrorAction.RETRY else ErrorAction.DISMISS,
                e.code,
            )
            is BidkeyException.WrongPin -> UiError(
                if (lang == Lang.ZH) "证书密码错误，还可尝试${e.triesLeft}次。"
                else "Wrong PIN. ${e.triesLeft} ${if (e.triesLeft == 1u) "try" else "tries"} left.",
                ErrorAction.PIN_AGAIN,
            )
            is BidkeyException.KeyLocked -> UiError(coreText(CoreText.KEY_LOCKED_HELP, lang), ErrorAction.UNLOCK)
            is BidkeyException.UnlockLimited -> UiError(
                coreText(CoreText.UNLOCK_LIMITED, lang) + untilHint(e.nextAt, lang),
                ErrorAction.DISMISS,
            )
            is BidkeyException.RecoveryCoolingOff -> UiError(
                coreText(CoreText.RECOVERY_COOLING_OFF, lang) + untilHint(e.until, lang),
                ErrorAction.DISMISS,
            )
            is BidkeyException.NotLoggedIn -> UiError(
                if (lang == Lang.ZH) "登录已失效，请重新登录。" else "Please log in again.",
                ErrorAction.LOG_IN,
            )
            is BidkeyException.InvalidInput -> UiError(
                if (lang == Lang.ZH) "请检查${fieldName(e.field, lang)}。" else "Please check the ${fieldName(e.field, lang)}.",
                ErrorAction.FIX_INPUT,
            )
            is BidkeyException.NotFound -> UiError(
                if (lang == Lang.ZH) "未找到：${e.what}" else "Not found: ${e.what}",
                ErrorAction.DISMISS,
            )
            is BidkeyException.Storage -> UiError(
                if (lang == Lang.ZH) "本机数据读写失败，请重启应用后重试。" else "The app's storage failed. Restart the app and try again.",
                ErrorAction.DISMISS,
            )
            is BidkeyException.Crypto -> UiError(
                if (lang == Lang.ZH) "安全校验失败，请联系客服。" else "A security check failed. Please contact support.",
                ErrorAction.DISMISS,
            )
            is BidkeyException.Keystore -> UiError(
                if (lang == Lang.ZH) "设备安全密钥不可用（可能已取消验证）。" else "The device key is unavailable (verification may have been cancelled).",
                ErrorAction.RETRY,
            )
        }

        /** The server time (Unix seconds) from which a refused step is possible, in local time. */
        private fun untilHint(unix: Long, lang: Lang): String {
            val at = java.time.Instant.ofEpochSecond(unix).atZone(java.time.ZoneId.systemDefault())
                .format(java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm"))
            return if (lang == Lang.ZH) "（$at 起）" else " (from $at)"
        }

        private fun retryHint(secs: ULong?, lang: Lang): String = when {
            secs == null -> ""
            lang == Lang.ZH -> "（${secs}秒后可重试）"
            else -> " (try again in $secs s)"
        }

        /** Chinese names of the fields the core names in `InvalidInput` (English in the core). */
        private val fieldsZh = mapOf(
            "phone number" to "手机号码",
            "PIN" to "证书密码（6至12位数字）",
            "password" to "登录密码（至少8位）",
            "name" to "姓名",
            "ID number" to "身份证号码",
            "unified social credit code" to "统一社会信用代码",
            "enterprise name" to "企业名称",
            "legal representative" to "法定代表人",
            "last six digits of the account" to "对公账户后六位",
            "location" to "定位",
            "materials (1 to 5 files)" to "认领材料（1至5个文件）",
            "material type (PNG, JPEG or PDF)" to "材料格式（PNG、JPEG或PDF）",
            "material size (at most 2 MiB)" to "材料大小（不超过2MB）",
            "material file name" to "材料文件名",
            "seal name" to "印章名称",
            "seal image (PNG required)" to "印章图片（须为PNG）",
            "seal image size (at most 512 KiB)" to "印章图片大小（不超过512KB）",
            "document name" to "文件名称",
            "document digest" to "文件摘要（须为32字节）",
            "digest algorithm" to "摘要算法（须为SM3）",
            "page count" to "页数",
            "seal position" to "盖章位置",
            "seal" to "印章（本证书不能使用该印章）",
            "search text (2 to 100 characters)" to "搜索内容（2至100个字）",
            "reason (1 to 200 characters)" to "驳回原因（1至200个字）",
            "new name or legal representative" to "新的企业名称或法定代表人",
        )

        fun fieldName(field: String, lang: Lang): String =
            if (lang == Lang.ZH) fieldsZh[field] ?: field else field
    }
}

package cn.bidkey.shared.scan

import cn.bidkey.core.Lang
import cn.bidkey.core.ScanKind
import cn.bidkey.core.ScanView
import cn.bidkey.core.scanKindLabel

/**
 * The words of the scan confirmation page (扫码确认) in the app's language: the core's own
 * lines (`ScanView.pageZh` / `pageEn`, the same page the CLI and the iOS app show).
 */
object ScanText {
    fun kind(kind: ScanKind, lang: Lang): String = scanKindLabel(kind, lang)

    /** Everything the person must see before the PIN: who asks, the four digits, what, with what. */
    fun details(v: ScanView, lang: Lang): List<String> = if (lang == Lang.ZH) v.pageZh else v.pageEn
}

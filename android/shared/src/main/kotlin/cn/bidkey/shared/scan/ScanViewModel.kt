package cn.bidkey.shared.scan

import cn.bidkey.shared.ShellViewModel
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import cn.bidkey.core.Bidkey
import cn.bidkey.core.BidkeyException
import cn.bidkey.core.Lang
import cn.bidkey.core.ScanAction
import cn.bidkey.core.ScanDone
import cn.bidkey.core.ScanSession
import cn.bidkey.core.ScanView
import cn.bidkey.core.SessionRequest

/**
 * 扫一扫 and 会话: a QR from a platform (bind, login, sign, decrypt, or a session) is read by the
 * camera, the core fetches and verifies the request ([request]), the person compares the four
 * digits with the platform's page and confirms with the PIN or refuses. While a session is open
 * its requests arrive without a QR ([listenForSessionRequests]); those the phone confirmed
 * itself (auto-confirm) are listed in [autoConfirmed], the others become [request].
 */
class ScanViewModel(private val bidkey: Bidkey, scope: CoroutineScope, lang: StateFlow<Lang>) :
    ShellViewModel(scope, lang) {
    private val _request = MutableStateFlow<ScanView?>(null)
    private val _outcome = MutableStateFlow<ScanDone?>(null)
    private val _sessions = MutableStateFlow<List<ScanSession>>(emptyList())
    private val _autoConfirmed = MutableStateFlow<List<SessionRequest>>(emptyList())
    private var lastUri: String? = null
    private var listener: Job? = null

    /** The verified request to confirm: platform, origin, four digits, what is asked, the certificate. */
    val request: StateFlow<ScanView?> = _request.asStateFlow()

    /** What the last confirmation did. */
    val outcome: StateFlow<ScanDone?> = _outcome.asStateFlow()
    val sessions: StateFlow<List<ScanSession>> = _sessions.asStateFlow()

    /** Session requests the phone confirmed by itself, newest last: shown as done, not asked. */
    val autoConfirmed: StateFlow<List<SessionRequest>> = _autoConfirmed.asStateFlow()

    /** A QR was read by the camera; the same code seen again while its request is open is ignored. */
    fun scanned(uri: String): Job? {
        if (uri == lastUri && _request.value != null) return null
        if (_request.value != null) return null
        lastUri = uri
        return run {
            _outcome.value = null
            _request.value = bidkey.scan(uri.trim())
        }
    }

    /**
     * A `bidkey://scan?…` link opened the app (same-device use: the bidder tapped it in the
     * phone's browser). The core turns it into the QR code's request and verifies it exactly as
     * a scanned one; the same confirmation page follows.
     */
    fun linked(link: String): Job? {
        if (_request.value != null) return null
        return run {
            _outcome.value = null
            _request.value = bidkey.scanLink(link.trim())
        }
    }

    /** The lines of the confirmation page for the current request. */
    fun details(): List<String> = _request.value?.let { ScanText.details(it, lang.value) } ?: emptyList()

    /** Whether the confirmation page offers the auto-confirm switch (a session that allows it). */
    fun offersAutoConfirm(): Boolean =
        (_request.value?.action as? ScanAction.Session)?.autoConfirmAllowed == true

    /**
     * Confirm with the PIN from the [cn.bidkey.shared.PinPad]. A wrong PIN keeps the request open
     * (error `PIN_AGAIN`); [autoConfirm] only matters for a session that allows it.
     */
    fun confirm(pin: String, autoConfirm: Boolean = false) = run {
        val r = _request.value ?: return@run
        _outcome.value = if (r.action is ScanAction.Session) {
            bidkey.confirmSession(r.requestId, pin, autoConfirm && offersAutoConfirm())
        } else {
            bidkey.confirmScan(r.requestId, pin)
        }
        closeRequest()
        if (r.action is ScanAction.Session) _sessions.value = bidkey.scanSessions()
    }

    /** Refuse; the platform learns it (with the [reason], if any). */
    fun reject(reason: String? = null) = run {
        val r = _request.value ?: return@run
        bidkey.rejectScan(r.requestId, reason?.trim()?.takeIf { it.isNotEmpty() })
        closeRequest()
    }

    /** Close the page without answering (an expired or failed request). */
    fun dismiss() = closeRequest()

    private fun closeRequest() {
        _request.value = null
        lastUri = null
    }

    fun loadSessions() = run { _sessions.value = bidkey.scanSessions() }

    /** End a session: the platform can send nothing more through it. */
    fun endSession(sessionId: String) = run {
        bidkey.endScanSession(sessionId)
        _sessions.value = bidkey.scanSessions()
    }

    /** Turn auto-confirm off. */
    fun stopAutoConfirm(sessionId: String) = run {
        bidkey.stopAutoConfirm(sessionId)
        _sessions.value = bidkey.scanSessions()
    }

    /** Turn auto-confirm on again with the PIN (a session this phone opened, if the platform allows it). */
    fun startAutoConfirm(sessionId: String, pin: String) = run {
        bidkey.startAutoConfirm(sessionId, pin)
        _sessions.value = bidkey.scanSessions()
    }

    /** Sessions still open at [now] (unix seconds). */
    fun openSessions(now: Long): List<ScanSession> =
        _sessions.value.filter { it.endedAt == null && it.expiresAt > now }

    /** One long-poll for the next session request; what came is presented. */
    suspend fun receiveOnce(waitSecs: ULong): SessionRequest? {
        val next = bidkey.nextSessionRequest(waitSecs) ?: return null
        if (next.done != null) {
            _autoConfirmed.value = _autoConfirmed.value + next
        } else {
            _request.value = next.view
        }
        return next
    }

    /** While the sessions screen is open, wait for the platforms' next requests. */
    fun listenForSessionRequests(waitSecs: ULong = 25uL) {
        listener?.cancel()
        listener = scope.launch {
            while (isActive) {
                try {
                    receiveOnce(waitSecs)
                } catch (e: BidkeyException.NotLoggedIn) {
                    return@launch
                } catch (e: BidkeyException) {
                    delay(3_000) // network or a request that failed verification: keep listening
                }
            }
        }
    }

    fun stopListening() {
        listener?.cancel()
        listener = null
    }
}

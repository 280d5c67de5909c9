package cn.bidkey.shared.scan

// Written against the core's planned scan API (issue "scan"), which is not in the bindings
// yet: `scan(uri): ScanRequest`, `confirmScan(requestId, pin): ScanOutcome`,
// `rejectScan(requestId)`, `scanSessions()`, `endScanSession(id)`,
// `nextSessionRequest(waitSecs): ScanRequest?`. The field names of ScanRequest, ScanKind,
// ScanOutcome and ScanSession used here are the planned ones; adjust them in this file only
// when the API lands. Until then bindings/run-kotlin-tests.sh leaves this directory out of
// the JVM compile (see android/README.md).

import cn.bidkey.shared.ShellViewModel
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import uniffi.bidkey.Bidkey
import uniffi.bidkey.BidkeyException
import uniffi.bidkey.Lang
import uniffi.bidkey.ScanKind
import uniffi.bidkey.ScanOutcome
import uniffi.bidkey.ScanRequest
import uniffi.bidkey.ScanSession

/** 扫一扫: a QR from a platform (bind, login, sign, decrypt, or a signing session). */
class ScanViewModel(private val bidkey: Bidkey, scope: CoroutineScope, lang: StateFlow<Lang>) :
    ShellViewModel(scope, lang) {
    private val _request = MutableStateFlow<ScanRequest?>(null)
    private val _outcome = MutableStateFlow<ScanOutcome?>(null)
    private val _sessions = MutableStateFlow<List<ScanSession>>(emptyList())
    private var lastUri: String? = null
    private var listener: Job? = null

    /** The request to confirm: show the platform, what is signed or decrypted, the expiry. */
    val request: StateFlow<ScanRequest?> = _request.asStateFlow()
    val outcome: StateFlow<ScanOutcome?> = _outcome.asStateFlow()
    val sessions: StateFlow<List<ScanSession>> = _sessions.asStateFlow()

    /** A QR was read by the camera; the same code seen twice in a row is ignored. */
    fun scanned(uri: String) {
        if (uri == lastUri || _request.value != null) return
        lastUri = uri
        run {
            _outcome.value = null
            _request.value = bidkey.scan(uri)
        }
    }

    /** Whether the confirm step needs the PIN pad (bind and session-start may not). */
    fun needsPin(): Boolean = when (_request.value?.kind) {
        ScanKind.SIGN, ScanKind.DECRYPT, ScanKind.LOGIN, ScanKind.SESSION -> true
        ScanKind.BIND, null -> false
    }

    fun confirm(pin: String) = run {
        val r = _request.value ?: return@run
        _outcome.value = bidkey.confirmScan(r.requestId, pin)
        _request.value = null
        lastUri = null
        if (r.kind == ScanKind.SESSION) loadSessions()
    }

    fun reject() = run {
        val r = _request.value ?: return@run
        bidkey.rejectScan(r.requestId)
        _request.value = null
        lastUri = null
    }

    fun loadSessions() = run { _sessions.value = bidkey.scanSessions() }

    fun endSession(id: String) = run {
        bidkey.endScanSession(id)
        _sessions.value = bidkey.scanSessions()
    }

    /** While a session is open, wait for the platform's next request and present it. */
    fun listenForSessionRequests(waitSecs: UInt = 25u) {
        listener?.cancel()
        listener = scope.launch {
            while (isActive) {
                try {
                    bidkey.nextSessionRequest(waitSecs)?.let { _request.value = it }
                } catch (e: BidkeyException.NotFound) {
                    return@launch // no open session any more
                } catch (e: BidkeyException.Network) {
                    kotlinx.coroutines.delay(3_000)
                }
            }
        }
    }

    fun stopListening() {
        listener?.cancel()
        listener = null
    }
}

package cn.bidkey.app.ui

import cn.bidkey.app.R
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.Format
import cn.bidkey.shared.scan.ScanViewModel

/**
 * Sessions with platforms (one scan, several requests): end one, turn auto-confirm off. While
 * shown, the platforms' next requests are awaited: auto-confirmed ones are listed as done, the
 * others open the scan confirmation (the same dialog as a scanned QR, on the scan tab's view model).
 */
@Composable
fun SessionsScreen(vm: ScanViewModel, w: Words) {
    val sessions by vm.sessions.collectAsStateWithLifecycle()
    val autoDone by vm.autoConfirmed.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) {
        vm.loadSessions()
        vm.listenForSessionRequests()
    }
    DisposableEffect(Unit) { onDispose { vm.stopListening() } }
    // The session whose auto-confirm is being switched on: that takes the PIN.
    var pinFor by remember { mutableStateOf<String?>(null) }
    ScreenFrame(w(R.string.sessions), vm, w) {
        val open = vm.openSessions(System.currentTimeMillis() / 1000)
        if (open.isEmpty()) Text(w(R.string.no_open_session))
        LazyColumn {
            items(open) { s ->
                ListItem(
                    headlineContent = { Text(s.platformName) },
                    supportingContent = {
                        Column {
                            Text(s.origin)
                            Text(w(R.string.until) + Format.time(s.expiresAt))
                            if (s.autoConfirm) Text(w(R.string.auto_confirm_on))
                        }
                    },
                    trailingContent = {
                        Row {
                            if (s.autoConfirm) {
                                TextButton(onClick = { vm.stopAutoConfirm(s.sessionId) }) { Text(w(R.string.auto_confirm_off)) }
                            } else {
                                TextButton(onClick = { pinFor = s.sessionId }) { Text(w(R.string.auto_confirm_on_2)) }
                            }
                            TextButton(onClick = { vm.endSession(s.sessionId) }) { Text(w(R.string.end)) }
                        }
                    },
                )
            }
            items(autoDone) { r ->
                ListItem(
                    headlineContent = { Text(w(R.string.auto_confirmed) + " · " + r.view.platformName) },
                    supportingContent = { Text(r.view.verificationCode) },
                )
            }
        }
    }
    pinFor?.let { sid ->
        PinPadDialog(w(R.string.pin), w, onPin = { pinFor = null; vm.startAutoConfirm(sid, it) }, onCancel = { pinFor = null })
    }
}

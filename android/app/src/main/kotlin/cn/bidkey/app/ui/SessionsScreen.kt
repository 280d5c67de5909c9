package cn.bidkey.app.ui

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
    ScreenFrame(w("会话", "Sessions"), vm, w) {
        val open = vm.openSessions(System.currentTimeMillis() / 1000)
        if (open.isEmpty()) Text(w("没有进行中的会话。", "No open session."))
        LazyColumn {
            items(open) { s ->
                ListItem(
                    headlineContent = { Text(s.platformName) },
                    supportingContent = {
                        Column {
                            Text(s.origin)
                            Text(w("至 ", "until ") + Format.time(s.expiresAt))
                            if (s.autoConfirm) Text(w("自动确认已开启", "Auto-confirm on"))
                        }
                    },
                    trailingContent = {
                        Row {
                            if (s.autoConfirm) {
                                TextButton(onClick = { vm.stopAutoConfirm(s.sessionId) }) { Text(w("关闭自动确认", "Auto-confirm off")) }
                            } else {
                                TextButton(onClick = { pinFor = s.sessionId }) { Text(w("开启自动确认", "Auto-confirm on")) }
                            }
                            TextButton(onClick = { vm.endSession(s.sessionId) }) { Text(w("结束", "End")) }
                        }
                    },
                )
            }
            items(autoDone) { r ->
                ListItem(
                    headlineContent = { Text(w("已自动确认", "Auto-confirmed") + " · " + r.view.platformName) },
                    supportingContent = { Text(r.view.verificationCode) },
                )
            }
        }
    }
    pinFor?.let { sid ->
        PinPadDialog(w("证书密码", "PIN"), w, onPin = { pinFor = null; vm.startAutoConfirm(sid, it) }, onCancel = { pinFor = null })
    }
}

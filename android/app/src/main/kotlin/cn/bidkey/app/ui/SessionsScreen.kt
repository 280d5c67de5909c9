package cn.bidkey.app.ui

import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.Format
import cn.bidkey.shared.scan.ScanViewModel

/** Open signing sessions (one scan, several signatures): the platform's requests arrive while open. */
@Composable
fun SessionsScreen(vm: ScanViewModel, w: Words) {
    val sessions by vm.sessions.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) {
        vm.loadSessions()
        vm.listenForSessionRequests()
    }
    DisposableEffect(Unit) { onDispose { vm.stopListening() } }
    ScreenFrame(w("签章会话", "Signing sessions"), vm, w) {
        if (sessions.isEmpty()) Text(w("没有进行中的会话。", "No open session."))
        LazyColumn {
            items(sessions) { s ->
                ListItem(
                    headlineContent = { Text(s.platformName) },
                    supportingContent = { Text(w("至 ", "until ") + Format.time(s.expiresAt)) },
                    trailingContent = { TextButton(onClick = { vm.endSession(s.id) }) { Text(w("结束", "End")) } },
                )
            }
        }
    }
}

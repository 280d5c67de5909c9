package cn.bidkey.app.ui

import cn.bidkey.app.R
import androidx.compose.foundation.layout.*
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.PinPad

/**
 * The 证书密码 pad: digits in a scrambled-free fixed layout drawn by the app (not the system
 * keyboard, which may learn or log input). The PIN goes straight from [PinPad.take] to [onPin].
 */
@Composable
fun PinPadDialog(title: String, w: Words, onPin: (String) -> Unit, onCancel: () -> Unit) {
    val pad = remember { PinPad() }
    val dots by pad.dots.collectAsStateWithLifecycle()
    AlertDialog(
        onDismissRequest = { pad.clear(); onCancel() },
        title = { Text(title) },
        text = {
            Column(horizontalAlignment = Alignment.CenterHorizontally) {
                Text("●".repeat(dots) + "○".repeat((6 - dots).coerceAtLeast(0)), style = MaterialTheme.typography.headlineMedium)
                Spacer(Modifier.height(12.dp))
                listOf(listOf(1, 2, 3), listOf(4, 5, 6), listOf(7, 8, 9), listOf(-1, 0, -2)).forEach { row ->
                    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                        row.forEach { key ->
                            when (key) {
                                -1 -> Spacer(Modifier.size(64.dp))
                                -2 -> TextButton(onClick = pad::backspace, modifier = Modifier.size(64.dp)) { Text("⌫") }
                                else -> FilledTonalButton(onClick = { pad.press(key) }, modifier = Modifier.size(64.dp)) { Text("$key") }
                            }
                        }
                    }
                }
            }
        },
        confirmButton = {
            TextButton(enabled = dots >= pad.minDigits, onClick = { pad.take()?.let(onPin) }) { Text(w(R.string.ok_2)) }
        },
        dismissButton = { TextButton(onClick = { pad.clear(); onCancel() }) { Text(w(R.string.cancel)) } },
    )
}

package cn.bidkey.app.ui

import androidx.compose.foundation.layout.*
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.ShellViewModel
import uniffi.bidkey.Lang

/** The UI's own labels in the app's language (messages and statuses come from the core). */
class Words(val lang: Lang) {
    operator fun invoke(zh: String, en: String) = if (lang == Lang.ZH) zh else en
}

/** A screen's frame: title, progress while the core works, and its error as a dialog. */
@Composable
fun ScreenFrame(title: String, vm: ShellViewModel, w: Words, content: @Composable ColumnScope.() -> Unit) {
    val busy by vm.busy.collectAsStateWithLifecycle()
    val error by vm.error.collectAsStateWithLifecycle()
    Column(Modifier.fillMaxSize().padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text(title, style = MaterialTheme.typography.headlineSmall)
        if (busy) LinearProgressIndicator(Modifier.fillMaxWidth())
        content()
    }
    error?.let {
        AlertDialog(
            onDismissRequest = vm::dismissError,
            confirmButton = { TextButton(onClick = vm::dismissError) { Text(w("知道了", "OK")) } },
            text = { Text(it.message) },
        )
    }
}

@Composable
fun Field(label: String, value: String, onChange: (String) -> Unit, digits: Boolean = false, secret: Boolean = false) {
    OutlinedTextField(
        value = value,
        onValueChange = onChange,
        label = { Text(label) },
        singleLine = true,
        keyboardOptions = KeyboardOptions(keyboardType = if (digits) KeyboardType.Number else if (secret) KeyboardType.Password else KeyboardType.Text),
        visualTransformation = if (secret) PasswordVisualTransformation() else androidx.compose.ui.text.input.VisualTransformation.None,
        modifier = Modifier.fillMaxWidth(),
    )
}

package cn.bidkey.app.ui

import cn.bidkey.app.R
import android.content.Context
import android.content.res.Configuration
import android.content.res.Resources
import androidx.annotation.StringRes
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
import cn.bidkey.core.Lang
import java.util.Locale

/**
 * The UI's own labels (chrome) from the string resources (`res/values`, `res/values-zh`) in the
 * app's language, which the person may set apart from the phone's. Messages, statuses and the
 * scan page come from the core (`errorMessage`, `statusLabel`, `ScanView.pageZh`…), never from here.
 */
class Words(val lang: Lang, private val res: Resources) {
    operator fun invoke(@StringRes id: Int, vararg args: Any): String =
        if (args.isEmpty()) res.getString(id) else res.getString(id, *args)

    companion object {
        /** The app's resources in `lang`. */
        fun of(context: Context, lang: Lang): Words {
            val config = Configuration(context.resources.configuration)
            config.setLocale(if (lang == Lang.ZH) Locale.SIMPLIFIED_CHINESE else Locale.ENGLISH)
            return Words(lang, context.createConfigurationContext(config).resources)
        }
    }
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
            confirmButton = { TextButton(onClick = vm::dismissError) { Text(w(R.string.ok)) } },
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

package cn.bidkey.app.ui

import cn.bidkey.app.R
import androidx.compose.foundation.layout.*
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.SettingsViewModel
import cn.bidkey.core.CoreText
import cn.bidkey.core.Lang
import cn.bidkey.core.coreText

/** 我的 / 设置: account, real-name, language, trading platform, clear cache, log out. */
@Composable
fun SettingsScreen(vm: SettingsViewModel, w: Words, onRealName: () -> Unit) {
    val account by vm.account.collectAsStateWithLifecycle()
    val platforms by vm.platforms.collectAsStateWithLifecycle()
    val current by vm.currentPlatform.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) { vm.loadPlatforms() }
    ScreenFrame(w(R.string.me), vm, w) {
        account?.let { a ->
            Text(a.phoneMasked, style = MaterialTheme.typography.titleMedium)
            if (a.realName != null) Text("${a.realName} · ${a.idNumberMasked ?: ""}")
            else TextButton(onClick = onRealName) { Text(w(R.string.verify_your_identity_2)) }
        }
        Row {
            FilterChip(selected = w.lang == Lang.ZH, onClick = { vm.setLanguage(Lang.ZH) }, label = { Text("中文") })
            FilterChip(selected = w.lang == Lang.EN, onClick = { vm.setLanguage(Lang.EN) }, label = { Text("English") })
        }
        val biometric by vm.biometric.collectAsStateWithLifecycle()
        Row {
            Switch(checked = biometric, onCheckedChange = { vm.setBiometric(it) })
            Text(w(R.string.biometric_switch))
        }
        // The core's explanation: the PIN is still what the server counts.
        Text(coreText(CoreText.BIOMETRIC_EXPLAINED, w.lang), style = MaterialTheme.typography.bodySmall)
        Text(w(R.string.trading_platform) + "：" + (current?.name ?: w(R.string.none)))
        LazyColumn(Modifier.weight(1f)) {
            items(platforms) { p ->
                ListItem(
                    headlineContent = { Text(p.name) },
                    supportingContent = { Text(p.region ?: p.origin) },
                    trailingContent = { TextButton(onClick = { vm.selectPlatform(p.id) }) { Text(w(R.string.choose)) } },
                )
            }
        }
        TextButton(onClick = vm::clearCache) { Text(w(R.string.clear_cache)) }
        Button(onClick = vm::logOut, modifier = Modifier.fillMaxWidth()) { Text(w(R.string.log_out)) }
    }
}

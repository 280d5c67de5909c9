package cn.bidkey.app.ui

import androidx.compose.foundation.layout.*
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.SettingsViewModel
import uniffi.bidkey.Lang

/** 我的 / 设置: account, real-name, language, trading platform, clear cache, log out. */
@Composable
fun SettingsScreen(vm: SettingsViewModel, w: Words, onRealName: () -> Unit) {
    val account by vm.account.collectAsStateWithLifecycle()
    val platforms by vm.platforms.collectAsStateWithLifecycle()
    val current by vm.currentPlatform.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) { vm.loadPlatforms() }
    ScreenFrame(w("我的", "Me"), vm, w) {
        account?.let { a ->
            Text(a.phoneMasked, style = MaterialTheme.typography.titleMedium)
            if (a.realName != null) Text("${a.realName} · ${a.idNumberMasked ?: ""}")
            else TextButton(onClick = onRealName) { Text(w("去实名认证", "Verify your identity")) }
        }
        Row {
            FilterChip(selected = w.lang == Lang.ZH, onClick = { vm.setLanguage(Lang.ZH) }, label = { Text("中文") })
            FilterChip(selected = w.lang == Lang.EN, onClick = { vm.setLanguage(Lang.EN) }, label = { Text("English") })
        }
        Text(w("交易平台", "Trading platform") + "：" + (current?.name ?: w("未选择", "none")))
        LazyColumn(Modifier.weight(1f)) {
            items(platforms) { p ->
                ListItem(
                    headlineContent = { Text(p.name) },
                    supportingContent = { Text(p.region ?: p.origin) },
                    trailingContent = { TextButton(onClick = { vm.selectPlatform(p.id) }) { Text(w("选择", "Choose")) } },
                )
            }
        }
        TextButton(onClick = vm::clearCache) { Text(w("清除缓存", "Clear cache")) }
        Button(onClick = vm::logOut, modifier = Modifier.fillMaxWidth()) { Text(w("退出登录", "Log out")) }
    }
}

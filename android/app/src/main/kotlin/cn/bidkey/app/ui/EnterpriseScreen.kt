package cn.bidkey.app.ui

import androidx.compose.foundation.layout.*
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import uniffi.bidkey.MaterialFile
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.EnterpriseViewModel
import cn.bidkey.shared.Format
import uniffi.bidkey.EnterpriseAction
import uniffi.bidkey.MicropaymentStatus
import uniffi.bidkey.Role

/** 企业: search by name or USCC, then 认领 / 对公打款 / 加入; my enterprises (admin → 管理). */
@Composable
fun EnterpriseScreen(vm: EnterpriseViewModel, w: Words, onAdmin: (String) -> Unit) {
    var query by remember { mutableStateOf("") }
    var last6 by remember { mutableStateOf("") }
    var micropayFor by remember { mutableStateOf<Pair<String, String>?>(null) }
    var claimFor by remember { mutableStateOf<Pair<String, String>?>(null) }
    val search by vm.search.collectAsStateWithLifecycle()
    val mine by vm.mine.collectAsStateWithLifecycle()
    val mp by vm.micropayment.collectAsStateWithLifecycle()
    val application by vm.application.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) { vm.loadMine() }
    ScreenFrame(w("企业", "Enterprises"), vm, w) {
        Field(w("企业名称或统一社会信用代码", "Enterprise name or USCC"), query, { query = it })
        Button(onClick = { vm.search(query) }) { Text(w("搜索", "Search")) }
        LazyColumn(verticalArrangement = Arrangement.spacedBy(8.dp)) {
            items(search?.results ?: emptyList()) { hit ->
                Card(Modifier.fillMaxWidth()) {
                    Column(Modifier.padding(12.dp)) {
                        Text(hit.name ?: hit.uscc, style = MaterialTheme.typography.titleMedium)
                        Text(hit.uscc)
                        hit.myRole?.let { Text(Format.role(it, w.lang)) }
                        Row {
                            hit.actions.forEach { action ->
                                when (action) {
                                    EnterpriseAction.MICROPAY -> TextButton(onClick = { micropayFor = hit.uscc to (hit.name ?: query) }) { Text(w("对公打款认证", "Verify by transfer")) }
                                    EnterpriseAction.JOIN -> TextButton(onClick = { hit.id?.let(vm::join) }) { Text(w("加入企业", "Join")) }
                                    EnterpriseAction.CLAIM -> TextButton(onClick = { claimFor = hit.uscc to (hit.name ?: query) }) { Text(w("认领企业", "Claim")) }
                                }
                            }
                        }
                    }
                }
            }
            item { Text(w("我的企业", "My enterprises"), style = MaterialTheme.typography.titleMedium) }
            items(mine) { e ->
                ListItem(
                    headlineContent = { Text(e.name) },
                    supportingContent = { Text(Format.role(e.myRole, w.lang)) },
                    trailingContent = { if (e.myRole == Role.ADMIN) TextButton(onClick = { onAdmin(e.id) }) { Text(w("管理", "Manage")) } },
                )
            }
        }
        application?.let { Text(w("申请已提交：", "Application filed: ") + it.id) }
    }
    claimFor?.let { (uscc, name) -> ClaimDialog(vm, w, uscc, name) { claimFor = null } }
    micropayFor?.let { (uscc, name) ->
        AlertDialog(
            onDismissRequest = { micropayFor = null },
            title = { Text(w("对公打款认证", "Verify by corporate transfer")) },
            text = {
                Column {
                    if (mp == null) {
                        Field(w("对公账户后六位", "Last six digits of the account"), last6, { last6 = it }, digits = true)
                    } else {
                        Text(vm.instructions() ?: "")
                        Text(vm.micropaymentText() ?: "")
                    }
                }
            },
            confirmButton = {
                if (mp == null) {
                    TextButton(onClick = { vm.requestMicropayment(uscc, name, last6) }) { Text(w("下一步", "Next")) }
                } else if (mp?.status == MicropaymentStatus.PENDING) {
                    TextButton(onClick = { vm.pollMicropayment() }) { Text(w("我已转账", "I have transferred")) }
                } else {
                    TextButton(onClick = { micropayFor = null }) { Text(w("完成", "Done")) }
                }
            },
        )
    }
}

/** 认领企业: name, legal representative and 1–5 files (营业执照, 授权书) picked from storage. */
@Composable
private fun ClaimDialog(vm: EnterpriseViewModel, w: Words, uscc: String, initialName: String, onClose: () -> Unit) {
    val context = LocalContext.current
    var name by remember { mutableStateOf(initialName) }
    var legalRep by remember { mutableStateOf("") }
    var files by remember { mutableStateOf<List<MaterialFile>>(emptyList()) }
    val pick = rememberLauncherForActivityResult(ActivityResultContracts.GetMultipleContents()) { uris ->
        files = uris.take(5).mapNotNull { uri ->
            val type = context.contentResolver.getType(uri) ?: return@mapNotNull null
            val bytes = context.contentResolver.openInputStream(uri)?.use { it.readBytes() } ?: return@mapNotNull null
            MaterialFile(uri.lastPathSegment ?: "material", type, bytes)
        }
    }
    AlertDialog(
        onDismissRequest = onClose,
        title = { Text(w("认领企业", "Claim the enterprise")) },
        text = {
            Column {
                Text(uscc)
                Field(w("企业名称", "Enterprise name"), name, { name = it })
                Field(w("法定代表人（选填）", "Legal representative (optional)"), legalRep, { legalRep = it })
                TextButton(onClick = { pick.launch("*/*") }) { Text(w("选择材料（${files.size}/5）", "Pick files (${files.size}/5)")) }
            }
        },
        confirmButton = { TextButton(onClick = { vm.claim(uscc, name, legalRep, files); onClose() }) { Text(w("提交", "Submit")) } },
        dismissButton = { TextButton(onClick = onClose) { Text(w("取消", "Cancel")) } },
    )
}

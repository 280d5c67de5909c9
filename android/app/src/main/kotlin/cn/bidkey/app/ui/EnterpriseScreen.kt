package cn.bidkey.app.ui

import cn.bidkey.app.R
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
import cn.bidkey.core.MaterialFile
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.EnterpriseViewModel
import cn.bidkey.shared.Format
import cn.bidkey.core.EnterpriseAction
import cn.bidkey.core.MicropaymentStatus
import cn.bidkey.core.Role

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
    ScreenFrame(w(R.string.enterprises), vm, w) {
        Field(w(R.string.enterprise_name_or_uscc), query, { query = it })
        Button(onClick = { vm.search(query) }) { Text(w(R.string.search)) }
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
                                    EnterpriseAction.MICROPAY -> TextButton(onClick = { micropayFor = hit.uscc to (hit.name ?: query) }) { Text(w(R.string.verify_by_transfer)) }
                                    EnterpriseAction.JOIN -> TextButton(onClick = { hit.id?.let(vm::join) }) { Text(w(R.string.join)) }
                                    EnterpriseAction.CLAIM -> TextButton(onClick = { claimFor = hit.uscc to (hit.name ?: query) }) { Text(w(R.string.claim)) }
                                }
                            }
                        }
                    }
                }
            }
            item { Text(w(R.string.my_enterprises), style = MaterialTheme.typography.titleMedium) }
            items(mine) { e ->
                ListItem(
                    headlineContent = { Text(e.name) },
                    supportingContent = { Text(Format.role(e.myRole, w.lang)) },
                    trailingContent = { if (e.myRole == Role.ADMIN) TextButton(onClick = { onAdmin(e.id) }) { Text(w(R.string.manage)) } },
                )
            }
        }
        application?.let { Text(w(R.string.application_filed) + it.id) }
    }
    claimFor?.let { (uscc, name) -> ClaimDialog(vm, w, uscc, name) { claimFor = null } }
    micropayFor?.let { (uscc, name) ->
        AlertDialog(
            onDismissRequest = { micropayFor = null },
            title = { Text(w(R.string.verify_by_corporate_transfer)) },
            text = {
                Column {
                    if (mp == null) {
                        Field(w(R.string.last_six_digits_of_the_account), last6, { last6 = it }, digits = true)
                    } else {
                        Text(vm.instructions() ?: "")
                        Text(vm.micropaymentText() ?: "")
                    }
                }
            },
            confirmButton = {
                if (mp == null) {
                    TextButton(onClick = { vm.requestMicropayment(uscc, name, last6) }) { Text(w(R.string.next)) }
                } else if (mp?.status == MicropaymentStatus.PENDING) {
                    TextButton(onClick = { vm.pollMicropayment() }) { Text(w(R.string.i_have_transferred)) }
                } else {
                    TextButton(onClick = { micropayFor = null }) { Text(w(R.string.done)) }
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
        title = { Text(w(R.string.claim_the_enterprise)) },
        text = {
            Column {
                Text(uscc)
                Field(w(R.string.enterprise_name), name, { name = it })
                Field(w(R.string.legal_representative_optional), legalRep, { legalRep = it })
                TextButton(onClick = { pick.launch("*/*") }) { Text(w(R.string.pick_files_count, files.size)) }
            }
        },
        confirmButton = { TextButton(onClick = { vm.claim(uscc, name, legalRep, files); onClose() }) { Text(w(R.string.submit_2)) } },
        dismissButton = { TextButton(onClick = onClose) { Text(w(R.string.cancel)) } },
    )
}

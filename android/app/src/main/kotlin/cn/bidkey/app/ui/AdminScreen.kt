package cn.bidkey.app.ui

import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.*
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.AdminViewModel
import cn.bidkey.shared.Format
import uniffi.bidkey.Role

/**
 * 企业管理 for the admin: 人员管理, 加入申请, 转授管理员, 授权管理 per platform, 印章, 专区, 变更信息.
 * Transferring the role, removing staff, grants and adding seals ask the admin's PIN on the PIN pad
 * (ADR 0018).
 */
@Composable
fun AdminScreen(vm: AdminViewModel, w: Words) {
    val context = LocalContext.current
    val staff by vm.staff.collectAsStateWithLifecycle()
    val requests by vm.joinRequests.collectAsStateWithLifecycle()
    val grants by vm.grants.collectAsStateWithLifecycle()
    val seals by vm.seals.collectAsStateWithLifecycle()
    val zones by vm.zones.collectAsStateWithLifecycle()
    val infoChange by vm.infoChange.collectAsStateWithLifecycle()
    var invitePhone by remember { mutableStateOf("") }
    var sealName by remember { mutableStateOf("") }
    var platformId by remember { mutableStateOf("") }
    var newName by remember { mutableStateOf("") }
    // The admin action waiting for the PIN (the PIN pad's title and what to do with the PIN).
    var pinFor by remember { mutableStateOf<Pair<String, (String) -> Unit>?>(null) }
    val askPin = { then: (String) -> Unit -> pinFor = w("管理员证书密码", "Admin PIN") to { pin: String -> then(pin); pinFor = null } }
    val pickSeal = rememberLauncherForActivityResult(ActivityResultContracts.GetContent()) { uri ->
        uri?.let { context.contentResolver.openInputStream(it)?.use { s -> val png = s.readBytes(); askPin { pin -> vm.addSeal(sealName, png, pin) } } }
    }
    pinFor?.let { (title, then) -> PinPadDialog(title, w, onPin = then, onCancel = { pinFor = null }) }
    LaunchedEffect(vm.enterpriseId) {
        vm.load()
        vm.loadGrants()
    }
    ScreenFrame(w("企业管理", "Manage the enterprise"), vm, w) {
        LazyColumn(verticalArrangement = Arrangement.spacedBy(4.dp)) {
            item { Text(w("人员管理", "Staff"), style = MaterialTheme.typography.titleMedium) }
            items(staff) { m ->
                ListItem(
                    headlineContent = { Text(m.realName ?: m.phoneMasked) },
                    supportingContent = { Text(Format.role(m.role, w.lang) + " · " + m.phoneMasked) },
                    trailingContent = {
                        if (m.role == Role.STAFF) Row {
                            TextButton(onClick = { askPin { pin -> vm.transferAdmin(m.accountId, pin) } }) { Text(w("转授管理员", "Make admin")) }
                            TextButton(onClick = { askPin { pin -> vm.remove(m.accountId, pin) } }) { Text(w("移除", "Remove")) }
                            if (platformId.isNotBlank()) TextButton(onClick = { askPin { pin -> vm.grant(m.accountId, platformId, pin) } }) { Text(w("授权", "Grant")) }
                        }
                    },
                )
            }
            item {
                Row {
                    Box(Modifier.weight(1f)) { Field(w("邀请手机号", "Invite by phone"), invitePhone, { invitePhone = it }, digits = true) }
                    TextButton(onClick = { vm.invite(invitePhone) }) { Text(w("邀请", "Invite")) }
                }
            }
            item { Text(w("加入申请", "Join requests"), style = MaterialTheme.typography.titleMedium) }
            items(requests) { r ->
                ListItem(
                    headlineContent = { Text(r.realName ?: r.phoneMasked) },
                    trailingContent = {
                        Row {
                            TextButton(onClick = { vm.approve(r.application.id) }) { Text(w("同意", "Approve")) }
                            TextButton(onClick = { vm.reject(r.application.id, w("管理员驳回", "Rejected by the admin")) }) { Text(w("驳回", "Reject")) }
                        }
                    },
                )
            }
            item {
                Text(w("授权管理", "Platform grants"), style = MaterialTheme.typography.titleMedium)
                Field(w("平台编号（授权与专区）", "Platform id (grants and zones)"), platformId, { platformId = it })
                Row {
                    TextButton(onClick = { vm.loadGrants(platformId.ifBlank { null }) }) { Text(w("按平台查看", "By platform")) }
                    TextButton(onClick = { vm.loadGrants(platformId.ifBlank { null }, includeRevoked = true) }) { Text(w("历史授权记录", "History")) }
                }
            }
            items(grants) { g ->
                ListItem(
                    headlineContent = { Text((g.realName ?: g.accountId) + " → " + g.platformName) },
                    supportingContent = { Text(Format.time(g.createdAt) + (g.revokedAt?.let { " · " + w("已撤销", "revoked") } ?: "")) },
                    trailingContent = { if (g.revokedAt == null) TextButton(onClick = { askPin { pin -> vm.revokeGrant(g.id, pin) } }) { Text(w("撤销", "Revoke")) } },
                )
            }
            item { Text(w("印章管理", "Seals"), style = MaterialTheme.typography.titleMedium) }
            items(seals) { s ->
                ListItem(
                    headlineContent = { Text(s.name) },
                    supportingContent = { Text("${s.width}×${s.height}") },
                    trailingContent = { TextButton(onClick = { vm.deleteSeal(s.id) }) { Text(w("删除", "Delete")) } },
                )
            }
            item {
                Row {
                    Box(Modifier.weight(1f)) { Field(w("印章名称", "Seal name"), sealName, { sealName = it }) }
                    TextButton(onClick = { pickSeal.launch("image/png") }) { Text(w("新增印章", "Add seal")) }
                }
            }
            item { Text(w("专区", "Zones"), style = MaterialTheme.typography.titleMedium) }
            items(zones) { z ->
                ListItem(
                    headlineContent = { Text(z.platformName) },
                    trailingContent = { TextButton(onClick = { vm.unbindZone(z.platformId) }) { Text(w("解绑", "Unbind")) } },
                )
            }
            item { TextButton(enabled = platformId.isNotBlank(), onClick = { vm.bindZone(platformId) }) { Text(w("绑定专区", "Bind zone")) } }
            item {
                Text(w("变更企业信息", "Change enterprise information"), style = MaterialTheme.typography.titleMedium)
                Field(w("新企业名称", "New name"), newName, { newName = it })
                TextButton(onClick = { vm.changeInfo(newName, null) }) { Text(w("提交变更", "Submit")) }
                infoChange?.let { Text(vm.infoWarning() ?: "") }
            }
        }
    }
}

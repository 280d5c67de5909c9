package cn.bidkey.app.ui

import cn.bidkey.app.R
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
import cn.bidkey.core.Role

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
    val askPin = { then: (String) -> Unit -> pinFor = w(R.string.admin_pin) to { pin: String -> then(pin); pinFor = null } }
    val pickSeal = rememberLauncherForActivityResult(ActivityResultContracts.GetContent()) { uri ->
        uri?.let { context.contentResolver.openInputStream(it)?.use { s -> val png = s.readBytes(); askPin { pin -> vm.addSeal(sealName, png, pin) } } }
    }
    pinFor?.let { (title, then) -> PinPadDialog(title, w, onPin = then, onCancel = { pinFor = null }) }
    LaunchedEffect(vm.enterpriseId) {
        vm.load()
        vm.loadGrants()
    }
    ScreenFrame(w(R.string.manage_the_enterprise), vm, w) {
        LazyColumn(verticalArrangement = Arrangement.spacedBy(4.dp)) {
            item { Text(w(R.string.staff), style = MaterialTheme.typography.titleMedium) }
            items(staff) { m ->
                ListItem(
                    headlineContent = { Text(m.realName ?: m.phoneMasked) },
                    supportingContent = { Text(Format.role(m.role, w.lang) + " · " + m.phoneMasked) },
                    trailingContent = {
                        if (m.role == Role.STAFF) Row {
                            TextButton(onClick = { askPin { pin -> vm.transferAdmin(m.accountId, pin) } }) { Text(w(R.string.make_admin)) }
                            TextButton(onClick = { askPin { pin -> vm.remove(m.accountId, pin) } }) { Text(w(R.string.remove)) }
                            if (platformId.isNotBlank()) TextButton(onClick = { askPin { pin -> vm.grant(m.accountId, platformId, pin) } }) { Text(w(R.string.grant)) }
                        }
                    },
                )
            }
            item {
                Row {
                    Box(Modifier.weight(1f)) { Field(w(R.string.invite_by_phone), invitePhone, { invitePhone = it }, digits = true) }
                    TextButton(onClick = { vm.invite(invitePhone) }) { Text(w(R.string.invite)) }
                }
            }
            item { Text(w(R.string.join_requests), style = MaterialTheme.typography.titleMedium) }
            items(requests) { r ->
                ListItem(
                    headlineContent = { Text(r.realName ?: r.phoneMasked) },
                    trailingContent = {
                        Row {
                            TextButton(onClick = { vm.approve(r.application.id) }) { Text(w(R.string.approve)) }
                            TextButton(onClick = { vm.reject(r.application.id, w(R.string.rejected_by_the_admin)) }) { Text(w(R.string.reject)) }
                        }
                    },
                )
            }
            item {
                Text(w(R.string.platform_grants), style = MaterialTheme.typography.titleMedium)
                Field(w(R.string.platform_id_grants_and_zones), platformId, { platformId = it })
                Row {
                    TextButton(onClick = { vm.loadGrants(platformId.ifBlank { null }) }) { Text(w(R.string.by_platform)) }
                    TextButton(onClick = { vm.loadGrants(platformId.ifBlank { null }, includeRevoked = true) }) { Text(w(R.string.history)) }
                }
            }
            items(grants) { g ->
                ListItem(
                    headlineContent = { Text((g.realName ?: g.accountId) + " → " + g.platformName) },
                    supportingContent = { Text(Format.time(g.createdAt) + (g.revokedAt?.let { " · " + w(R.string.revoked) } ?: "")) },
                    trailingContent = { if (g.revokedAt == null) TextButton(onClick = { askPin { pin -> vm.revokeGrant(g.id, pin) } }) { Text(w(R.string.revoke)) } },
                )
            }
            item { Text(w(R.string.seals), style = MaterialTheme.typography.titleMedium) }
            items(seals) { s ->
                ListItem(
                    headlineContent = { Text(s.name) },
                    supportingContent = { Text("${s.width}×${s.height}") },
                    trailingContent = { TextButton(onClick = { vm.deleteSeal(s.id) }) { Text(w(R.string.delete)) } },
                )
            }
            item {
                Row {
                    Box(Modifier.weight(1f)) { Field(w(R.string.seal_name), sealName, { sealName = it }) }
                    TextButton(onClick = { pickSeal.launch("image/png") }) { Text(w(R.string.add_seal)) }
                }
            }
            item { Text(w(R.string.zones), style = MaterialTheme.typography.titleMedium) }
            items(zones) { z ->
                ListItem(
                    headlineContent = { Text(z.platformName) },
                    trailingContent = { TextButton(onClick = { vm.unbindZone(z.platformId) }) { Text(w(R.string.unbind)) } },
                )
            }
            item { TextButton(enabled = platformId.isNotBlank(), onClick = { vm.bindZone(platformId) }) { Text(w(R.string.bind_zone)) } }
            item {
                Text(w(R.string.change_enterprise_information), style = MaterialTheme.typography.titleMedium)
                Field(w(R.string.new_name), newName, { newName = it })
                TextButton(onClick = { vm.changeInfo(newName, null) }) { Text(w(R.string.submit)) }
                infoChange?.let { Text(vm.infoWarning() ?: "") }
            }
        }
    }
}

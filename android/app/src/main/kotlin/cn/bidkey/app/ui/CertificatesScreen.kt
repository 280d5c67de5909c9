package cn.bidkey.app.ui

import androidx.compose.foundation.layout.*
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.CertAction
import cn.bidkey.shared.CertificatesViewModel
import cn.bidkey.shared.Format
import uniffi.bidkey.CertPair
import uniffi.bidkey.RealName
import uniffi.bidkey.RealNameMethod
import uniffi.bidkey.SmsPurpose
import uniffi.bidkey.Status

@OptIn(ExperimentalLayoutApi::class)
/** 证书管理: 生效中 / 即将过期 / 已失效, applications to pay and download, actions per card. */
@Composable
fun CertificatesScreen(vm: CertificatesViewModel, w: Words) {
    val list by vm.list.collectAsStateWithLifecycle()
    val applications by vm.applications.collectAsStateWithLifecycle()
    var tab by remember { mutableIntStateOf(0) }
    var pinFor by remember { mutableStateOf<Pair<String, (String) -> Unit>?>(null) }
    var confirmRevoke by remember { mutableStateOf<CertPair?>(null) }
    var smsForm by remember { mutableStateOf<Pair<CertAction, String>?>(null) }
    LaunchedEffect(Unit) { vm.load() }
    val now = System.currentTimeMillis() / 1000
    ScreenFrame(w("证书管理", "Certificates"), vm, w) {
        TabRow(selectedTabIndex = tab) {
            listOf(w("生效中", "In force"), w("即将过期", "Expiring"), w("已失效", "Invalid")).forEachIndexed { i, t ->
                Tab(selected = tab == i, onClick = { tab = i }, text = { Text(t) })
            }
        }
        val pairs = when (tab) { 0 -> list?.inForce; 1 -> list?.expiring; else -> list?.invalid } ?: emptyList()
        LazyColumn(verticalArrangement = Arrangement.spacedBy(8.dp)) {
            items(pairs) { pair ->
                Card(Modifier.fillMaxWidth()) {
                    Column(Modifier.padding(12.dp)) {
                        Text(Format.pairTitle(pair, w.lang), style = MaterialTheme.typography.titleMedium)
                        Text(Format.pairState(pair.state, w.lang) + " · " + Format.validity(pair.notAfter, now, w.lang))
                        FlowRow {
                            val serial = pair.signing?.serial ?: ""
                            Format.actions(pair).forEach { action ->
                                TextButton(onClick = {
                                    when (action) {
                                        CertAction.CHANGE_PIN -> pinFor = w("原证书密码", "Current PIN") to { old: String ->
                                            pinFor = w("新证书密码", "New PIN") to { new: String -> vm.changePin(old, new); pinFor = null }
                                        }
                                        CertAction.REVOKE -> confirmRevoke = pair
                                        CertAction.RENEW -> vm.renew(serial)
                                        CertAction.REAPPLY -> vm.reapply(serial)
                                        CertAction.REPORT_LOSS, CertAction.UNDO_LOSS_REPORT, CertAction.UNLOCK, CertAction.RECOVER ->
                                            smsForm = action to serial
                                    }
                                }) { Text(actionLabel(action, w)) }
                            }
                        }
                    }
                }
            }
            item { Text(w("我的申请", "My applications"), style = MaterialTheme.typography.titleMedium) }
            items(applications) { app ->
                ListItem(
                    headlineContent = { Text(app.enterpriseName ?: w("个人证书", "Personal certificate")) },
                    supportingContent = { Text(vm.statusText(app.status) + (app.order?.let { " · " + Format.yuan(it.amountFen) } ?: "")) },
                    trailingContent = {
                        when (app.status) {
                            Status.AWAITING_PAYMENT -> TextButton(onClick = { vm.pay(app) }) { Text(w("支付", "Pay")) }
                            Status.PAID -> TextButton(onClick = { pinFor = w("设置证书密码", "Set a PIN") to { pin: String -> vm.enroll(app.id, pin); pinFor = null } }) {
                                Text(w("下载证书", "Download"))
                            }
                            else -> {}
                        }
                    },
                )
            }
            item { Button(onClick = vm::applyPersonal) { Text(w("申请个人证书", "Apply for a personal certificate")) } }
        }
    }
    pinFor?.let { (title, then) -> PinPadDialog(title, w, onPin = then, onCancel = { pinFor = null }) }
    smsForm?.let { (action, serial) -> SmsFormDialog(vm, w, action, serial) { smsForm = null } }
    confirmRevoke?.let { pair ->
        AlertDialog(
            onDismissRequest = { confirmRevoke = null },
            text = { Text(vm.revokeWarning()) },
            confirmButton = {
                TextButton(onClick = {
                    confirmRevoke = null
                    pinFor = w("证书密码", "PIN") to { pin: String -> vm.revoke(pair.signing?.serial ?: "", pin); pinFor = null }
                }) { Text(w("注销", "Revoke")) }
            },
            dismissButton = { TextButton(onClick = { confirmRevoke = null }) { Text(w("取消", "Cancel")) } },
        )
    }
}

private fun actionLabel(a: CertAction, w: Words) = when (a) {
    CertAction.RECOVER -> w("找回", "Recover")
    CertAction.UNLOCK -> w("解锁", "Unlock")
    CertAction.CHANGE_PIN -> w("修改密码", "Change PIN")
    CertAction.RENEW -> w("续期", "Renew")
    CertAction.REPORT_LOSS -> w("挂失", "Report lost")
    CertAction.REVOKE -> w("注销", "Revoke")
    CertAction.UNDO_LOSS_REPORT -> w("解挂", "Undo loss report")
    CertAction.REAPPLY -> w("重新申请", "Reapply")
}

/** The forms proven by an SMS code: 挂失, 解挂, and (with real-name again) 解锁 and 找回. */
@Composable
private fun SmsFormDialog(vm: CertificatesViewModel, w: Words, action: CertAction, serial: String, onClose: () -> Unit) {
    var phone by remember { mutableStateOf("") }
    var code by remember { mutableStateOf("") }
    var name by remember { mutableStateOf("") }
    var id by remember { mutableStateOf("") }
    val purpose = when (action) {
        CertAction.UNLOCK -> SmsPurpose.UNLOCK
        CertAction.RECOVER -> SmsPurpose.RECOVER
        else -> SmsPurpose.LOSS_REPORT
    }
    val needsIdentity = action == CertAction.UNLOCK || action == CertAction.RECOVER
    AlertDialog(
        onDismissRequest = onClose,
        title = { Text(actionLabel(action, w)) },
        text = {
            Column {
                if (needsIdentity) {
                    Field(w("姓名", "Name"), name, { name = it })
                    Field(w("身份证号码", "ID number"), id, { id = it })
                }
                Field(w("手机号码", "Phone number"), phone, { phone = it }, digits = true)
                Row {
                    Box(Modifier.weight(1f)) { Field(w("短信验证码", "SMS code"), code, { code = it }, digits = true) }
                    TextButton(onClick = { vm.sendCode(phone, purpose) }) { Text(w("获取验证码", "Send code")) }
                }
            }
        },
        confirmButton = {
            TextButton(onClick = {
                val who = RealName(RealNameMethod.CFCA, name, id)
                when (action) {
                    CertAction.REPORT_LOSS -> vm.reportLoss(phone, code, serial)
                    CertAction.UNDO_LOSS_REPORT -> vm.undoLossReport(serial, code)
                    CertAction.UNLOCK -> vm.unlock(serial, who, code)
                    CertAction.RECOVER -> vm.recover(who, code, null)
                    else -> {}
                }
                onClose()
            }) { Text(w("提交", "Submit")) }
        },
        dismissButton = { TextButton(onClick = onClose) { Text(w("取消", "Cancel")) } },
    )
}

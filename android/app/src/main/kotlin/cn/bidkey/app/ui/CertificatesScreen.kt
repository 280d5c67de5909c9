package cn.bidkey.app.ui

import cn.bidkey.app.R
import cn.bidkey.core.CoreText
import cn.bidkey.core.PairState
import cn.bidkey.core.coreText
import cn.bidkey.core.pairStateLabel
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
import cn.bidkey.core.CertPair
import cn.bidkey.core.RealName
import cn.bidkey.core.RealNameMethod
import cn.bidkey.core.SmsPurpose
import cn.bidkey.core.Status

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
    ScreenFrame(w(R.string.certificates_2), vm, w) {
        TabRow(selectedTabIndex = tab) {
            listOf(pairStateLabel(PairState.IN_FORCE, w.lang), pairStateLabel(PairState.EXPIRING, w.lang), w(R.string.invalid)).forEachIndexed { i, t ->
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
                                        CertAction.CHANGE_PIN -> pinFor = w(R.string.current_pin) to { old: String ->
                                            pinFor = w(R.string.new_pin) to { new: String -> vm.changePin(old, new); pinFor = null }
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
            item { Text(w(R.string.my_applications), style = MaterialTheme.typography.titleMedium) }
            items(applications) { app ->
                ListItem(
                    headlineContent = { Text(app.enterpriseName ?: coreText(CoreText.PERSONAL_CERTIFICATE, w.lang)) },
                    supportingContent = { Text(vm.statusText(app.status) + (app.order?.let { " · " + Format.yuan(it.amountFen) } ?: "")) },
                    trailingContent = {
                        when (app.status) {
                            Status.AWAITING_PAYMENT -> TextButton(onClick = { vm.pay(app) }) { Text(w(R.string.pay)) }
                            Status.PAID -> TextButton(onClick = { pinFor = w(R.string.set_a_pin) to { pin: String -> vm.enroll(app.id, pin); pinFor = null } }) {
                                Text(w(R.string.download))
                            }
                            else -> {}
                        }
                    },
                )
            }
            item { Button(onClick = vm::applyPersonal) { Text(w(R.string.apply_for_a_personal_certificate)) } }
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
                    pinFor = w(R.string.pin) to { pin: String -> vm.revoke(pair.signing?.serial ?: "", pin); pinFor = null }
                }) { Text(w(R.string.revoke_2)) }
            },
            dismissButton = { TextButton(onClick = { confirmRevoke = null }) { Text(w(R.string.cancel)) } },
        )
    }
}

private fun actionLabel(a: CertAction, w: Words) = when (a) {
    CertAction.RECOVER -> w(R.string.recover)
    CertAction.UNLOCK -> w(R.string.unlock)
    CertAction.CHANGE_PIN -> w(R.string.change_pin)
    CertAction.RENEW -> w(R.string.renew)
    CertAction.REPORT_LOSS -> w(R.string.report_lost)
    CertAction.REVOKE -> w(R.string.revoke_2)
    CertAction.UNDO_LOSS_REPORT -> w(R.string.undo_loss_report)
    CertAction.REAPPLY -> w(R.string.reapply)
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
                    Field(w(R.string.name), name, { name = it })
                    Field(w(R.string.id_number), id, { id = it })
                }
                Field(w(R.string.phone_number), phone, { phone = it }, digits = true)
                Row {
                    Box(Modifier.weight(1f)) { Field(w(R.string.sms_code), code, { code = it }, digits = true) }
                    TextButton(onClick = { vm.sendCode(phone, purpose) }) { Text(w(R.string.send_code)) }
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
            }) { Text(w(R.string.submit_2)) }
        },
        dismissButton = { TextButton(onClick = onClose) { Text(w(R.string.cancel)) } },
    )
}

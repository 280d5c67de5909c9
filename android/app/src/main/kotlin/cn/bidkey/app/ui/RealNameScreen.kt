package cn.bidkey.app.ui

import androidx.compose.foundation.layout.*
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.RealNameViewModel
import uniffi.bidkey.RealNameMethod

/** 实名认证: 中金认证, 支付宝认证 or 银行卡四要素. */
@Composable
fun RealNameScreen(vm: RealNameViewModel, w: Words) {
    var method by remember { mutableStateOf(RealNameMethod.CFCA) }
    var name by remember { mutableStateOf("") }
    var id by remember { mutableStateOf("") }
    var card by remember { mutableStateOf("") }
    var bankPhone by remember { mutableStateOf("") }
    val done by vm.done.collectAsStateWithLifecycle()
    ScreenFrame(w("实名认证", "Verify your identity"), vm, w) {
        Row {
            listOf(
                RealNameMethod.CFCA to w("中金认证", "CFCA"),
                RealNameMethod.ALIPAY to w("支付宝", "Alipay"),
                RealNameMethod.BANK_CARD4 to w("银行卡", "Bank card"),
            ).forEach { (m, label) -> FilterChip(selected = method == m, onClick = { method = m }, label = { Text(label) }) }
        }
        Field(w("姓名", "Name"), name, { name = it })
        Field(w("身份证号码", "ID number"), id, { id = it })
        if (method == RealNameMethod.BANK_CARD4) {
            Field(w("银行卡号", "Bank card"), card, { card = it }, digits = true)
            Field(w("银行预留手机号", "Phone at the bank"), bankPhone, { bankPhone = it }, digits = true)
        }
        Button(onClick = { vm.verify(method, name, id, card.ifBlank { null }, bankPhone.ifBlank { null }) }, modifier = Modifier.fillMaxWidth()) {
            Text(w("提交", "Submit"))
        }
        if (done) Text(w("实名认证已完成。", "Your identity is verified."))
    }
}

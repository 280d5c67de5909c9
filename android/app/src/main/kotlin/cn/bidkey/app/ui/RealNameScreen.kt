package cn.bidkey.app.ui

import cn.bidkey.app.R
import androidx.compose.foundation.layout.*
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.RealNameViewModel
import cn.bidkey.core.RealNameMethod

/** 实名认证: 中金认证, 支付宝认证 or 银行卡四要素. */
@Composable
fun RealNameScreen(vm: RealNameViewModel, w: Words) {
    var method by remember { mutableStateOf(RealNameMethod.CFCA) }
    var name by remember { mutableStateOf("") }
    var id by remember { mutableStateOf("") }
    var card by remember { mutableStateOf("") }
    var bankPhone by remember { mutableStateOf("") }
    val done by vm.done.collectAsStateWithLifecycle()
    ScreenFrame(w(R.string.verify_your_identity), vm, w) {
        Row {
            listOf(
                RealNameMethod.CFCA to w(R.string.cfca),
                RealNameMethod.ALIPAY to w(R.string.alipay),
                RealNameMethod.BANK_CARD4 to w(R.string.bank_card),
            ).forEach { (m, label) -> FilterChip(selected = method == m, onClick = { method = m }, label = { Text(label) }) }
        }
        Field(w(R.string.name), name, { name = it })
        Field(w(R.string.id_number), id, { id = it })
        if (method == RealNameMethod.BANK_CARD4) {
            Field(w(R.string.bank_card_2), card, { card = it }, digits = true)
            Field(w(R.string.phone_at_the_bank), bankPhone, { bankPhone = it }, digits = true)
        }
        Button(onClick = { vm.verify(method, name, id, card.ifBlank { null }, bankPhone.ifBlank { null }) }, modifier = Modifier.fillMaxWidth()) {
            Text(w(R.string.submit_2))
        }
        if (done) Text(w(R.string.your_identity_is_verified))
    }
}

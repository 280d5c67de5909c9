package cn.bidkey.app.ui

import cn.bidkey.app.R
import androidx.compose.foundation.layout.*
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.LoginViewModel
import cn.bidkey.core.SmsPurpose

/** 登录: SMS code (a new number is registered) or password. */
@Composable
fun LoginScreen(vm: LoginViewModel, w: Words) {
    var phone by remember { mutableStateOf("") }
    var code by remember { mutableStateOf("") }
    var password by remember { mutableStateOf("") }
    var byPassword by remember { mutableStateOf(false) }
    val resendIn by vm.resendIn.collectAsStateWithLifecycle()
    ScreenFrame(w(R.string.log_in_to_bidkey), vm, w) {
        Field(w(R.string.phone_number), phone, { phone = it }, digits = true)
        if (byPassword) {
            Field(w(R.string.password), password, { password = it }, secret = true)
            Button(onClick = { vm.loginWithPassword(phone, password) }, modifier = Modifier.fillMaxWidth()) { Text(w(R.string.log_in)) }
        } else {
            Row {
                Box(Modifier.weight(1f)) { Field(w(R.string.sms_code), code, { code = it }, digits = true) }
                TextButton(enabled = resendIn == 0L, onClick = { vm.sendCode(phone, SmsPurpose.LOGIN) }) {
                    Text(if (resendIn > 0) w(R.string.seconds_left, resendIn) else w(R.string.send_code))
                }
            }
            Button(onClick = { vm.loginWithSms(phone, code) }, modifier = Modifier.fillMaxWidth()) { Text(w(R.string.log_in_sign_up)) }
        }
        TextButton(onClick = { byPassword = !byPassword }) {
            Text(if (byPassword) w(R.string.log_in_with_an_sms_code) else w(R.string.log_in_with_a_password))
        }
    }
}

package cn.bidkey.app.ui

import androidx.compose.foundation.layout.*
import androidx.compose.material3.*
import androidx.compose.runtime.*
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.bidkey.shared.LoginViewModel
import uniffi.bidkey.SmsPurpose

/** 登录: SMS code (a new number is registered) or password. */
@Composable
fun LoginScreen(vm: LoginViewModel, w: Words) {
    var phone by remember { mutableStateOf("") }
    var code by remember { mutableStateOf("") }
    var password by remember { mutableStateOf("") }
    var byPassword by remember { mutableStateOf(false) }
    val resendIn by vm.resendIn.collectAsStateWithLifecycle()
    ScreenFrame(w("登录标证通", "Log in to Bidkey"), vm, w) {
        Field(w("手机号码", "Phone number"), phone, { phone = it }, digits = true)
        if (byPassword) {
            Field(w("登录密码", "Password"), password, { password = it }, secret = true)
            Button(onClick = { vm.loginWithPassword(phone, password) }, modifier = Modifier.fillMaxWidth()) { Text(w("登录", "Log in")) }
        } else {
            Row {
                Box(Modifier.weight(1f)) { Field(w("短信验证码", "SMS code"), code, { code = it }, digits = true) }
                TextButton(enabled = resendIn == 0L, onClick = { vm.sendCode(phone, SmsPurpose.LOGIN) }) {
                    Text(if (resendIn > 0) w("${resendIn}秒", "${resendIn}s") else w("获取验证码", "Send code"))
                }
            }
            Button(onClick = { vm.loginWithSms(phone, code) }, modifier = Modifier.fillMaxWidth()) { Text(w("登录 / 注册", "Log in / sign up")) }
        }
        TextButton(onClick = { byPassword = !byPassword }) {
            Text(if (byPassword) w("短信验证码登录", "Log in with an SMS code") else w("密码登录", "Log in with a password"))
        }
    }
}

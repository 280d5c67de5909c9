import SwiftUI

/// 登录: SMS code (a new number is registered) or password.
struct LoginView: View {
    @EnvironmentObject var model: AppModel
    @State private var phone = ""
    @State private var code = ""
    @State private var password = ""
    @State private var byPassword = false

    var body: some View {
        NavigationStack {
            Frame(title: model.w("登录标证通", "Log in to Bidkey")) {
                TextField(model.w("手机号码", "Phone number"), text: $phone).keyboardType(.numberPad)
                if byPassword {
                    SecureField(model.w("登录密码", "Password"), text: $password)
                    Button(model.w("登录", "Log in")) {
                        model.run { model.account = try await model.core.loginWithPassword(phone: phone, password: password, deviceName: UIDevice.current.name) }
                    }
                } else {
                    HStack {
                        TextField(model.w("短信验证码", "SMS code"), text: $code).keyboardType(.numberPad)
                        Button(model.w("获取验证码", "Send code")) {
                            model.run { _ = try await model.core.sendSmsCode(phone: phone, purpose: .login) }
                        }
                    }
                    Button(model.w("登录 / 注册", "Log in / sign up")) {
                        model.run { model.account = try await model.core.loginWithSms(phone: phone, code: code, deviceName: UIDevice.current.name) }
                    }
                }
                Button(byPassword ? model.w("短信验证码登录", "Log in with an SMS code") : model.w("密码登录", "Log in with a password")) {
                    byPassword.toggle()
                }
            }
        }
    }
}

/// 实名认证.
struct RealNameView: View {
    @EnvironmentObject var model: AppModel
    @State private var method = RealNameMethod.cfca
    @State private var name = ""
    @State private var idNumber = ""
    @State private var card = ""
    @State private var bankPhone = ""

    var body: some View {
        Frame(title: model.w("实名认证", "Verify your identity")) {
            Picker(model.w("方式", "Method"), selection: $method) {
                Text(model.w("中金认证", "CFCA")).tag(RealNameMethod.cfca)
                Text(model.w("支付宝", "Alipay")).tag(RealNameMethod.alipay)
                Text(model.w("银行卡", "Bank card")).tag(RealNameMethod.bankCard4)
            }
            TextField(model.w("姓名", "Name"), text: $name)
            TextField(model.w("身份证号码", "ID number"), text: $idNumber)
            if method == .bankCard4 {
                TextField(model.w("银行卡号", "Bank card"), text: $card).keyboardType(.numberPad)
                TextField(model.w("银行预留手机号", "Phone at the bank"), text: $bankPhone).keyboardType(.numberPad)
            }
            Button(model.w("提交", "Submit")) {
                let request = RealName(method: method, name: name, idNumber: idNumber,
                                       bankCard: card.isEmpty ? nil : card, bankPhone: bankPhone.isEmpty ? nil : bankPhone)
                model.run { model.account = try await model.core.verifyRealName(request: request) }
            }
        }
    }
}

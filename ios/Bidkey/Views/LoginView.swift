import BidkeyCore
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
            Frame(title: model.w("log_in_to_bidkey")) {
                TextField(model.w("phone_number"), text: $phone).keyboardType(.numberPad)
                if byPassword {
                    SecureField(model.w("password"), text: $password)
                    Button(model.w("log_in")) {
                        model.run { model.account = try await model.core.loginWithPassword(phone: phone, password: password, deviceName: UIDevice.current.name) }
                    }
                } else {
                    HStack {
                        TextField(model.w("sms_code"), text: $code).keyboardType(.numberPad)
                        Button(model.w("send_code")) {
                            model.run { _ = try await model.core.sendSmsCode(phone: phone, purpose: .login) }
                        }
                    }
                    Button(model.w("log_in_sign_up")) {
                        model.run { model.account = try await model.core.loginWithSms(phone: phone, code: code, deviceName: UIDevice.current.name) }
                    }
                }
                Button(byPassword ? model.w("log_in_with_an_sms_code") : model.w("log_in_with_a_password")) {
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
        Frame(title: model.w("verify_your_identity")) {
            Picker(model.w("method"), selection: $method) {
                Text(model.w("cfca")).tag(RealNameMethod.cfca)
                Text(model.w("alipay")).tag(RealNameMethod.alipay)
                Text(model.w("bank_card")).tag(RealNameMethod.bankCard4)
            }
            TextField(model.w("name"), text: $name)
            TextField(model.w("id_number"), text: $idNumber)
            if method == .bankCard4 {
                TextField(model.w("bank_card_2"), text: $card).keyboardType(.numberPad)
                TextField(model.w("phone_at_the_bank"), text: $bankPhone).keyboardType(.numberPad)
            }
            Button(model.w("submit")) {
                let request = RealName(method: method, name: name, idNumber: idNumber,
                                       bankCard: card.isEmpty ? nil : card, bankPhone: bankPhone.isEmpty ? nil : bankPhone)
                model.run { model.account = try await model.core.verifyRealName(request: request) }
            }
        }
    }
}

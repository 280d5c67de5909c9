import BidkeyCore
import SwiftUI

/// 证书管理: the three lists, applications to pay and download, and the actions of each pair.
struct CertificatesView: View {
    @EnvironmentObject var model: AppModel
    @State private var list: CertList?
    @State private var applications: [Application] = []
    @State private var tab = 0
    @State private var pinRequest: PinRequest?
    @State private var revoking: CertPair?
    @State private var smsAction: SmsAction?

    struct PinRequest: Identifiable {
        let id = UUID()
        let title: String
        let then: (String) -> Void
    }

    var body: some View {
        Frame(title: model.w("certificates_2")) {
            Picker("", selection: $tab) {
                Text(pairStateLabel(state: .inForce, lang: model.lang)).tag(0)
                Text(pairStateLabel(state: .expiring, lang: model.lang)).tag(1)
                Text(model.w("invalid")).tag(2)
            }.pickerStyle(.segmented)
            ForEach(pairs, id: \.pairId) { pair in
                Section(pair.enterpriseName ?? coreText(which: .personalCertificate, lang: model.lang)) {
                    Text(validityText(notAfter: pair.notAfter, now: Int64(Date().timeIntervalSince1970), lang: model.lang))
                    if pair.keyLocked { Button(model.w("unlock")) { smsAction = SmsAction(kind: .unlock, serial: serial(pair)) } }
                    if !pair.thisDevice { Button(model.w("recover")) { smsAction = SmsAction(kind: .recover, serial: serial(pair)) } }
                    switch pair.state {
                    case .inForce, .expiring:
                        if pair.thisDevice {
                            Button(model.w("change_pin")) {
                                pinRequest = PinRequest(title: model.w("current_pin")) { old in
                                    pinRequest = PinRequest(title: model.w("new_pin")) { new in
                                        pinRequest = nil
                                        model.run { try await model.core.changePin(oldPin: old, newPin: new) }
                                    }
                                }
                            }
                            Button(model.w("revoke_2"), role: .destructive) { revoking = pair }
                        }
                        if pair.state == .expiring {
                            Button(model.w("renew")) { model.run { _ = try await model.core.renew(serial: serial(pair)); await reload() } }
                        }
                        Button(model.w("report_lost")) { smsAction = SmsAction(kind: .reportLoss, serial: serial(pair)) }
                    case .suspended:
                        Button(model.w("undo_loss_report")) { smsAction = SmsAction(kind: .undoLoss, serial: serial(pair)) }
                    case .expired:
                        Button(model.w("reapply")) { model.run { _ = try await model.core.reapply(serial: serial(pair)); await reload() } }
                    case .revoked:
                        EmptyView()
                    }
                }
            }
            Section(model.w("my_applications")) {
                ForEach(applications, id: \.id) { app in
                    HStack {
                        Text(app.enterpriseName ?? coreText(which: .personalCertificate, lang: model.lang))
                        Spacer()
                        Text(statusLabel(status: app.status, lang: model.lang))
                        if app.status == .awaitingPayment, let order = app.order {
                            Button(model.w("pay") + " " + AppModel.yuan(order.amountFen)) {
                                model.run { _ = try await model.core.payOrder(orderId: order.id); await reload() }
                            }
                        }
                        if app.status == .paid {
                            Button(model.w("download")) {
                                pinRequest = PinRequest(title: model.w("set_a_pin")) { pin in
                                    pinRequest = nil
                                    model.run { _ = try await model.core.enroll(applicationId: app.id, pin: pin); await reload() }
                                }
                            }
                        }
                    }
                }
                Button(model.w("apply_for_a_personal_certificate")) {
                    model.run { _ = try await model.core.applyPersonalCertificate(); await reload() }
                }
            }
        }
        .task { await reload() }
        .sheet(item: $pinRequest) { r in PinPadView(title: r.title, onPin: r.then, onCancel: { pinRequest = nil }) }
        .sheet(item: $smsAction) { a in SmsActionView(action: a) { smsAction = nil; Task { await reload() } } }
        .alert(coreText(which: .revokeWarning, lang: model.lang), isPresented: Binding(get: { revoking != nil }, set: { if !$0 { revoking = nil } })) {
            Button(model.w("revoke_2"), role: .destructive) {
                if let pair = revoking {
                    pinRequest = PinRequest(title: model.w("pin")) { pin in
                        pinRequest = nil
                        model.run { _ = try await model.core.revoke(serial: serial(pair), pin: pin); await reload() }
                    }
                }
                revoking = nil
            }
            Button(model.w("cancel"), role: .cancel) { revoking = nil }
        }
    }

    private var pairs: [CertPair] {
        switch tab {
        case 0: return list?.inForce ?? []
        case 1: return list?.expiring ?? []
        default: return list?.invalid ?? []
        }
    }

    private func serial(_ pair: CertPair) -> String { pair.signing?.serial ?? "" }

    private func reload() async {
        do {
            list = try await model.core.certificates()
            applications = try await model.core.applications()
        } catch let e as BidkeyError {
            model.error = model.message(e)
        } catch {}
    }
}

/// The forms proven by an SMS code: 挂失, 解挂, and (with real-name again) 解锁 and 找回.
struct SmsAction: Identifiable {
    enum Kind { case reportLoss, undoLoss, unlock, recover }
    let id = UUID()
    let kind: Kind
    let serial: String
}

struct SmsActionView: View {
    @EnvironmentObject var model: AppModel
    let action: SmsAction
    let done: () -> Void
    @State private var phone = ""
    @State private var code = ""
    @State private var name = ""
    @State private var idNumber = ""

    var body: some View {
        NavigationStack {
            Frame(title: title) {
                if action.kind == .unlock || action.kind == .recover {
                    TextField(model.w("name"), text: $name)
                    TextField(model.w("id_number"), text: $idNumber)
                }
                TextField(model.w("phone_number"), text: $phone).keyboardType(.numberPad)
                HStack {
                    TextField(model.w("sms_code"), text: $code).keyboardType(.numberPad)
                    Button(model.w("send_code")) { model.run { _ = try await model.core.sendSmsCode(phone: phone, purpose: purpose) } }
                }
                Button(model.w("submit")) {
                    let who = RealName(method: .cfca, name: name, idNumber: idNumber, bankCard: nil, bankPhone: nil)
                    model.run {
                        switch action.kind {
                        case .reportLoss: _ = try await model.core.reportLoss(phone: phone, code: code, serial: action.serial)
                        case .undoLoss: _ = try await model.core.undoLossReport(serial: action.serial, code: code)
                        case .unlock: _ = try await model.core.unlock(serial: action.serial, realName: who, code: code)
                        case .recover: _ = try await model.core.recover(realName: who, code: code, enterpriseId: nil)
                        }
                        done()
                    }
                }
            }
        }
    }

    private var purpose: SmsPurpose {
        switch action.kind {
        case .unlock: return .unlock
        case .recover: return .recover
        case .reportLoss, .undoLoss: return .lossReport
        }
    }

    private var title: String {
        switch action.kind {
        case .reportLoss: return model.w("report_lost")
        case .undoLoss: return model.w("undo_loss_report")
        case .unlock: return model.w("unlock")
        case .recover: return model.w("recover_2")
        }
    }
}

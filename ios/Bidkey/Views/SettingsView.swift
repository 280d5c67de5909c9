import BidkeyCore
import SwiftUI

/// 我的 / 设置: account, real-name, language, trading platform, clear cache, log out.
struct SettingsView: View {
    @EnvironmentObject var model: AppModel
    @State private var platforms: [Platform] = []
    @State private var current: Platform?

    var body: some View {
        Frame(title: model.w("me")) {
            if let a = model.account {
                Section {
                    Text(a.phoneMasked)
                    if let name = a.realName {
                        Text("\(name) · \(a.idNumberMasked ?? "")")
                    } else {
                        NavigationLink(model.w("verify_your_identity_2")) { RealNameView() }
                    }
                }
            }
            Picker(model.w("language"), selection: $model.lang) {
                Text("中文").tag(Lang.zh)
                Text("English").tag(Lang.en)
            }
            Section {
                Toggle(model.w("biometric.switch"), isOn: Binding(
                    get: { model.biometric },
                    set: { on in model.run { try await model.core.setBiometric(on: on); model.biometric = try model.core.biometric() } }
                ))
                // The core's explanation: the PIN is still what the server counts.
                Text(coreText(which: .biometricExplained, lang: model.lang)).font(.caption)
            }
            Section(model.w("trading_platform") + "：" + (current?.name ?? model.w("none"))) {
                ForEach(platforms, id: \.id) { p in
                    Button(p.name) { model.run { current = try await model.core.selectPlatform(platformId: p.id) } }
                }
            }
            Button(model.w("clear_cache")) { model.run { try model.core.clearCache() } }
            Button(model.w("log_out"), role: .destructive) {
                model.run {
                    try await model.core.logOut()
                    model.account = nil
                }
            }
        }
        .task {
            current = try? model.core.currentPlatform()
            model.run { platforms = try await model.core.platforms(near: nil) }
        }
    }
}

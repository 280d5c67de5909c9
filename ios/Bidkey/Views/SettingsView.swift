import SwiftUI

/// 我的 / 设置: account, real-name, language, trading platform, clear cache, log out.
struct SettingsView: View {
    @EnvironmentObject var model: AppModel
    @State private var platforms: [Platform] = []
    @State private var current: Platform?

    var body: some View {
        Frame(title: model.w("我的", "Me")) {
            if let a = model.account {
                Section {
                    Text(a.phoneMasked)
                    if let name = a.realName {
                        Text("\(name) · \(a.idNumberMasked ?? "")")
                    } else {
                        NavigationLink(model.w("去实名认证", "Verify your identity")) { RealNameView() }
                    }
                }
            }
            Picker(model.w("语言", "Language"), selection: $model.lang) {
                Text("中文").tag(Lang.zh)
                Text("English").tag(Lang.en)
            }
            Section(model.w("交易平台", "Trading platform") + "：" + (current?.name ?? model.w("未选择", "none"))) {
                ForEach(platforms, id: \.id) { p in
                    Button(p.name) { model.run { current = try await model.core.selectPlatform(platformId: p.id) } }
                }
            }
            Button(model.w("清除缓存", "Clear cache")) { model.run { try model.core.clearCache() } }
            Button(model.w("退出登录", "Log out"), role: .destructive) {
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

import SwiftUI

@main
struct BidkeyApp: App {
    @StateObject private var model = AppModel.open()

    var body: some Scene {
        WindowGroup {
            RootView().environmentObject(model)
        }
    }
}

/// The tabs; the login screen while logged out.
struct RootView: View {
    @EnvironmentObject var model: AppModel

    var body: some View {
        if model.account == nil {
            LoginView()
        } else {
            TabView {
                NavigationStack { CertificatesView() }.tabItem { Label(model.w("证书", "Certificates"), systemImage: "key") }
                NavigationStack { ScanScreen() }.tabItem { Label(model.w("扫一扫", "Scan"), systemImage: "qrcode.viewfinder") }
                NavigationStack { EnterpriseView() }.tabItem { Label(model.w("企业", "Enterprise"), systemImage: "building.2") }
                NavigationStack { SettingsView() }.tabItem { Label(model.w("我的", "Me"), systemImage: "person") }
            }
        }
    }
}

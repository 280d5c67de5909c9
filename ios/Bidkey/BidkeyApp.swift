import BidkeyCore
import SwiftUI

@main
struct BidkeyApp: App {
    @StateObject private var launcher = Launcher()

    var body: some Scene {
        WindowGroup {
            switch launcher.launch {
            case let .ready(model):
                RootView()
                    .environmentObject(model)
                    // Same-device use: bidkey://scan?… (CFBundleURLTypes in project.yml); the
                    // scan tab hands it to the core (scanLink), verified as a scanned QR code.
                    .onOpenURL { url in model.pendingLink = url.absoluteString }
            case let .failed(message, detail):
                StartupErrorView(message: message, detail: detail)
            }
        }
    }
}

/// Starts the core once per process.
@MainActor
final class Launcher: ObservableObject {
    let launch = Launch.start()
}

/// The tabs; the login screen while logged out.
struct RootView: View {
    @EnvironmentObject var model: AppModel
    @State private var tab = "certs"

    var body: some View {
        if model.account == nil {
            LoginView()
        } else {
            TabView(selection: $tab) {
                NavigationStack { CertificatesView() }.tabItem { Label(model.w("certificates"), systemImage: "key") }.tag("certs")
                NavigationStack { ScanScreen() }.tabItem { Label(model.w("scan"), systemImage: "qrcode.viewfinder") }.tag("scan")
                NavigationStack { EnterpriseView() }.tabItem { Label(model.w("enterprise"), systemImage: "building.2") }.tag("enterprise")
                NavigationStack { SettingsView() }.tabItem { Label(model.w("me"), systemImage: "person") }.tag("settings")
            }
            .onChange(of: model.pendingLink) { link in if link != nil { tab = "scan" } }
        }
    }
}

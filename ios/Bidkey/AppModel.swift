import BidkeyCore
import Foundation
import SwiftUI

/// The app's state over the one core object. No logic: each action is a core call, its
/// result published for the views, and a `BidkeyError` turned into the core's words once here.
@MainActor
final class AppModel: ObservableObject {
    let core: Bidkey
    @Published var lang: Lang {
        // The choice is kept in the wallet (the core's settings) for the next start.
        didSet { try? core.setLanguage(lang: lang) }
    }
    @Published var account: Account?
    @Published var busy = false
    @Published var error: String?
    @Published var unlockSuggested = false
    /// A bidkey:// link that opened the app, until the scan screen takes it.
    @Published var pendingLink: String?
    /// Biometric confirmation, as kept in the wallet.
    @Published var biometric = false

    init(core: Bidkey, lang: Lang) {
        self.core = core
        self.lang = lang
        self.account = try? core.account()
        self.biometric = (try? core.biometric()) ?? false
    }

    /// The UI's own words (chrome) from the String Catalog, in the app's language (which may
    /// differ from the phone's). Sentences of the core come from the core, never from here.
    func w(_ key: String) -> String { AppModel.chrome(key, lang) }

    nonisolated static func chrome(_ key: String, _ lang: Lang) -> String {
        let code = lang == .zh ? "zh-Hans" : "en"
        let bundle = Bundle.main.path(forResource: code, ofType: "lproj").flatMap(Bundle.init(path:)) ?? .main
        return bundle.localizedString(forKey: key, value: nil, table: "Localizable")
    }

    /// The scan confirmation page in the core's words.
    func page(_ v: ScanView) -> [String] { lang == .zh ? v.pageZh : v.pageEn }

    /// Run a core call; errors become `error` (shown as an alert by the views).
    func run(_ action: @escaping () async throws -> Void) {
        Task {
            busy = true
            error = nil
            defer { busy = false }
            do {
                try await action()
            } catch let e as BidkeyError {
                error = message(e)
                // What to do next is the core's decision (`nextStep`), as on Android.
                switch nextStep(error: e) {
                case .logIn: account = nil
                case .unlock: unlockSuggested = true
                default: break
                }
            } catch {
                self.error = String(describing: error)
            }
        }
    }

    /// The core's sentence for an error (the same words the Android app and the CLI show).
    func message(_ e: BidkeyError) -> String { errorMessage(error: e, lang: lang) }

    static func yuan(_ fen: Int64) -> String { String(format: "¥%d.%02d", fen / 100, abs(fen % 100)) }

    static func day(_ unix: Int64) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm"
        f.timeZone = TimeZone(identifier: "Asia/Shanghai")
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(unix)))
    }
}

/// Shows the model's error as an alert and a progress bar while busy.
struct Frame<Content: View>: View {
    @EnvironmentObject var model: AppModel
    let title: String
    @ViewBuilder var content: () -> Content

    var body: some View {
        Form { content() }
            .navigationTitle(title)
            .overlay(alignment: .top) { if model.busy { ProgressView().padding() } }
            .alert(model.error ?? "", isPresented: Binding(get: { model.error != nil }, set: { if !$0 { model.error = nil } })) {
                Button(model.w("ok")) { model.error = nil }
            }
    }
}

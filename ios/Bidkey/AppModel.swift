import Foundation
import SwiftUI

/// The app's state over the one core object. No logic: each action is a core call, its
/// result published for the views, and a `BidkeyError` turned into words (zh/en) once here.
@MainActor
final class AppModel: ObservableObject {
    let core: Bidkey
    @Published var lang: Lang
    @Published var account: Account?
    @Published var busy = false
    @Published var error: String?
    @Published var unlockSuggested = false

    init(core: Bidkey, lang: Lang) {
        self.core = core
        self.lang = lang
        self.account = try? core.account()
    }

    /// Open the wallet in Application Support, sealed by the Secure Enclave.
    static func open() -> AppModel {
        let dir = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
            .appendingPathComponent("wallet", isDirectory: true)
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var excluded = URLResourceValues()
        excluded.isExcludedFromBackup = true // sealed by this phone's SE: useless elsewhere
        var url = dir
        try? url.setResourceValues(excluded)
        let server = Bundle.main.object(forInfoDictionaryKey: "BidkeyServer") as? String ?? "https://bidkey.example.cn"
        let lang: Lang = Locale.preferredLanguages.first?.hasPrefix("zh") == true ? .zh : .en
        do {
            let core = try Bidkey(
                config: BidkeyConfig(serverUrl: server, walletDir: dir.path),
                keystore: SecureEnclaveKeystore()
            )
            return AppModel(core: core, lang: lang)
        } catch {
            fatalError("the wallet cannot be opened: \(error)")
        }
    }

    func w(_ zh: String, _ en: String) -> String { lang == .zh ? zh : en }

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
                if case .NotLoggedIn = e { account = nil }
                if case .KeyLocked = e { unlockSuggested = true }
            } catch {
                self.error = String(describing: error)
            }
        }
    }

    func message(_ e: BidkeyError) -> String {
        switch e {
        case .Network: return coreText(which: .networkDown, lang: lang)
        case let .Server(_, zh, en, retry):
            let hint = retry.map { w("（\($0)秒后可重试）", " (try again in \($0) s)") } ?? ""
            return (lang == .zh ? zh : en) + hint
        case let .WrongPin(left): return w("证书密码错误，还可尝试\(left)次。", "Wrong PIN. \(left) tries left.")
        case .KeyLocked: return coreText(which: .keyLockedHelp, lang: lang)
        case let .UnlockLimited(next):
            return coreText(which: .unlockLimited, lang: lang) + untilHint(next)
        case let .RecoveryCoolingOff(until):
            return coreText(which: .recoveryCoolingOff, lang: lang) + untilHint(until)
        case .NotLoggedIn: return w("登录已失效，请重新登录。", "Please log in again.")
        case let .InvalidInput(field): return w("请检查输入：\(field)", "Please check the \(field).")
        case let .NotFound(what): return w("未找到：\(what)", "Not found: \(what)")
        case .Storage: return w("本机数据读写失败，请重启应用后重试。", "The app's storage failed. Restart the app and try again.")
        case .Crypto: return w("安全校验失败，请联系客服。", "A security check failed. Please contact support.")
        case .Keystore: return w("设备安全密钥不可用（可能已取消验证）。", "The device key is unavailable.")
        }
    }

    /// The server time (Unix seconds) from which a refused step is possible, in local time.
    func untilHint(_ unix: Int64) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm"
        let at = f.string(from: Date(timeIntervalSince1970: TimeInterval(unix)))
        return w("（\(at) 起）", " (from \(at))")
    }

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
                Button(model.w("知道了", "OK")) { model.error = nil }
            }
    }
}

import BidkeyCore
import Foundation
import SwiftUI

/// How the app started: the core over the wallet, or the reason it could not (shown by
/// `StartupErrorView`; never `fatalError`). The server and whom to trust for its TLS
/// certificate come from Info.plist (`BidkeyServer`, `BidkeyTrust`; project.yml sets them from
/// the build settings BIDKEY_SERVER and BIDKEY_TRUST, see ios/README.md).
enum Launch {
    case ready(AppModel)
    case failed(message: String?, detail: String)

    @MainActor static func start() -> Launch {
        let deviceLang: Lang = Locale.preferredLanguages.first?.hasPrefix("zh") == true ? .zh : .en
        let info = Bundle.main.infoDictionary ?? [:]
        let server = info["BidkeyServer"] as? String ?? ""
        do {
            let trust: ServerTrust
            switch (info["BidkeyTrust"] as? String ?? "system").lowercased() {
            // A server with a public certificate: the Security framework's trust evaluation.
            case "system": trust = .platform
            case "loopback": trust = .loopbackOnly
            // Only the CA in the bundle's server-ca.pem (ios/Bidkey/Config/server-ca.pem).
            default:
                let url = Bundle.main.url(forResource: "server-ca", withExtension: "pem")
                trust = .pinnedCa(pem: url.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? "")
            }
            let dir = try walletDirectory()
            let keystore = SecureEnclaveKeystore()
            let core = try Bidkey(
                config: BidkeyConfig(serverUrl: server, trust: trust, walletDir: dir.path),
                keystore: keystore
            )
            let chosen = (try? core.language()).flatMap { $0 }
            keystore.lang = chosen ?? deviceLang
            return .ready(AppModel(core: core, lang: chosen ?? deviceLang))
        } catch let e as BidkeyError {
            let message = coreText(which: .startupFailed, lang: deviceLang) + " " + errorMessage(error: e, lang: deviceLang)
            return .failed(message: message, detail: String(describing: e))
        } catch {
            return .failed(message: coreText(which: .startupFailed, lang: deviceLang), detail: String(describing: error))
        }
    }

    /// Application Support/wallet, excluded from backups: what it holds is sealed by this
    /// phone's Secure Enclave, useless elsewhere (证书找回 moves certificates).
    private static func walletDirectory() throws -> URL {
        var dir = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            .appendingPathComponent("wallet", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var excluded = URLResourceValues()
        excluded.isExcludedFromBackup = true
        try dir.setResourceValues(excluded)
        return dir
    }
}

/// The start-up failure: the core's sentence and the technical detail.
struct StartupErrorView: View {
    let message: String?
    let detail: String
    private let lang: Lang = Locale.preferredLanguages.first?.hasPrefix("zh") == true ? .zh : .en

    var body: some View {
        VStack(alignment: .leading, spacing: 12) {
            Text(AppModel.chrome("startup.title", lang)).font(.title2)
            Text(message ?? AppModel.chrome("startup.core_missing", lang))
            Text(AppModel.chrome("startup.detail", lang)).font(.caption)
            Text(detail).font(.caption2.monospaced())
        }
        .padding()
    }
}

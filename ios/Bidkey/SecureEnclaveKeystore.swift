import BidkeyCore
import Foundation
import LocalAuthentication
import Security

/// The core's `DeviceKeystore` on the Secure Enclave: one P-256 key per alias, created inside
/// the SE (the private key never leaves it), usable only while the phone is unlocked and only
/// on this device. `seal` is ECIES to the key's public half
/// (`eciesEncryptionCofactorVariableIVX963SHA256AESGCM`, AES-GCM authenticated); `open` asks
/// the SE to decrypt. Each alias has its own key, so a blob never opens under another alias.
/// Failures throw `BidkeyError.Keystore`.
final class SecureEnclaveKeystore: DeviceKeystore, @unchecked Sendable {
    private let algorithm = SecKeyAlgorithm.eciesEncryptionCofactorVariableIVX963SHA256AESGCM
    private let lock = NSLock()

    func seal(alias: String, plaintext: Data) throws -> Data {
        let key = try privateKey(alias: alias, create: true)
        guard let publicKey = SecKeyCopyPublicKey(key) else {
            throw BidkeyError.Keystore(detail: "no public key for \(alias)")
        }
        var error: Unmanaged<CFError>?
        guard let sealed = SecKeyCreateEncryptedData(publicKey, algorithm, plaintext as CFData, &error) else {
            throw keystoreError(error, "seal")
        }
        return sealed as Data
    }

    func open(alias: String, sealed: Data) throws -> Data {
        let key = try privateKey(alias: alias, create: false)
        var error: Unmanaged<CFError>?
        guard let plain = SecKeyCreateDecryptedData(key, algorithm, sealed as CFData, &error) else {
            throw keystoreError(error, "open")
        }
        return plain as Data
    }

    // Biometric confirmation (turned on in Settings): a second Secure Enclave key per alias whose
    // private half needs the person's current fingerprint or face for each use
    // (`.biometryCurrentSet`: a newly enrolled finger or face invalidates it). Sealing uses the
    // public half (no prompt); opening asks through LAContext with the core's sentence
    // (CoreText.biometricPromptReason). Async: the prompt runs off the caller's task.

    /// The app's language for the prompt's sentence, set by AppModel.
    var lang: Lang = .zh

    func sealWithUser(alias: String, plaintext: Data) async throws -> Data {
        let key = try privateKey(alias: "user.\(alias)", create: true, biometric: true)
        guard let publicKey = SecKeyCopyPublicKey(key) else {
            throw BidkeyError.Keystore(detail: "no public key for user.\(alias)")
        }
        var error: Unmanaged<CFError>?
        guard let sealed = SecKeyCreateEncryptedData(publicKey, algorithm, plaintext as CFData, &error) else {
            throw keystoreError(error, "seal with user")
        }
        return sealed as Data
    }

    func openWithUser(alias: String, sealed: Data) async throws -> Data {
        let context = LAContext()
        context.localizedReason = coreText(which: .biometricPromptReason, lang: lang)
        let key = try privateKey(alias: "user.\(alias)", create: false, biometric: true, context: context)
        let algorithm = self.algorithm
        // SecKeyCreateDecryptedData shows the prompt and blocks until it is answered: run it
        // on a detached task so no caller's thread (or the main actor) waits on it.
        return try await Task.detached(priority: .userInitiated) {
            var error: Unmanaged<CFError>?
            guard let plain = SecKeyCreateDecryptedData(key, algorithm, sealed as CFData, &error) else {
                let detail = error.map { String(describing: $0.takeRetainedValue()) } ?? "unknown"
                throw BidkeyError.Keystore(detail: "open with user: \(detail)")
            }
            return plain as Data
        }.value
    }

    private func tag(_ alias: String) -> Data { Data("cn.bidkey.\(alias)".utf8) }

    private func privateKey(alias: String, create: Bool, biometric: Bool = false, context: LAContext? = nil) throws -> SecKey {
        lock.lock()
        defer { lock.unlock() }
        var query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: tag(alias),
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecReturnRef as String: true,
        ]
        if let context { query[kSecUseAuthenticationContext as String] = context }
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        if status == errSecSuccess, let item {
            return item as! SecKey // swiftlint:disable:this force_cast (a kSecClassKey query returns SecKey)
        }
        guard create else {
            throw BidkeyError.Keystore(detail: "no device key for \(alias) (status \(status))")
        }
        return try makeKey(alias: alias, biometric: biometric)
    }

    private func makeKey(alias: String, biometric: Bool) throws -> SecKey {
        var error: Unmanaged<CFError>?
        let flags: SecAccessControlCreateFlags = biometric ? [.privateKeyUsage, .biometryCurrentSet] : .privateKeyUsage
        guard let access = SecAccessControlCreateWithFlags(
            nil, kSecAttrAccessibleWhenUnlockedThisDeviceOnly, flags, &error
        ) else {
            throw keystoreError(error, "access control")
        }
        var attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecPrivateKeyAttrs as String: [
                kSecAttrIsPermanent as String: true,
                kSecAttrApplicationTag as String: tag(alias),
                kSecAttrAccessControl as String: access,
            ] as [String: Any],
        ]
        #if !targetEnvironment(simulator)
        // The simulator has no Secure Enclave; there the key is an ordinary keychain key.
        attributes[kSecAttrTokenID as String] = kSecAttrTokenIDSecureEnclave
        #endif
        guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw keystoreError(error, "create key")
        }
        return key
    }

    private func keystoreError(_ error: Unmanaged<CFError>?, _ what: String) -> BidkeyError {
        let detail = error.map { String(describing: $0.takeRetainedValue()) } ?? "unknown"
        return BidkeyError.Keystore(detail: "\(what): \(detail)")
    }
}

import AVFoundation
import SwiftUI

// 扫一扫 over the core's scan API (`docs/bindings.md`): `scan(uri:)` → `ScanView` (the
// generated record; hence this screen is `ScanScreen`), `confirmScan`, `confirmSession`,
// `rejectScan`, `scanSessions`, `endScanSession`, `stopAutoConfirm`, `nextSessionRequest`.

/// The camera finds a QR; the core fetches and verifies its request; the person compares the
/// four digits with the platform's page and confirms with the PIN, or refuses.
struct ScanScreen: View {
    @EnvironmentObject var model: AppModel
    @State private var request: ScanView?
    @State private var lastCode: String?
    @State private var done: ScanDone?

    var body: some View {
        VStack {
            QrCameraView { code in
                guard code != lastCode, request == nil else { return }
                lastCode = code
                model.run { request = try await model.core.scan(uri: code) }
            }
            .frame(height: 360)
            if let d = done { Text(model.w("已完成：", "Done: ") + ScanWords.kind(d.kind, model)) }
            NavigationLink(model.w("会话", "Sessions")) { SessionsScreen() }
        }
        .navigationTitle(model.w("扫一扫", "Scan"))
        .sheet(item: $request) { r in
            ScanRequestPage(request: r) { result in
                done = result
                request = nil
                lastCode = nil
            }
        }
    }
}

/// The confirmation page (扫码确认) of a scanned or session request: who asks, the four
/// digits, what exactly, with which certificate; confirm with the PIN (a wrong PIN keeps the
/// page open for another try) or refuse. `onAnswered` gets the result (nil when refused).
struct ScanRequestPage: View {
    @EnvironmentObject var model: AppModel
    let request: ScanView
    let onAnswered: (ScanDone?) -> Void
    @State private var askPin = false
    @State private var autoConfirm = false

    var body: some View {
        let r = request
        NavigationStack {
            Form {
                Section(r.platformName) {
                    Text(r.origin)
                    Text(model.w("校验码 ", "Code ") + r.verificationCode).font(.title2.monospacedDigit())
                    Text(ScanWords.kind(r.kind, model))
                    actionRows(r)
                    if let c = r.certificate {
                        Text(model.w("使用证书：", "Certificate: ") + (c.enterpriseName ?? c.subject))
                    }
                    Text(model.w("有效期至 ", "Valid until ") + AppModel.day(r.expiresAt))
                }
                if case let .session(_, allowed, _) = r.action, allowed {
                    Toggle(model.w("自动确认后续签名和登录", "Auto-confirm later signing and login"), isOn: $autoConfirm)
                }
                Button(model.w("确认", "Confirm")) { askPin = true }
                Button(model.w("拒绝", "Reject"), role: .destructive) {
                    model.run {
                        try await model.core.rejectScan(requestId: r.requestId, reason: nil)
                        onAnswered(nil)
                    }
                }
            }
            .sheet(isPresented: $askPin) {
                PinPadView(title: model.w("证书密码", "PIN"), onPin: { pin in
                    askPin = false
                    model.run {
                        let done: ScanDone
                        if case .session = r.action {
                            done = try await model.core.confirmSession(requestId: r.requestId, pin: pin, autoConfirm: autoConfirm)
                        } else {
                            done = try await model.core.confirmScan(requestId: r.requestId, pin: pin)
                        }
                        onAnswered(done)
                    }
                }, onCancel: { askPin = false })
            }
        }
    }

    @ViewBuilder private func actionRows(_ r: ScanView) -> some View {
        switch r.action {
        case let .bind(platformUser, _):
            Text(model.w("平台账号：", "Platform account: ") + platformUser)
        case .login:
            EmptyView()
        case .sign:
            // The core's own view of each document: exactly what it will sign (CMS over the digest).
            ForEach(r.documents, id: \.name) { d in
                VStack(alignment: .leading) {
                    Text("· " + d.name + model.w("（共\(d.pageCount)页）", " (\(d.pageCount) pages)"))
                    Text((d.digestAlg == .sm3 ? "SM3 " : "SHA-256 ") + d.digestShort).font(.caption.monospaced())
                    if let seal = d.seal {
                        if let img = UIImage(data: Data(seal.imagePng)) {
                            Image(uiImage: img).resizable().scaledToFit().frame(width: 64, height: 64)
                        }
                        Text(model.w(
                            "盖章：\(seal.sealName)，第\(seal.page)页，距左\(seal.xMm)毫米、距上\(seal.yMm)毫米，\(seal.widthMm)×\(seal.heightMm)毫米",
                            "Seal: \(seal.sealName), page \(seal.page), \(seal.xMm) mm from the left, \(seal.yMm) mm from the top, \(seal.widthMm)×\(seal.heightMm) mm"
                        )).font(.caption)
                    }
                }
            }
        case let .decrypt(_, tenderName, openingAt, files):
            Text(tenderName)
            Text(model.w("开标时间 ", "Opening ") + AppModel.day(openingAt))
            ForEach(files, id: \.fileName) { f in
                Text("· " + f.fileName + (r.decryptableFiles.contains(f.fileName) ? "" : model.w("（非本机证书）", " (not for this phone)")))
            }
        case let .session(ttlSecs, _, _):
            Text(model.w("会话时长 \(ttlSecs / 60) 分钟", "Session of \(ttlSecs / 60) min"))
        }
    }
}

enum ScanWords {
    static func kind(_ k: ScanKind, _ model: AppModel) -> String {
        switch k {
        case .bind: return model.w("绑定证书", "Bind certificate")
        case .login: return model.w("扫码登录", "Log in")
        case .sign: return model.w("签名签章", "Sign")
        case .decrypt: return model.w("开标解密", "Decrypt bids")
        case .session: return model.w("开启会话", "Open a session")
        }
    }
}

extension ScanView: Identifiable {
    public var id: String { requestId }
}

/// Sessions with platforms: end one, turn auto-confirm off. While shown, the platforms' next
/// requests are awaited: auto-confirmed ones are listed as done, the others open the same
/// confirmation page as a scanned QR.
struct SessionsScreen: View {
    @EnvironmentObject var model: AppModel
    @State private var sessions: [ScanSession] = []
    @State private var autoDone: [SessionRequest] = []
    @State private var request: ScanView?
    /// The session whose auto-confirm is being switched on: that takes the PIN.
    @State private var pinFor: String?

    var body: some View {
        Frame(title: model.w("会话", "Sessions")) {
            let open = sessions.filter { $0.endedAt == nil }
            if open.isEmpty { Text(model.w("没有进行中的会话。", "No open session.")) }
            ForEach(open, id: \.sessionId) { s in
                VStack(alignment: .leading) {
                    Text(s.platformName)
                    Text(s.origin).font(.caption)
                    Text(model.w("至 ", "until ") + AppModel.day(s.expiresAt)).font(.caption)
                    HStack {
                        if s.autoConfirm {
                            Button(model.w("关闭自动确认", "Auto-confirm off")) {
                                model.run {
                                    model.core.stopAutoConfirm(sessionId: s.sessionId)
                                    sessions = try await model.core.scanSessions()
                                }
                            }
                        } else {
                            Button(model.w("开启自动确认", "Auto-confirm on")) { pinFor = s.sessionId }
                        }
                        Spacer()
                        Button(model.w("结束", "End"), role: .destructive) {
                            model.run {
                                try await model.core.endScanSession(sessionId: s.sessionId)
                                sessions = try await model.core.scanSessions()
                            }
                        }
                    }
                }
            }
            ForEach(autoDone, id: \.view.requestId) { r in
                Text(model.w("已自动确认：", "Auto-confirmed: ") + r.view.platformName + " · " + ScanWords.kind(r.view.kind, model))
            }
        }
        .task { model.run { sessions = try await model.core.scanSessions() } }
        .task {
            while !Task.isCancelled {
                do {
                    if let next = try await model.core.nextSessionRequest(waitSecs: 25) {
                        if next.done != nil { autoDone.append(next) } else { request = next.view }
                    }
                } catch {
                    // Network trouble or a request that failed verification: keep listening.
                    try? await Task.sleep(nanoseconds: 3_000_000_000)
                }
            }
        }
        .sheet(item: $request) { r in
            ScanRequestPage(request: r) { _ in request = nil }
        }
        .sheet(isPresented: Binding(get: { pinFor != nil }, set: { if !$0 { pinFor = nil } })) {
            PinPadView(title: model.w("证书密码", "PIN"), onPin: { pin in
                let sid = pinFor ?? ""
                pinFor = nil
                model.run {
                    try await model.core.startAutoConfirm(sessionId: sid, pin: pin)
                    sessions = try await model.core.scanSessions()
                }
            }, onCancel: { pinFor = nil })
        }
    }
}

/// AVFoundation capture with a metadata output for QR codes.
struct QrCameraView: UIViewRepresentable {
    let onCode: (String) -> Void

    func makeCoordinator() -> Coordinator { Coordinator(onCode: onCode) }

    func makeUIView(context: Context) -> PreviewView {
        let view = PreviewView()
        let session = AVCaptureSession()
        guard let device = AVCaptureDevice.default(for: .video),
              let input = try? AVCaptureDeviceInput(device: device),
              session.canAddInput(input) else { return view }
        session.addInput(input)
        let output = AVCaptureMetadataOutput()
        guard session.canAddOutput(output) else { return view }
        session.addOutput(output)
        output.setMetadataObjectsDelegate(context.coordinator, queue: .main)
        output.metadataObjectTypes = [.qr]
        view.previewLayer.session = session
        view.previewLayer.videoGravity = .resizeAspectFill
        context.coordinator.session = session
        DispatchQueue.global(qos: .userInitiated).async { session.startRunning() }
        return view
    }

    func updateUIView(_ uiView: PreviewView, context: Context) {}

    static func dismantleUIView(_ uiView: PreviewView, coordinator: Coordinator) {
        coordinator.session?.stopRunning()
    }

    final class Coordinator: NSObject, AVCaptureMetadataOutputObjectsDelegate {
        let onCode: (String) -> Void
        var session: AVCaptureSession?

        init(onCode: @escaping (String) -> Void) { self.onCode = onCode }

        func metadataOutput(_ output: AVCaptureMetadataOutput, didOutput objects: [AVMetadataObject], from connection: AVCaptureConnection) {
            if let qr = objects.first as? AVMetadataMachineReadableCodeObject, let text = qr.stringValue {
                onCode(text)
            }
        }
    }

    final class PreviewView: UIView {
        override class var layerClass: AnyClass { AVCaptureVideoPreviewLayer.self }
        var previewLayer: AVCaptureVideoPreviewLayer { layer as! AVCaptureVideoPreviewLayer } // swiftlint:disable:this force_cast
    }
}

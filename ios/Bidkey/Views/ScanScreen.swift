import BidkeyCore
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
            // Same-device use: a bidkey:// link opened the app (BidkeyApp.onOpenURL), before or
            // while this screen is shown.
            .onAppear { takeLink() }
            .onChange(of: model.pendingLink) { _ in takeLink() }
            if let d = done { Text(model.w("scan.done") + ScanWords.kind(d.kind, model)) }
            NavigationLink(model.w("sessions")) { SessionsScreen() }
        }
        .navigationTitle(model.w("scan"))
        .sheet(item: $request) { r in
            ScanRequestPage(request: r) { result in
                done = result
                request = nil
                lastCode = nil
            }
        }
    }
}

extension ScanScreen {
    /// The core parses the link and verifies its request exactly as a scanned QR code's.
    fileprivate func takeLink() {
        guard let link = model.pendingLink, request == nil else { return }
        model.pendingLink = nil
        model.run { request = try await model.core.scanLink(link: link) }
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
                    // The core's own page (platform, origin, the four digits to compare, the
                    // action, documents or files, certificate, validity): the same lines the
                    // Android app and the CLI show.
                    ForEach(Array(model.page(r).enumerated()), id: \.offset) { _, line in Text(line) }
                    // The seal images the server holds for the seals to be placed.
                    ForEach(r.documents.compactMap { $0.seal }, id: \.sealId) { seal in
                        if let img = UIImage(data: Data(seal.imagePng)) {
                            Image(uiImage: img).resizable().scaledToFit().frame(width: 64, height: 64)
                        }
                    }
                }
                if case let .session(_, allowed, _) = r.action, allowed {
                    Toggle(model.w("auto_confirm_later_signing_and_login"), isOn: $autoConfirm)
                }
                Button(model.w("confirm")) { askPin = true }
                Button(model.w("reject_2"), role: .destructive) {
                    model.run {
                        try await model.core.rejectScan(requestId: r.requestId, reason: nil)
                        onAnswered(nil)
                    }
                }
            }
            .sheet(isPresented: $askPin) {
                PinPadView(title: model.w("pin"), onPin: { pin in
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

}

enum ScanWords {
    /// The core's name of a request's kind.
    static func kind(_ k: ScanKind, _ model: AppModel) -> String { scanKindLabel(kind: k, lang: model.lang) }
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
        Frame(title: model.w("sessions")) {
            let open = sessions.filter { $0.endedAt == nil }
            if open.isEmpty { Text(model.w("no_open_session")) }
            ForEach(open, id: \.sessionId) { s in
                VStack(alignment: .leading) {
                    Text(s.platformName)
                    Text(s.origin).font(.caption)
                    Text(model.w("until") + AppModel.day(s.expiresAt)).font(.caption)
                    HStack {
                        if s.autoConfirm {
                            Button(model.w("auto_confirm_off")) {
                                model.run {
                                    model.core.stopAutoConfirm(sessionId: s.sessionId)
                                    sessions = try await model.core.scanSessions()
                                }
                            }
                        } else {
                            Button(model.w("auto_confirm_on")) { pinFor = s.sessionId }
                        }
                        Spacer()
                        Button(model.w("end"), role: .destructive) {
                            model.run {
                                try await model.core.endScanSession(sessionId: s.sessionId)
                                sessions = try await model.core.scanSessions()
                            }
                        }
                    }
                }
            }
            ForEach(autoDone, id: \.view.requestId) { r in
                Text(model.w("auto_confirmed") + r.view.platformName + " · " + ScanWords.kind(r.view.kind, model))
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
            PinPadView(title: model.w("pin"), onPin: { pin in
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

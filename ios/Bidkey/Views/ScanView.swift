import AVFoundation
import SwiftUI

// 扫一扫 over the core's planned scan API (issue "scan"): `scan(uri:)`, `confirmScan`,
// `rejectScan`, `scanSessions`, `endScanSession`, `nextSessionRequest`. Field names of
// ScanRequest/ScanSession are the planned ones; adjust here when the API lands.

/// The camera finds a QR; the core parses and checks it; the person confirms with the PIN.
struct ScanView: View {
    @EnvironmentObject var model: AppModel
    @State private var request: ScanRequest?
    @State private var lastCode: String?
    @State private var askPin = false
    @State private var done = false

    var body: some View {
        VStack {
            QrCameraView { code in
                guard code != lastCode, request == nil else { return }
                lastCode = code
                model.run { request = try await model.core.scan(uri: code) }
            }
            .frame(height: 360)
            if done { Text(model.w("已完成。", "Done.")) }
            NavigationLink(model.w("签章会话", "Signing sessions")) { SessionsView() }
        }
        .navigationTitle(model.w("扫一扫", "Scan"))
        .sheet(item: $request) { r in
            NavigationStack {
                Form {
                    Section(r.platformName) {
                        Text(r.platformOrigin)
                        ForEach(r.documents, id: \.name) { Text("· " + $0.name) }
                        ForEach(r.files, id: \.name) { Text("· " + $0.name) }
                        Text(model.w("有效期至 ", "Valid until ") + AppModel.day(r.expiresAt))
                    }
                    Button(model.w("确认", "Confirm")) { askPin = true }
                    Button(model.w("拒绝", "Reject"), role: .destructive) {
                        model.run { try await model.core.rejectScan(requestId: r.requestId); request = nil; lastCode = nil }
                    }
                }
                .sheet(isPresented: $askPin) {
                    PinPadView(title: model.w("证书密码", "PIN"), onPin: { pin in
                        askPin = false
                        model.run {
                            _ = try await model.core.confirmScan(requestId: r.requestId, pin: pin)
                            request = nil
                            lastCode = nil
                            done = true
                        }
                    }, onCancel: { askPin = false })
                }
            }
        }
    }
}

extension ScanRequest: Identifiable {
    public var id: String { requestId }
}

/// Open signing sessions; while this screen is shown, the platform's next request is awaited.
struct SessionsView: View {
    @EnvironmentObject var model: AppModel
    @State private var sessions: [ScanSession] = []

    var body: some View {
        Frame(title: model.w("签章会话", "Signing sessions")) {
            if sessions.isEmpty { Text(model.w("没有进行中的会话。", "No open session.")) }
            ForEach(sessions, id: \.id) { s in
                HStack {
                    Text(s.platformName)
                    Spacer()
                    Button(model.w("结束", "End")) {
                        model.run {
                            try await model.core.endScanSession(id: s.id)
                            sessions = try await model.core.scanSessions()
                        }
                    }
                }
            }
        }
        .task { model.run { sessions = try await model.core.scanSessions() } }
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

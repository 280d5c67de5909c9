import BidkeyCore
import SwiftUI

/// The 证书密码 pad, drawn by the app (not the system keyboard). The digits live only in this
/// view's state and are cleared as soon as they are handed to `onPin`.
struct PinPadView: View {
    @EnvironmentObject var model: AppModel
    let title: String
    let onPin: (String) -> Void
    let onCancel: () -> Void
    @State private var digits: [Character] = []

    var body: some View {
        VStack(spacing: 16) {
            Text(title).font(.headline)
            Text(String(repeating: "●", count: digits.count) + String(repeating: "○", count: max(0, 6 - digits.count)))
                .font(.title)
            ForEach([[1, 2, 3], [4, 5, 6], [7, 8, 9], [-1, 0, -2]], id: \.self) { row in
                HStack(spacing: 16) {
                    ForEach(row, id: \.self) { key in
                        switch key {
                        case -1: Color.clear.frame(width: 64, height: 64)
                        case -2: Button("⌫") { if !digits.isEmpty { digits.removeLast() } }.frame(width: 64, height: 64)
                        default:
                            Button("\(key)") { if digits.count < 12 { digits.append(Character("\(key)")) } }
                                .frame(width: 64, height: 64).buttonStyle(.bordered)
                        }
                    }
                }
            }
            HStack {
                Button(model.w("cancel")) { digits.removeAll(); onCancel() }
                Button(model.w("confirm")) {
                    let pin = String(digits)
                    digits.removeAll()
                    onPin(pin)
                }.disabled(digits.count < 6)
            }
        }.padding()
    }
}

import BidkeyCore
import SwiftUI
import UniformTypeIdentifiers

/// 企业: search, 认领 (with files), 对公打款 (instructions, then polling), 加入, my enterprises.
struct EnterpriseView: View {
    @EnvironmentObject var model: AppModel
    @State private var query = ""
    @State private var search: EnterpriseSearch?
    @State private var mine: [Enterprise] = []
    @State private var micropayment: Micropayment?
    @State private var last6 = ""
    @State private var claiming: EnterpriseHit?
    @State private var picking = false
    @State private var files: [MaterialFile] = []

    var body: some View {
        Frame(title: model.w("enterprises")) {
            Section {
                TextField(model.w("enterprise_name_or_uscc"), text: $query)
                Button(model.w("search")) { model.run { search = try await model.core.searchEnterprises(query: query) } }
            }
            ForEach(search?.results ?? [], id: \.uscc) { hit in
                Section(hit.name ?? hit.uscc) {
                    Text(hit.uscc)
                    ForEach(hit.actions, id: \.self) { action in
                        switch action {
                        case .micropay:
                            TextField(model.w("last_six_digits_of_the_account"), text: $last6).keyboardType(.numberPad)
                            Button(model.w("verify_by_transfer")) {
                                model.run { micropayment = try await model.core.requestMicropayment(uscc: hit.uscc, name: hit.name ?? query, accountLast6: last6) }
                            }
                        case .join:
                            Button(model.w("join")) { if let id = hit.id { model.run { _ = try await model.core.joinEnterprise(enterpriseId: id) } } }
                        case .claim:
                            Button(model.w("claim_pick_files")) { claiming = hit; picking = true }
                        }
                    }
                }
            }
            if let mp = micropayment {
                Section(model.w("corporate_transfer")) {
                    Text(micropaymentInstructions(micropayment: mp, lang: model.lang))
                    Text(micropaymentStatusText(status: mp.status, lang: model.lang))
                    Button(model.w("refresh")) {
                        model.run {
                            micropayment = try await model.core.micropayment(id: mp.id)
                            mine = try await model.core.myEnterprises()
                        }
                    }
                }
            }
            Section(model.w("my_enterprises")) {
                ForEach(mine, id: \.id) { e in
                    if e.myRole == .admin {
                        NavigationLink(e.name) { AdminView(enterpriseId: e.id) }
                    } else {
                        Text(e.name)
                    }
                }
            }
        }
        .task { model.run { mine = try await model.core.myEnterprises() } }
        .fileImporter(isPresented: $picking, allowedContentTypes: [.png, .jpeg, .pdf], allowsMultipleSelection: true) { result in
            guard let hit = claiming, case let .success(urls) = result else { return }
            files = urls.prefix(5).compactMap { url in
                guard url.startAccessingSecurityScopedResource() else { return nil }
                defer { url.stopAccessingSecurityScopedResource() }
                guard let data = try? Data(contentsOf: url) else { return nil }
                let type = UTType(filenameExtension: url.pathExtension)?.preferredMIMEType ?? "application/octet-stream"
                return MaterialFile(name: url.lastPathComponent, contentType: type, data: data)
            }
            model.run { _ = try await model.core.claimEnterprise(uscc: hit.uscc, name: hit.name ?? query, legalRep: nil, materials: files) }
        }
    }
}

import BidkeyCore
import SwiftUI
import UniformTypeIdentifiers

/// 企业管理 for the admin: staff, join requests, 转授管理员, grants per platform, seals, zones.
struct AdminView: View {
    @EnvironmentObject var model: AppModel
    let enterpriseId: String
    @State private var staff: [Member] = []
    @State private var requests: [JoinRequestView] = []
    @State private var grants: [Grant] = []
    @State private var seals: [Seal] = []
    @State private var zones: [Zone] = []
    @State private var invitePhone = ""
    @State private var platformId = ""
    @State private var sealName = ""
    @State private var pickingSeal = false

    var body: some View {
        Frame(title: model.w("manage_the_enterprise")) {
            Section(model.w("staff")) {
                ForEach(staff, id: \.accountId) { m in
                    VStack(alignment: .leading) {
                        Text(m.realName ?? m.phoneMasked)
                        if m.role == .staff {
                            HStack {
                                Button(model.w("make_admin")) { act { staff = try await model.core.transferAdmin(enterpriseId: enterpriseId, toAccountId: m.accountId) } }
                                Button(model.w("remove"), role: .destructive) { act { _ = try await model.core.removeStaff(enterpriseId: enterpriseId, accountId: m.accountId) } }
                                if !platformId.isEmpty {
                                    Button(model.w("grant")) { act { _ = try await model.core.addGrant(enterpriseId: enterpriseId, accountId: m.accountId, platformId: platformId) } }
                                }
                            }.buttonStyle(.borderless)
                        }
                    }
                }
                TextField(model.w("invite_by_phone"), text: $invitePhone).keyboardType(.numberPad)
                Button(model.w("invite")) { act { _ = try await model.core.inviteStaff(enterpriseId: enterpriseId, phone: invitePhone) } }
            }
            Section(model.w("join_requests")) {
                ForEach(requests, id: \.application.id) { r in
                    HStack {
                        Text(r.realName ?? r.phoneMasked)
                        Spacer()
                        Button(model.w("approve")) { act { _ = try await model.core.approveJoin(enterpriseId: enterpriseId, applicationId: r.application.id) } }
                        Button(model.w("reject")) { act { _ = try await model.core.rejectJoin(enterpriseId: enterpriseId, applicationId: r.application.id, reason: model.w("rejected_by_the_admin")) } }
                    }.buttonStyle(.borderless)
                }
            }
            Section(model.w("platform_grants")) {
                TextField(model.w("platform_id"), text: $platformId)
                ForEach(grants, id: \.id) { g in
                    HStack {
                        Text("\(g.realName ?? g.accountId) → \(g.platformName)")
                        Spacer()
                        if g.revokedAt == nil {
                            Button(model.w("revoke")) { act { _ = try await model.core.revokeGrant(enterpriseId: enterpriseId, grantId: g.id) } }
                        }
                    }
                }
                if !platformId.isEmpty {
                    Button(model.w("bind_zone")) { act { _ = try await model.core.bindZone(enterpriseId: enterpriseId, platformId: platformId) } }
                }
            }
            Section(model.w("seals")) {
                ForEach(seals, id: \.id) { s in
                    HStack {
                        Text(s.name)
                        Spacer()
                        Button(model.w("delete"), role: .destructive) { act { try await model.core.deleteSeal(enterpriseId: enterpriseId, sealId: s.id) } }
                    }
                }
                TextField(model.w("seal_name"), text: $sealName)
                Button(model.w("add_seal_png")) { pickingSeal = true }
            }
            Section(model.w("zones")) {
                ForEach(zones, id: \.id) { z in
                    HStack {
                        Text(z.platformName)
                        Spacer()
                        Button(model.w("unbind")) { act { try await model.core.unbindZone(enterpriseId: enterpriseId, platformId: z.platformId) } }
                    }
                }
            }
        }
        .task { act {} }
        .fileImporter(isPresented: $pickingSeal, allowedContentTypes: [.png]) { result in
            guard case let .success(url) = result, url.startAccessingSecurityScopedResource() else { return }
            defer { url.stopAccessingSecurityScopedResource() }
            guard let png = try? Data(contentsOf: url) else { return }
            act { _ = try await model.core.addSeal(enterpriseId: enterpriseId, name: sealName, png: png) }
        }
    }

    /// Do one admin action, then reload every list of the screen.
    private func act(_ action: @escaping () async throws -> Void) {
        model.run {
            try await action()
            staff = try await model.core.staff(enterpriseId: enterpriseId)
            requests = try await model.core.joinRequests(enterpriseId: enterpriseId)
            grants = try await model.core.grants(enterpriseId: enterpriseId, filter: GrantFilter(platformId: platformId.isEmpty ? nil : platformId))
            seals = try await model.core.seals(enterpriseId: enterpriseId)
            zones = try await model.core.zones(enterpriseId: enterpriseId)
        }
    }
}

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
        Frame(title: model.w("企业管理", "Manage the enterprise")) {
            Section(model.w("人员管理", "Staff")) {
                ForEach(staff, id: \.accountId) { m in
                    VStack(alignment: .leading) {
                        Text(m.realName ?? m.phoneMasked)
                        if m.role == .staff {
                            HStack {
                                Button(model.w("转授管理员", "Make admin")) { act { staff = try await model.core.transferAdmin(enterpriseId: enterpriseId, toAccountId: m.accountId) } }
                                Button(model.w("移除", "Remove"), role: .destructive) { act { _ = try await model.core.removeStaff(enterpriseId: enterpriseId, accountId: m.accountId) } }
                                if !platformId.isEmpty {
                                    Button(model.w("授权", "Grant")) { act { _ = try await model.core.addGrant(enterpriseId: enterpriseId, accountId: m.accountId, platformId: platformId) } }
                                }
                            }.buttonStyle(.borderless)
                        }
                    }
                }
                TextField(model.w("邀请手机号", "Invite by phone"), text: $invitePhone).keyboardType(.numberPad)
                Button(model.w("邀请", "Invite")) { act { _ = try await model.core.inviteStaff(enterpriseId: enterpriseId, phone: invitePhone) } }
            }
            Section(model.w("加入申请", "Join requests")) {
                ForEach(requests, id: \.application.id) { r in
                    HStack {
                        Text(r.realName ?? r.phoneMasked)
                        Spacer()
                        Button(model.w("同意", "Approve")) { act { _ = try await model.core.approveJoin(enterpriseId: enterpriseId, applicationId: r.application.id) } }
                        Button(model.w("驳回", "Reject")) { act { _ = try await model.core.rejectJoin(enterpriseId: enterpriseId, applicationId: r.application.id, reason: model.w("管理员驳回", "Rejected by the admin")) } }
                    }.buttonStyle(.borderless)
                }
            }
            Section(model.w("授权管理", "Platform grants")) {
                TextField(model.w("平台编号", "Platform id"), text: $platformId)
                ForEach(grants, id: \.id) { g in
                    HStack {
                        Text("\(g.realName ?? g.accountId) → \(g.platformName)")
                        Spacer()
                        if g.revokedAt == nil {
                            Button(model.w("撤销", "Revoke")) { act { _ = try await model.core.revokeGrant(enterpriseId: enterpriseId, grantId: g.id) } }
                        }
                    }
                }
                if !platformId.isEmpty {
                    Button(model.w("绑定专区", "Bind zone")) { act { _ = try await model.core.bindZone(enterpriseId: enterpriseId, platformId: platformId) } }
                }
            }
            Section(model.w("印章管理", "Seals")) {
                ForEach(seals, id: \.id) { s in
                    HStack {
                        Text(s.name)
                        Spacer()
                        Button(model.w("删除", "Delete"), role: .destructive) { act { try await model.core.deleteSeal(enterpriseId: enterpriseId, sealId: s.id) } }
                    }
                }
                TextField(model.w("印章名称", "Seal name"), text: $sealName)
                Button(model.w("新增印章（PNG）", "Add seal (PNG)")) { pickingSeal = true }
            }
            Section(model.w("专区", "Zones")) {
                ForEach(zones, id: \.id) { z in
                    HStack {
                        Text(z.platformName)
                        Spacer()
                        Button(model.w("解绑", "Unbind")) { act { try await model.core.unbindZone(enterpriseId: enterpriseId, platformId: z.platformId) } }
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

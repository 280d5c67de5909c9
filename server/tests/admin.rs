//! The admin's 人员管理 over real HTTP: members, invitations, removal with certificate and
//! grant revocation, transfer of the admin role, change of information, messages, and
//! refusals for staff and for other enterprises' admins; on SQLite and on PostgreSQL.

#[macro_use]
mod support;

use bidkey_crypto::sm2;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::cosign::{self as cw, AdminAction, CosignPurpose};
use bidkey_protocol::enterprises::*;
use bidkey_protocol::orders::{Application, ApplicationKind, ReviewDecision, Status};
use bidkey_protocol::platforms::{
    BidRecipient, Grant, GrantRequest, NewPlatform, NewSeal, Platform, Seal, SealUpdate,
};
use bidkey_server::db::Value;
use support::device::{
    Wallet, approve, co_decrypt, co_sign, confirmation, confirmation_with, confirmed, enroll,
    operator, paid_personal_application, pay, wrong_share,
};
use support::{Client, Store, TestServer, person, signed_up, uscc, verify_by_micropayment};

on_both_stores!(
    admin_actions_need_the_pin,
    members_invite_and_remove,
    transfer_admin_keeps_one_admin,
    other_enterprises_are_out_of_reach,
    change_info_goes_to_review,
    messages_are_read,
    bid_recipients_are_the_granted_staff,
);

/// An admin and a staff member of a fresh enterprise.
async fn team(server: &TestServer, seq: u32) -> (Client, Client, String) {
    let (a, b, eid, _) = team_with_pin(server, seq).await;
    (a, b, eid)
}

/// [`team`], the admin with a personal certificate pair on their phone: their PIN confirms
/// admin actions (ADR 0018).
async fn team_with_pin(server: &TestServer, seq: u32) -> (Client, Client, String, Wallet) {
    let base = 13_900_000_000u64 + u64::from(seq) * 10;
    let a = person(server, &(base + 1).to_string(), "张三", seq * 10 + 1).await;
    let b = person(server, &(base + 2).to_string(), "李四", seq * 10 + 2).await;
    let name = format!("宿迁第{seq}建设有限公司");
    let code = uscc(seq);
    let eid = verify_by_micropayment(server, &a, &name, &code, &format!("T{seq}-a")).await;
    let eid_b = verify_by_micropayment(server, &b, &name, &code, &format!("T{seq}-b")).await;
    assert_eq!(eid, eid_b);
    let app = paid_personal_application(server, &a).await;
    let w = enroll(&a, &app).await;
    (a, b, eid, w)
}

async fn my_id(c: &Client) -> String {
    let me: serde_json::Value = c.get("/v1/me").await.expect("me");
    me["id"].as_str().expect("id").to_owned()
}

async fn platform(server: &TestServer, origin: &str) -> Platform {
    Client::new(server)
        .with_token(&server.operator_token())
        .post(
            "/v1/operator/platforms",
            &NewPlatform {
                name: "宿迁市公共资源交易平台".into(),
                origin: origin.into(),
                region: Some("江苏宿迁".into()),
                latitude: Some(33.96),
                longitude: Some(118.28),
            },
        )
        .await
        .expect("platform")
}

/// A certificate pair with a signing certificate, as the CA part would store it.
async fn fake_certificate(server: &TestServer, account: &str, enterprise: &str, serial: &str) {
    let (account, enterprise, serial) =
        (account.to_owned(), enterprise.to_owned(), serial.to_owned());
    let now = server.running.state.clock.now();
    server
        .running
        .state
        .db
        .write(move |tx| {
            let pair = format!("pair-{serial}");
            tx.execute(
                "INSERT INTO cert_pairs (id, account_id, enterprise_id, status, created_at, updated_at) VALUES ($1, $2, $3, 'valid', $4, $4)",
                &[Value::Text(pair.clone()), Value::Text(account.clone()), Value::Text(enterprise.clone()), Value::Int(now)],
            )?;
            tx.execute(
                "INSERT INTO certificates (serial, pair_id, usage, subject, der, not_before, not_after, status, created_at) \
                 VALUES ($1, $2, 'signing', 'CN=test', $3, $4, $5, 'valid', $4)",
                &[Value::Text(serial.clone()), Value::Text(pair), Value::Bytes(vec![0x30, 0]), Value::Int(now - 10), Value::Int(now + 86_400)],
            )?;
            Ok::<_, bidkey_server::db::DbError>(())
        })
        .await
        .expect("certificate stored");
}

async fn one_row(server: &TestServer, sql: &'static str, arg: &str) -> Vec<Value> {
    let arg = arg.to_owned();
    server
        .running
        .state
        .db
        .read(move |tx| {
            let r = tx.query_opt(sql, &[Value::Text(arg.clone())])?;
            Ok::<_, bidkey_server::db::DbError>(r.map(|r| {
                (0..3)
                    .map(|i| {
                        r.opt_i64(i)
                            .map(|v| v.map_or(Value::Null, Value::Int))
                            .or_else(|_| r.text(i).map(Value::Text))
                            .unwrap_or(Value::Null)
                    })
                    .collect()
            }))
        })
        .await
        .expect("query")
        .expect("row")
}

async fn members_invite_and_remove(store: Store) {
    let server = TestServer::start(store).await;
    let (a, b, eid, w) = team_with_pin(&server, 1).await;
    let b_id = my_id(&b).await;
    let a_id = my_id(&a).await;
    let members_path = format!("/v1/enterprises/{eid}/members");

    let members: Vec<Member> = a.get(&members_path).await.expect("members");
    assert_eq!(members.len(), 2);
    assert_eq!(
        (members[0].role, members[1].role),
        (Role::Admin, Role::Staff)
    );
    assert_eq!(members[1].phone_masked, "139****0012");
    assert_eq!(members[1].real_name.as_deref(), Some("李四"));
    let err = b
        .get::<Vec<Member>>(&members_path)
        .await
        .expect_err("staff");
    assert_eq!((err.0, err.1.code), (403, ErrorCode::NotAdmin));

    // Invitations: an existing real-named account, by phone.
    let invite = |phone: &str, key: &str| InviteRequest {
        phone: phone.into(),
        idempotency_key: key.into(),
    };
    let err = a
        .post::<_, Application>(&members_path, &invite("13700000000", "i0"))
        .await
        .expect_err("unknown phone");
    assert_eq!(err.1.code, ErrorCode::AccountNotFound);
    let _ = signed_up(&server, "13900000015").await;
    let err = a
        .post::<_, Application>(&members_path, &invite("13900000015", "i1"))
        .await
        .expect_err("not real-named");
    assert_eq!(err.1.code, ErrorCode::RealNameRequired);
    let err = a
        .post::<_, Application>(&members_path, &invite("13900000012", "i2"))
        .await
        .expect_err("already staff");
    assert_eq!(err.1.code, ErrorCode::AlreadyMember);
    let err = b
        .post::<_, Application>(&members_path, &invite("13900000016", "i3"))
        .await
        .expect_err("staff invites");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let c = person(&server, "13900000016", "王五", 16).await;
    let app: Application = a
        .post(&members_path, &invite("13900000016", "i4"))
        .await
        .expect("invited");
    let again: Application = a
        .post(&members_path, &invite("13900000016", "i4"))
        .await
        .expect("retry");
    assert_eq!(again.id, app.id);
    let theirs: Vec<Application> = c.get("/v1/applications").await.expect("apps");
    assert_eq!(theirs.len(), 1);
    assert_eq!(
        (theirs[0].kind, theirs[0].status),
        (ApplicationKind::Join, Status::PendingReview)
    );

    // Staff cannot remove anyone; the admin cannot remove themself.
    let err = b
        .delete::<Removed>(&format!("{members_path}/{a_id}"))
        .await
        .expect_err("staff removes admin");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let err = a
        .delete::<Removed>(&format!("{members_path}/{a_id}"))
        .await
        .expect_err("admin removes self");
    assert_eq!(err.1.code, ErrorCode::InvalidState);

    // Removing staff revokes their enterprise certificates and grants in one go.
    fake_certificate(&server, &b_id, &eid, "0b01").await;
    let p = platform(&server, "https://ggzy.example.invalid").await;
    let grant = AdminAction::AddGrant {
        enterprise_id: eid.clone(),
        account_id: b_id.clone(),
        platform_id: p.id.clone(),
    };
    let _: Grant = confirmed(&a, &w, grant)
        .await
        .post(
            &format!("/v1/enterprises/{eid}/grants"),
            &GrantRequest {
                account_id: b_id.clone(),
                platform_id: p.id.clone(),
            },
        )
        .await
        .expect("granted");
    let remove_b = AdminAction::RemoveStaff {
        enterprise_id: eid.clone(),
        account_id: b_id.clone(),
    };
    let removed: Removed = confirmed(&a, &w, remove_b)
        .await
        .delete(&format!("{members_path}/{b_id}"))
        .await
        .expect("removed");
    assert_eq!(
        (removed.certificates_revoked, removed.grants_revoked),
        (1, 1)
    );
    let cert = one_row(
        &server,
        "SELECT revoke_reason, revoked_at, status FROM certificates WHERE serial = $1",
        "0b01",
    )
    .await;
    assert_eq!(cert[0], Value::Int(3));
    assert!(matches!(cert[1], Value::Int(_)));
    assert_eq!(cert[2], Value::Text("revoked".into()));
    let pair = one_row(
        &server,
        "SELECT status, status, status FROM cert_pairs WHERE id = $1",
        "pair-0b01",
    )
    .await;
    assert_eq!(pair[0], Value::Text("revoked".into()));
    let err = b
        .get::<EnterpriseInfo>(&format!("/v1/enterprises/{eid}"))
        .await
        .expect_err("no longer a member");
    assert_eq!(err.1.code, ErrorCode::NotMember);
    let err = a
        .delete::<Removed>(&format!("{members_path}/{b_id}"))
        .await
        .expect_err("twice");
    assert_eq!(err.1.code, ErrorCode::NotMember);
    let msgs: Vec<Message> = b.get("/v1/messages").await.expect("messages");
    assert!(msgs.iter().any(|m| m.text_zh.contains("移出")));
    let audit = one_row(
        &server,
        "SELECT COUNT(*), COUNT(*), COUNT(*) FROM audit_log WHERE action = $1",
        "enterprise.member_removed",
    )
    .await;
    assert_eq!(audit[0], Value::Int(1));
}

async fn transfer_admin_keeps_one_admin(store: Store) {
    let server = TestServer::start(store).await;
    let (a, b, eid, w) = team_with_pin(&server, 2).await;
    let b_id = my_id(&b).await;
    let path = format!("/v1/enterprises/{eid}/transfer-admin");
    let to = |id: &str| TransferAdminRequest {
        account_id: id.into(),
    };
    let err = b
        .post::<_, Vec<Member>>(&path, &to(&b_id))
        .await
        .expect_err("staff transfers");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let err = a
        .post::<_, Vec<Member>>(&path, &to("0123456789abcdef"))
        .await
        .expect_err("not a member");
    assert_eq!(err.1.code, ErrorCode::NotMember);

    let to_b = AdminAction::TransferAdmin {
        enterprise_id: eid.clone(),
        to_account_id: b_id.clone(),
    };
    let members: Vec<Member> = confirmed(&a, &w, to_b)
        .await
        .post(&path, &to(&b_id))
        .await
        .expect("transferred");
    assert_eq!(members[0].account_id, b_id);
    assert_eq!(members[0].role, Role::Admin);
    assert_eq!(members[1].role, Role::Staff);
    let admins = one_row(
        &server,
        "SELECT COUNT(*), COUNT(*), COUNT(*) FROM memberships WHERE enterprise_id = $1 AND role = 'admin' AND status = 'active'",
        &eid,
    )
    .await;
    assert_eq!(admins[0], Value::Int(1));
    // The former admin is staff now.
    let err = a
        .get::<Vec<Member>>(&format!("/v1/enterprises/{eid}/members"))
        .await
        .expect_err("now staff");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let info: EnterpriseInfo = a
        .get(&format!("/v1/enterprises/{eid}"))
        .await
        .expect("info");
    assert_eq!(info.my_role, Role::Staff);
    let msgs: Vec<Message> = b.get("/v1/messages").await.expect("messages");
    assert!(msgs.iter().any(|m| m.text_zh.contains("您已成为")));
}

async fn other_enterprises_are_out_of_reach(store: Store) {
    let server = TestServer::start(store).await;
    let (a, _b, eid_x) = team(&server, 3).await;
    let (d, e, eid_y, w_d) = team_with_pin(&server, 4).await;
    let e_id = my_id(&e).await;
    let a_id = my_id(&a).await;
    let p = platform(&server, "https://ggzy2.example.invalid").await;

    // A (admin of X) on Y's data: refused everywhere.
    let not_member = |r: (u16, bidkey_protocol::ErrorBody)| {
        assert_eq!((r.0, r.1.code), (403, ErrorCode::NotMember));
    };
    not_member(
        a.get::<Vec<Member>>(&format!("/v1/enterprises/{eid_y}/members"))
            .await
            .expect_err("members"),
    );
    not_member(
        a.get::<EnterpriseInfo>(&format!("/v1/enterprises/{eid_y}"))
            .await
            .expect_err("info"),
    );
    not_member(
        a.delete::<Removed>(&format!("/v1/enterprises/{eid_y}/members/{e_id}"))
            .await
            .expect_err("remove"),
    );
    let grant = GrantRequest {
        account_id: e_id.clone(),
        platform_id: p.id.clone(),
    };
    not_member(
        a.post::<_, Grant>(&format!("/v1/enterprises/{eid_y}/grants"), &grant)
            .await
            .expect_err("grant in Y"),
    );
    not_member(
        a.get::<Vec<Grant>>(&format!("/v1/enterprises/{eid_y}/grants"))
            .await
            .expect_err("grants"),
    );
    not_member(
        a.get::<Vec<Seal>>(&format!("/v1/enterprises/{eid_y}/seals"))
            .await
            .expect_err("seals"),
    );
    not_member(
        a.post::<_, Vec<Member>>(
            &format!("/v1/enterprises/{eid_y}/transfer-admin"),
            &TransferAdminRequest { account_id: a_id },
        )
        .await
        .expect_err("transfer"),
    );

    // Through A's own enterprise, Y's people and objects are not reachable either.
    let err = a
        .post::<_, Grant>(&format!("/v1/enterprises/{eid_x}/grants"), &grant)
        .await
        .expect_err("Y's staff in X");
    assert_eq!(err.1.code, ErrorCode::NotMember);
    let err = a
        .delete::<Removed>(&format!("/v1/enterprises/{eid_x}/members/{e_id}"))
        .await
        .expect_err("Y's staff via X");
    assert_eq!(err.1.code, ErrorCode::NotMember);
    let grant_e = AdminAction::AddGrant {
        enterprise_id: eid_y.clone(),
        account_id: e_id.clone(),
        platform_id: p.id.clone(),
    };
    let y_grant: Grant = confirmed(&d, &w_d, grant_e)
        .await
        .post(&format!("/v1/enterprises/{eid_y}/grants"), &grant)
        .await
        .expect("D grants in Y");
    let err = a
        .delete::<Grant>(&format!("/v1/enterprises/{eid_x}/grants/{}", y_grant.id))
        .await
        .expect_err("Y's grant via X");
    assert_eq!(err.1.code, ErrorCode::GrantNotFound);
    let png = support_png();
    let add_seal = AdminAction::AddSeal {
        enterprise_id: eid_y.clone(),
        image_sm3: hex::encode(bidkey_crypto::sm3::sm3(&png)),
    };
    let y_seal: Seal = confirmed(&d, &w_d, add_seal)
        .await
        .post(
            &format!("/v1/enterprises/{eid_y}/seals"),
            &NewSeal {
                name: "公章".into(),
                image: png,
                idempotency_key: "s1".into(),
                seal_type: 1,
                width_mm: 40,
                height_mm: 40,
                holders: vec![],
            },
        )
        .await
        .expect("D adds a seal");
    let err = a
        .delete::<serde_json::Value>(&format!("/v1/enterprises/{eid_x}/seals/{}", y_seal.id))
        .await
        .expect_err("Y's seal via X");
    assert_eq!(err.1.code, ErrorCode::NotFound);
    let err = a
        .post::<_, Application>(
            &format!("/v1/enterprises/{eid_x}/join-requests/{}", y_grant.id),
            &JoinDecision {
                approve: true,
                reason: None,
            },
        )
        .await
        .expect_err("not an application of X");
    assert_eq!(err.1.code, ErrorCode::ApplicationNotFound);
}

fn support_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&64u32.to_be_bytes());
    png.extend_from_slice(&64u32.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    png.extend_from_slice(b"\0\0\0\0IEND\xAE\x42\x60\x82");
    png
}

/// 变更企业信息 end to end: materials to the RA, the fee the guides name, and on payment the
/// record changes and every certificate-holding member re-enrols under the new name, the
/// old encryption keys delivered again so a bid encrypted before the change still opens;
/// every member is told (ADR 0028).
async fn change_info_goes_to_review(store: Store) {
    let server = TestServer::start(store).await;
    let (a, b, eid) = team(&server, 5).await;
    let old_name = "宿迁第5建设有限公司";
    let new_name = "宿迁新名称有限公司";
    // The admin's enterprise pair (claim, buy) and an invited member's (join, buy).
    let claim: Application = a
        .post(
            "/v1/enterprises/claims",
            &ClaimRequest {
                uscc: uscc(5),
                name: old_name.into(),
                legal_rep: Some("张三".into()),
                materials: vec![pdf("营业执照.pdf")],
                idempotency_key: "claim-5".into(),
            },
        )
        .await
        .expect("claim");
    approve(&server, &claim.id).await;
    pay(&a, &claim.id).await;
    let wa = enroll(&a, &claim.id).await;
    let c = person(&server, "13900000058", "王五", 58).await;
    let invited: Application = a
        .post(
            &format!("/v1/enterprises/{eid}/members"),
            &InviteRequest {
                phone: "13900000058".into(),
                idempotency_key: "inv-5".into(),
            },
        )
        .await
        .expect("invited");
    approve(&server, &invited.id).await;
    pay(&c, &invited.id).await;
    let wc = enroll(&c, &invited.id).await;
    assert_eq!(
        wc.signing.subject_organization().expect("O").as_deref(),
        Some(old_name)
    );
    let enc_key = |w: &Wallet| w.encryption_cert().sm2_public_key().expect("key");
    let bid_a = sm2::encrypt(&enc_key(&wa), b"bid of a").expect("ct");
    let bid_c = sm2::encrypt(&enc_key(&wc), b"bid of c").expect("ct");

    let path = format!("/v1/enterprises/{eid}/change-info");
    let change = |name: Option<&str>, rep: Option<&str>, key: &str| ChangeInfoRequest {
        name: name.map(str::to_owned),
        legal_rep: rep.map(str::to_owned),
        materials: vec![pdf("工商变更通知书.pdf")],
        idempotency_key: key.into(),
    };
    let err = b
        .post::<_, Application>(&path, &change(Some(new_name), None, "b1"))
        .await
        .expect_err("staff");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let err = a
        .post::<_, Application>(&path, &change(None, None, "a0"))
        .await
        .expect_err("nothing to change");
    assert_eq!(err.1.code, ErrorCode::BadRequest);
    let mut bad = change(Some(new_name), None, "a-bad");
    bad.materials[0].data = b"not a pdf".to_vec();
    let err = a
        .post::<_, Application>(&path, &bad)
        .await
        .expect_err("a material that is not what it says");
    assert_eq!(err.1.code, ErrorCode::InvalidUpload);

    let app: Application = a
        .post(&path, &change(Some(new_name), Some("赵六"), "a1"))
        .await
        .expect("requested");
    assert_eq!(
        (app.kind, app.status),
        (ApplicationKind::ChangeInfo, Status::PendingReview)
    );
    let err = a
        .post::<_, Application>(&path, &change(Some("宿迁又一名称有限公司"), None, "a2"))
        .await
        .expect_err("one at a time");
    assert_eq!(err.1.code, ErrorCode::Conflict);

    // The reviewer sees what changes and the materials.
    let queue: Vec<Application> = operator(&server)
        .get("/v1/operator/reviews")
        .await
        .expect("queue");
    let seen = queue.iter().find(|q| q.id == app.id).expect("in the queue");
    let materials: serde_json::Value =
        serde_json::from_str(seen.review_materials.as_deref().expect("materials")).expect("json");
    assert_eq!(materials["new_name"], new_name);
    assert_eq!(materials["old_name"], old_name);
    assert_eq!(materials["materials"][0]["name"], "工商变更通知书.pdf");
    // The reviewer reads the file itself; only an operator, only this application's.
    let material_path = format!(
        "/v1/operator/reviews/{}/materials/{}",
        app.id,
        materials["materials"][0]["id"]
            .as_str()
            .expect("material id")
    );
    let file = reqwest::Client::new()
        .get(format!("{}{material_path}", server.url_for(&material_path)))
        .bearer_auth(server.operator_token())
        .send()
        .await
        .expect("reachable");
    assert_eq!(file.status().as_u16(), 200, "{material_path}");
    assert_eq!(
        file.bytes().await.expect("body").as_ref(),
        pdf("工商变更通知书.pdf").data.as_slice()
    );
    let err = a
        .get::<serde_json::Value>(&material_path)
        .await
        .expect_err("not an operator");
    assert_eq!(err.0, 403);
    let err = operator(&server)
        .get::<serde_json::Value>(&format!(
            "/v1/operator/reviews/{}/materials/{}",
            claim.id,
            materials["materials"][0]["id"]
                .as_str()
                .expect("material id")
        ))
        .await
        .expect_err("another application's");
    assert_eq!(err.1.code, ErrorCode::NotFound);

    // Approval: the 变更单位名称 fee (80 元); nothing changes before it is paid.
    let reviewed: Application = operator(&server)
        .post(
            &format!("/v1/operator/reviews/{}", app.id),
            &ReviewDecision {
                approve: true,
                reason: None,
            },
        )
        .await
        .expect("approved");
    assert_eq!(reviewed.status, Status::AwaitingPayment);
    let order = reviewed.order.expect("order");
    assert_eq!(
        (order.item.as_str(), order.amount_fen),
        ("change_name", 8_000)
    );
    let info: EnterpriseInfo = a
        .get(&format!("/v1/enterprises/{eid}"))
        .await
        .expect("info");
    assert_eq!(info.name, old_name);
    pay(&a, &app.id).await;
    // Paying again (a retried call) changes nothing more.
    pay(&a, &app.id).await;
    let info: EnterpriseInfo = a
        .get(&format!("/v1/enterprises/{eid}"))
        .await
        .expect("info");
    assert_eq!(info.name, new_name);
    assert_eq!(info.legal_rep.as_deref(), Some("赵六"));
    // In effect once paid: the RA cannot reject (and refund) it any more.
    let err = operator(&server)
        .post::<_, Application>(
            &format!("/v1/operator/reviews/{}", app.id),
            &ReviewDecision {
                approve: false,
                reason: Some("材料不实".into()),
            },
        )
        .await
        .expect_err("in effect");
    assert_eq!(err.1.code, ErrorCode::InvalidState);

    // Every member is told; the certificate holder gets a paid application of their own.
    let theirs: Vec<Application> = c.get("/v1/applications").await.expect("apps");
    let mine: Vec<&Application> = theirs
        .iter()
        .filter(|x| x.kind == ApplicationKind::ChangeInfo)
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "one re-issue for the member, however often paid"
    );
    assert_eq!(mine[0].status, Status::Paid);
    let msgs: Vec<Message> = c.get("/v1/messages").await.expect("messages");
    assert!(
        msgs.iter()
            .any(|m| m.application_id.as_deref() == Some(mine[0].id.as_str())
                && m.text_zh.contains(new_name))
    );
    let msgs: Vec<Message> = b.get("/v1/messages").await.expect("messages");
    assert!(
        msgs.iter().any(|m| m.text_zh.contains(new_name)),
        "staff without a pair is told too"
    );
    let b_apps: Vec<Application> = b.get("/v1/applications").await.expect("apps");
    assert!(b_apps.iter().all(|x| x.kind != ApplicationKind::ChangeInfo));

    // Each holder re-enrols under the new name; the bid encrypted before still opens.
    for (client, old, app_id, bid, plain) in [
        (&c, &wc, mine[0].id.clone(), &bid_c, b"bid of c".as_slice()),
        (&a, &wa, app.id.clone(), &bid_a, b"bid of a".as_slice()),
    ] {
        let new = enroll(client, &app_id).await;
        assert_eq!(
            new.signing.subject_organization().expect("O").as_deref(),
            Some(new_name)
        );
        assert_eq!(
            new.signing.subject_uscc().expect("uscc"),
            old.signing.subject_uscc().expect("uscc")
        );
        let old_serial = old.encryption_cert().serial_hex();
        let share = new.enc_shares.get(&old_serial).expect("old key delivered");
        let pt = co_decrypt(client, &old_serial, share, bid)
            .await
            .expect("old bid opens");
        assert_eq!(pt, plain);
        // The old pair is replaced: its signing key no longer co-signs.
        co_sign(
            client,
            &old.signing_serial(),
            &old.signing_share,
            &old.signing_public,
            b"x",
        )
        .await
        .expect_err("old pair revoked");
    }
}

fn pdf(name: &str) -> Material {
    Material {
        name: name.into(),
        content_type: "application/pdf".into(),
        data: b"%PDF-1.7\n% test\n".to_vec(),
    }
}

async fn messages_are_read(store: Store) {
    let server = TestServer::start(store).await;
    let (a, _b, _eid) = team(&server, 6).await;
    let msgs: Vec<Message> = a.get("/v1/messages").await.expect("messages");
    assert!(!msgs.is_empty());
    assert!(msgs.iter().all(|m| !m.read && !m.text_en.is_empty()));
    let _: serde_json::Value = a
        .post(
            &format!("/v1/messages/{}/read", msgs[0].id),
            &serde_json::json!({}),
        )
        .await
        .expect("read");
    let msgs2: Vec<Message> = a.get("/v1/messages").await.expect("messages");
    assert!(msgs2.iter().any(|m| m.id == msgs[0].id && m.read));
    let other = person(&server, "13700000001", "孙七", 99).await;
    let err = other
        .post::<_, serde_json::Value>(
            &format!("/v1/messages/{}/read", msgs[0].id),
            &serde_json::json!({}),
        )
        .await
        .expect_err("someone else's");
    assert_eq!(err.1.code, ErrorCode::NotFound);
}

/// Try an admin action through `call` with only the login token: without a confirmation
/// (`pin_confirmation_required`), with a made-up one, with a confirmation of `other` (another
/// action), and with `spent` (used already): each `invalid_proof`. A wrong PIN gets no
/// confirmation at all (`wrong_pin` at the co-signing step).
async fn refused_without_pin<F, Fut>(
    a: &Client,
    w: &Wallet,
    other: AdminAction,
    spent: &str,
    call: F,
) where
    F: Fn(Client) -> Fut,
    Fut: std::future::Future<Output = Result<(), (u16, bidkey_protocol::ErrorBody)>>,
{
    let err = call(a.confirming("")).await.expect_err("no confirmation");
    assert_eq!(err.1.code, ErrorCode::InvalidProof, "an empty header");
    let bare = Client {
        confirmation: None,
        ..a.confirming("")
    };
    let err = call(bare).await.expect_err("no confirmation");
    assert_eq!(
        (err.0, err.1.code),
        (403, ErrorCode::PinConfirmationRequired)
    );
    let err = call(a.confirming(&"ab".repeat(32)))
        .await
        .expect_err("made up");
    assert_eq!(err.1.code, ErrorCode::InvalidProof);
    let for_other = confirmation(a, w, other).await;
    let err = call(a.confirming(&for_other))
        .await
        .expect_err("another action's");
    assert_eq!(err.1.code, ErrorCode::InvalidProof);
    let err = call(a.confirming(spent)).await.expect_err("replayed");
    assert_eq!(err.1.code, ErrorCode::InvalidProof);
    let err = confirmation_with(a, w, &wrong_share(), other_of(&for_other))
        .await
        .expect_err("wrong PIN");
    assert_eq!(err.1.code, ErrorCode::WrongPin);
}

/// Any action: what a thief with a wrong PIN tries to confirm.
fn other_of(_: &str) -> AdminAction {
    AdminAction::RevokeGrant {
        enterprise_id: "x".into(),
        grant_id: "y".into(),
    }
}

async fn audit_names(server: &TestServer, action: &str) -> i64 {
    let r = one_row(
        server,
        "SELECT COUNT(*), COUNT(*), COUNT(*) FROM audit_log WHERE action = 'admin.pin_confirmed' AND target = $1",
        action,
    )
    .await;
    match r[0] {
        Value::Int(n) => n,
        _ => panic!("count"),
    }
}

/// Issue 13 §7 (ADR 0018): transferring the admin role, removing staff, adding and revoking
/// grants, adding and replacing seals need the admin's PIN (a co-signed challenge naming
/// the action). With only a login token (no, a made-up, another action's or a replayed
/// confirmation) each is refused with a typed error and nothing changes; with the PIN it is
/// done and the audit log names it.
async fn admin_actions_need_the_pin(store: Store) {
    let server = TestServer::start(store).await;
    let (a, b, eid, w) = team_with_pin(&server, 7).await;
    let b_id = my_id(&b).await;
    let p = platform(&server, "https://pin.example.invalid").await;
    let members_path = format!("/v1/enterprises/{eid}/members");
    let grants_path = format!("/v1/enterprises/{eid}/grants");
    let seals_path = format!("/v1/enterprises/{eid}/seals");
    let live_grants = || async {
        a.get::<Vec<Grant>>(&grants_path)
            .await
            .expect("grants")
            .len()
    };
    let seals = || async { a.get::<Vec<Seal>>(&seals_path).await.expect("seals") };

    // Grant B on P.
    let add_grant = AdminAction::AddGrant {
        enterprise_id: eid.clone(),
        account_id: b_id.clone(),
        platform_id: p.id.clone(),
    };
    let grant_req = GrantRequest {
        account_id: b_id.clone(),
        platform_id: p.id.clone(),
    };
    let spent = confirmation(&a, &w, add_grant.clone()).await;
    let g: Grant = a
        .confirming(&spent)
        .post(&grants_path, &grant_req)
        .await
        .expect("granted with the PIN");
    assert_eq!(audit_names(&server, "add_grant").await, 1);
    // Revoke it with a token alone, then grant again: refused, nothing changes.
    let gid = g.id.clone();
    refused_without_pin(&a, &w, add_grant.clone(), &spent, |c| {
        let path = format!("{grants_path}/{gid}");
        async move { c.delete::<Grant>(&path).await.map(|_| ()) }
    })
    .await;
    assert_eq!(live_grants().await, 1, "the grant still stands");
    let revoke = AdminAction::RevokeGrant {
        enterprise_id: eid.clone(),
        grant_id: g.id.clone(),
    };
    let revoked: Grant = confirmed(&a, &w, revoke)
        .await
        .delete(&format!("{grants_path}/{}", g.id))
        .await
        .expect("revoked with the PIN");
    assert!(revoked.revoked_at.is_some());
    assert_eq!(live_grants().await, 0);
    let remove_b = AdminAction::RemoveStaff {
        enterprise_id: eid.clone(),
        account_id: b_id.clone(),
    };
    refused_without_pin(&a, &w, remove_b, &spent, |c| {
        let (path, req) = (grants_path.clone(), grant_req.clone());
        async move { c.post::<_, Grant>(&path, &req).await.map(|_| ()) }
    })
    .await;
    assert_eq!(live_grants().await, 0, "no grant made");
    assert_eq!(audit_names(&server, "revoke_grant").await, 1);

    // Seals: add, replace the image. The confirmation names the image.
    let image = support_png();
    let new_seal = NewSeal {
        name: "公章".into(),
        image: image.clone(),
        idempotency_key: "pin-s1".into(),
        seal_type: 1,
        width_mm: 40,
        height_mm: 40,
        holders: vec![],
    };
    let add_seal = AdminAction::AddSeal {
        enterprise_id: eid.clone(),
        image_sm3: hex::encode(bidkey_crypto::sm3::sm3(&image)),
    };
    refused_without_pin(&a, &w, add_grant.clone(), &spent, |c| {
        let (path, req) = (seals_path.clone(), new_seal.clone());
        async move { c.post::<_, Seal>(&path, &req).await.map(|_| ()) }
    })
    .await;
    assert!(seals().await.is_empty(), "no seal added");
    let seal: Seal = confirmed(&a, &w, add_seal)
        .await
        .post(&seals_path, &new_seal)
        .await
        .expect("added with the PIN");
    let mut other_image = image.clone();
    other_image[16..20].copy_from_slice(&32u32.to_be_bytes());
    let update = SealUpdate {
        name: None,
        image: Some(other_image.clone()),
        ..Default::default()
    };
    let seal_path = format!("{seals_path}/{}", seal.id);
    refused_without_pin(&a, &w, add_grant.clone(), &spent, |c| {
        let (path, req) = (seal_path.clone(), update.clone());
        async move { c.put::<_, Seal>(&path, &req).await.map(|_| ()) }
    })
    .await;
    assert_eq!(seals().await[0].width, 64, "the image is unchanged");
    // A confirmation for another image does not replace with this one.
    let for_first = confirmation(
        &a,
        &w,
        AdminAction::ReplaceSeal {
            enterprise_id: eid.clone(),
            seal_id: seal.id.clone(),
            image_sm3: hex::encode(bidkey_crypto::sm3::sm3(&image)),
        },
    )
    .await;
    let err = a
        .confirming(&for_first)
        .put::<_, Seal>(&seal_path, &update)
        .await
        .expect_err("another image");
    assert_eq!(err.1.code, ErrorCode::InvalidProof);
    let replace = AdminAction::ReplaceSeal {
        enterprise_id: eid.clone(),
        seal_id: seal.id.clone(),
        image_sm3: hex::encode(bidkey_crypto::sm3::sm3(&other_image)),
    };
    let replaced: Seal = confirmed(&a, &w, replace)
        .await
        .put(&seal_path, &update)
        .await
        .expect("replaced with the PIN");
    assert_eq!(replaced.width, 32);
    // A rename alone needs no PIN.
    let _: Seal = a
        .put(
            &seal_path,
            &SealUpdate {
                name: Some("合同章".into()),
                image: None,
                ..Default::default()
            },
        )
        .await
        .expect("renamed");
    assert_eq!(audit_names(&server, "add_seal").await, 1);
    assert_eq!(audit_names(&server, "replace_seal").await, 1);

    // Transfer the admin role, remove staff.
    let transfer_path = format!("/v1/enterprises/{eid}/transfer-admin");
    refused_without_pin(&a, &w, add_grant.clone(), &spent, |c| {
        let (path, to) = (transfer_path.clone(), b_id.clone());
        async move {
            c.post::<_, Vec<Member>>(&path, &TransferAdminRequest { account_id: to })
                .await
                .map(|_| ())
        }
    })
    .await;
    refused_without_pin(&a, &w, add_grant.clone(), &spent, |c| {
        let path = format!("{members_path}/{b_id}");
        async move { c.delete::<Removed>(&path).await.map(|_| ()) }
    })
    .await;
    let members: Vec<Member> = a.get(&members_path).await.expect("members");
    assert_eq!(members.len(), 2, "nobody removed");
    assert_eq!(members[0].role, Role::Admin, "A is still the admin");
    let removed: Removed = confirmed(
        &a,
        &w,
        AdminAction::RemoveStaff {
            enterprise_id: eid.clone(),
            account_id: b_id.clone(),
        },
    )
    .await
    .delete(&format!("{members_path}/{b_id}"))
    .await
    .expect("removed with the PIN");
    assert_eq!(removed.account_id, b_id);
    assert_eq!(audit_names(&server, "remove_staff").await, 1);
    // Nothing was confirmed for the refused tries.
    assert_eq!(audit_names(&server, "transfer_admin").await, 0);

    // A confirm session must name its action, and no other purpose may name one.
    for (purpose, confirm) in [
        (CosignPurpose::Confirm, None),
        (CosignPurpose::Revoke, Some(other_of(""))),
        (CosignPurpose::Sign, Some(other_of(""))),
    ] {
        let err = a
            .post::<_, cw::Session>(
                "/v1/cosign/sessions",
                &cw::OpenSession {
                    serial: w.signing_serial(),
                    purpose,
                    pair_id: None,
                    confirm,
                },
            )
            .await
            .expect_err("refused");
        assert_eq!(err.1.code, ErrorCode::BadRequest, "{purpose:?}");
    }
}

/// An encryption certificate in the pair [`fake_certificate`] made for `serial`.
async fn fake_encryption_certificate(server: &TestServer, pair_serial: &str, serial: &str) {
    let (pair, serial) = (format!("pair-{pair_serial}"), serial.to_owned());
    let now = server.running.state.clock.now();
    server
        .running
        .state
        .db
        .write(move |tx| {
            tx.execute(
                "INSERT INTO certificates (serial, pair_id, usage, subject, der, not_before, not_after, status, created_at) \
                 VALUES ($1, $2, 'encryption', 'CN=test', $3, $4, $5, 'valid', $4)",
                &[Value::Text(serial.clone()), Value::Text(pair.clone()), Value::Bytes(vec![0x30, 1]), Value::Int(now - 10), Value::Int(now + 86_400)],
            )?;
            Ok::<_, bidkey_server::db::DbError>(())
        })
        .await
        .expect("certificate stored");
}

/// Issue 17: a bid for a platform is encrypted to every member granted for it with a valid
/// pair; the list is for members only, and a removed member drops out of it.
async fn bid_recipients_are_the_granted_staff(store: Store) {
    let server = TestServer::start(store).await;
    let (a, b, eid, w) = team_with_pin(&server, 7).await;
    let b_id = my_id(&b).await;
    fake_certificate(&server, &b_id, &eid, "0b71").await;
    fake_encryption_certificate(&server, "0b71", "0b72").await;
    let p = platform(&server, "https://ggzy7.example.invalid").await;
    let path = format!("/v1/enterprises/{eid}/bid-recipients?platform_id={}", p.id);
    let none: Vec<BidRecipient> = b.get(&path).await.expect("recipients");
    assert!(none.is_empty(), "no one is granted yet");
    let grant = AdminAction::AddGrant {
        enterprise_id: eid.clone(),
        account_id: b_id.clone(),
        platform_id: p.id.clone(),
    };
    let _: Grant = confirmed(&a, &w, grant)
        .await
        .post(
            &format!("/v1/enterprises/{eid}/grants"),
            &GrantRequest {
                account_id: b_id.clone(),
                platform_id: p.id.clone(),
            },
        )
        .await
        .expect("granted");
    for who in [&a, &b] {
        let list: Vec<BidRecipient> = who.get(&path).await.expect("recipients");
        assert_eq!(list.len(), 1);
        assert_eq!(
            (list[0].account_id.as_str(), list[0].serial.as_str()),
            (b_id.as_str(), "0b72")
        );
        assert_eq!(list[0].cert_der, vec![0x30, 1]);
    }
    // Someone of another enterprise learns nothing; an unknown platform is not found.
    let stranger = person(&server, "13900000791", "王五", 791).await;
    let err = stranger
        .get::<Vec<BidRecipient>>(&path)
        .await
        .expect_err("stranger");
    assert_eq!(err.1.code, ErrorCode::NotMember);
    let err = a
        .get::<Vec<BidRecipient>>(&format!(
            "/v1/enterprises/{eid}/bid-recipients?platform_id=nope"
        ))
        .await
        .expect_err("unknown platform");
    assert_eq!(err.0, 404);
    // Removed: no longer a recipient of new bids.
    let remove_b = AdminAction::RemoveStaff {
        enterprise_id: eid.clone(),
        account_id: b_id.clone(),
    };
    let _: Removed = confirmed(&a, &w, remove_b)
        .await
        .delete(&format!("/v1/enterprises/{eid}/members/{b_id}"))
        .await
        .expect("removed");
    let list: Vec<BidRecipient> = a.get(&path).await.expect("recipients");
    assert!(list.is_empty(), "{list:?}");
}

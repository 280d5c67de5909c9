//! Enterprises over real HTTP: search, claim (认领企业) up to payment, join (加入企业) with the
//! admin's and the RA's decisions, on SQLite and on PostgreSQL.

#[macro_use]
mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::enterprises::*;
use bidkey_protocol::orders::{
    Application, ApplicationKind, Order, PayRequest, ReviewDecision, Status,
};
use bidkey_server::db::Value;
use support::{Client, Store, TestServer, person, signed_up, uscc, verify_by_micropayment};

on_both_stores!(
    search_by_name_and_code,
    claim_up_to_paid,
    join_through_admin_and_ra,
    verified_admin_claims_to_buy_certificates,
);

const NAME: &str = "宿迁测试建设有限公司";

fn pdf() -> Material {
    Material {
        name: "营业执照.pdf".into(),
        content_type: "application/pdf".into(),
        data: b"%PDF-1.7\n% test licence\n".to_vec(),
    }
}

fn claim_req(code: &str, key: &str, materials: Vec<Material>) -> ClaimRequest {
    ClaimRequest {
        uscc: code.into(),
        name: NAME.into(),
        legal_rep: Some("张三".into()),
        materials,
        idempotency_key: key.into(),
    }
}

/// The RA approves an application in review.
async fn ra_approves(server: &TestServer, app_id: &str) -> Application {
    let op = Client::new(server).with_token(&server.operator_token());
    op.post(
        &format!("/v1/operator/reviews/{app_id}"),
        &ReviewDecision {
            approve: true,
            reason: None,
        },
    )
    .await
    .expect("RA approves")
}

/// What the CA part does when it issues an application's certificates.
async fn ca_issues(server: &TestServer, app_id: &str) {
    let id = app_id.to_owned();
    let now = server.running.state.clock.now();
    server
        .running
        .state
        .db
        .write(move |tx| {
            let app = bidkey_server::applications::get(tx, &id)?;
            bidkey_server::memberships::apply_issued(tx, now, &app)
        })
        .await
        .expect("issued");
}

async fn search(c: &Client, q: &str) -> support::Answer<EnterpriseSearch> {
    c.get(&format!("/v1/enterprises/search?q={}", urlencode(q)))
        .await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn search_by_name_and_code(store: Store) {
    let server = TestServer::start(store).await;
    let a = person(&server, "13800000001", "张三", 1).await;
    let code = uscc(1);

    // A wrong check character is a typed refusal.
    let mut bad = code.clone();
    bad.replace_range(17.., if code.ends_with('0') { "1" } else { "0" });
    let err = search(&a, &bad).await.expect_err("bad code");
    assert_eq!((err.0, err.1.code), (400, ErrorCode::InvalidUscc));

    // A valid code nobody applied for: claim or micro-pay.
    let s = search(&a, &code.to_lowercase()).await.expect("search");
    assert_eq!(s.by, SearchBy::Uscc);
    assert_eq!(s.results.len(), 1);
    assert!(!s.results[0].registered && s.results[0].id.is_none());
    assert_eq!(
        s.results[0].actions,
        vec![EnterpriseAction::Claim, EnterpriseAction::Micropay]
    );

    // After a claim the enterprise is known (not yet claimed: no admin).
    let _: Application = a
        .post(
            "/v1/enterprises/claims",
            &claim_req(&code, "k1", vec![pdf()]),
        )
        .await
        .expect("claim");
    let s = search(&a, "测试建设").await.expect("by name");
    assert_eq!(s.by, SearchBy::Name);
    assert_eq!(s.results.len(), 1);
    let hit = &s.results[0];
    assert_eq!(hit.name.as_deref(), Some(NAME));
    assert!(hit.registered && !hit.claimed);
    assert!(
        search(&a, "不存在的公司")
            .await
            .expect("none")
            .results
            .is_empty()
    );
    // `%` is a literal, not a wildcard.
    assert!(search(&a, "%%").await.expect("literal").results.is_empty());

    // Login needed.
    let err = search(&Client::new(&server), "测试建设")
        .await
        .expect_err("anon");
    assert_eq!(err.1.code, ErrorCode::Unauthorized);
}

async fn claim_up_to_paid(store: Store) {
    let server = TestServer::start(store).await;
    let code = uscc(2);

    // Real-name first.
    let nobody = signed_up(&server, "13800000010").await;
    let err = nobody
        .post::<_, Application>(
            "/v1/enterprises/claims",
            &claim_req(&code, "k0", vec![pdf()]),
        )
        .await
        .expect_err("not real-named");
    assert_eq!((err.0, err.1.code), (403, ErrorCode::RealNameRequired));

    let a = person(&server, "13800000011", "张三", 11).await;
    // Materials: known types whose content matches, within the size limit.
    let gif = Material {
        name: "x.gif".into(),
        content_type: "image/gif".into(),
        data: b"GIF89a....".to_vec(),
    };
    let err = a
        .post::<_, Application>("/v1/enterprises/claims", &claim_req(&code, "k1", vec![gif]))
        .await
        .expect_err("gif");
    assert_eq!(err.1.code, ErrorCode::InvalidUpload);
    let lying = Material {
        content_type: "image/png".into(),
        ..pdf()
    };
    let err = a
        .post::<_, Application>(
            "/v1/enterprises/claims",
            &claim_req(&code, "k1", vec![lying]),
        )
        .await
        .expect_err("type does not match content");
    assert_eq!(err.1.code, ErrorCode::InvalidUpload);
    let mut big = pdf();
    big.data.resize(2 * 1024 * 1024 + 1, b' ');
    let err = a
        .post::<_, Application>("/v1/enterprises/claims", &claim_req(&code, "k1", vec![big]))
        .await
        .expect_err("too big");
    assert_eq!((err.0, err.1.code), (413, ErrorCode::PayloadTooLarge));
    let err = a
        .post::<_, Application>("/v1/enterprises/claims", &claim_req(&code, "k1", vec![]))
        .await
        .expect_err("no materials");
    assert_eq!(err.1.code, ErrorCode::InvalidUpload);

    let jpeg = Material {
        name: "授权书.jpg".into(),
        content_type: "image/jpeg".into(),
        data: vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'],
    };
    let app: Application = a
        .post(
            "/v1/enterprises/claims",
            &claim_req(&code, "k1", vec![pdf(), jpeg]),
        )
        .await
        .expect("claim");
    assert_eq!(app.kind, ApplicationKind::Claim);
    assert_eq!(app.status, Status::PendingReview);
    assert_eq!(app.enterprise_name.as_deref(), Some(NAME));
    // The same idempotency key returns the same application; a new key is refused while
    // one is open.
    let again: Application = a
        .post(
            "/v1/enterprises/claims",
            &claim_req(&code, "k1", vec![pdf()]),
        )
        .await
        .expect("retry");
    assert_eq!(again.id, app.id);
    let err = a
        .post::<_, Application>(
            "/v1/enterprises/claims",
            &claim_req(&code, "k2", vec![pdf()]),
        )
        .await
        .expect_err("second open claim");
    assert_eq!(err.1.code, ErrorCode::Conflict);
    let app_id = app.id.clone();
    let uploads: i64 = server
        .running
        .state
        .db
        .read(move |tx| {
            tx.query_opt(
                "SELECT COUNT(*) FROM uploads WHERE application_id = $1",
                &[Value::Text(app_id.clone())],
            )?
            .expect("row")
            .i64(0)
        })
        .await
        .expect("count");
    assert_eq!(uploads, 2);

    // RA review → order → sandbox payment.
    let reviewed = ra_approves(&server, &app.id).await;
    assert_eq!(reviewed.status, Status::AwaitingPayment);
    let order = reviewed.order.expect("order");
    assert_eq!(order.amount_fen, 15_000);
    let paid: Order = a
        .post(
            &format!("/v1/orders/{}/pay", order.id),
            &PayRequest {
                provider: "sandbox".into(),
            },
        )
        .await
        .expect("paid");
    assert_eq!(paid.status, Status::Paid);
    let mine: Application = a
        .get(&format!("/v1/applications/{}", app.id))
        .await
        .expect("application");
    assert_eq!(mine.status, Status::Paid);
    let msgs: Vec<Message> = a.get("/v1/messages").await.expect("messages");
    assert!(msgs.iter().any(|m| m.text_zh.contains("审核通过")));

    // The CA part issues the certificates: the applicant becomes the admin.
    ca_issues(&server, &app.id).await;
    let s = search(&a, &code).await.expect("search");
    assert!(s.results[0].claimed);
    assert_eq!(s.results[0].my_role, Some(Role::Admin));
    assert!(s.results[0].actions.is_empty());

    // Someone else's claim of a claimed enterprise: suggest joining instead.
    let b = person(&server, "13800000012", "李四", 12).await;
    let s = search(&b, &code).await.expect("search");
    assert_eq!(
        s.results[0].actions,
        vec![EnterpriseAction::Join, EnterpriseAction::Micropay]
    );
    let err = b
        .post::<_, Application>(
            "/v1/enterprises/claims",
            &claim_req(&code, "b1", vec![pdf()]),
        )
        .await
        .expect_err("already claimed");
    assert_eq!(
        (err.0, err.1.code),
        (409, ErrorCode::EnterpriseAlreadyClaimed)
    );
}

async fn join_through_admin_and_ra(store: Store) {
    let server = TestServer::start(store).await;
    let code = uscc(3);
    let a = person(&server, "13800000021", "张三", 21).await;
    let b = person(&server, "13800000022", "李四", 22).await;
    let c = person(&server, "13800000023", "王五", 23).await;

    // Nobody to join yet.
    let other = uscc(33);
    let _: Application = c
        .post(
            "/v1/enterprises/claims",
            &claim_req(&other, "c0", vec![pdf()]),
        )
        .await
        .expect("claim of another");
    let unclaimed = search(&c, &other).await.expect("s").results[0]
        .id
        .clone()
        .expect("id");
    let err = b
        .post::<_, Application>(
            &format!("/v1/enterprises/{unclaimed}/join-requests"),
            &JoinRequest {
                idempotency_key: "j0".into(),
            },
        )
        .await
        .expect_err("unclaimed");
    assert_eq!(err.1.code, ErrorCode::EnterpriseNotClaimed);

    let eid = verify_by_micropayment(&server, &a, NAME, &code, "T-join-1").await;
    let join = |key: &str| JoinRequest {
        idempotency_key: key.into(),
    };
    let path = format!("/v1/enterprises/{eid}/join-requests");
    let app: Application = b.post(&path, &join("j1")).await.expect("join");
    assert_eq!(
        (app.kind, app.status),
        (ApplicationKind::Join, Status::PendingAdmin)
    );
    let again: Application = b.post(&path, &join("j1")).await.expect("retry");
    assert_eq!(again.id, app.id);
    let err = a
        .post::<_, Application>(&path, &join("a1"))
        .await
        .expect_err("admin joins own");
    assert_eq!(err.1.code, ErrorCode::AlreadyMember);

    // The admin sees the request (and a message); others may not decide.
    let pending: Vec<JoinRequestView> = a.get(&path).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].real_name.as_deref(), Some("李四"));
    assert_eq!(pending[0].phone_masked, "138****0022");
    let msgs: Vec<Message> = a.get("/v1/messages").await.expect("messages");
    assert!(msgs.iter().any(|m| m.text_zh.contains("李四申请加入")));
    let err = c
        .get::<Vec<JoinRequestView>>(&path)
        .await
        .expect_err("outsider");
    assert_eq!((err.0, err.1.code), (403, ErrorCode::NotMember));
    let decide = |approve: bool, reason: Option<&str>| JoinDecision {
        approve,
        reason: reason.map(str::to_owned),
    };
    let err = b
        .post::<_, Application>(&format!("{path}/{}", app.id), &decide(true, None))
        .await
        .expect_err("applicant approves self");
    assert_eq!(err.1.code, ErrorCode::NotMember);
    let err = a
        .post::<_, Application>(&format!("{path}/{}", app.id), &decide(false, None))
        .await
        .expect_err("reject without reason");
    assert_eq!(err.1.code, ErrorCode::BadRequest);

    let approved: Application = a
        .post(&format!("{path}/{}", app.id), &decide(true, None))
        .await
        .expect("approved");
    assert_eq!(approved.status, Status::PendingReview);
    let err = a
        .post::<_, Application>(&format!("{path}/{}", app.id), &decide(true, None))
        .await
        .expect_err("twice");
    assert_eq!((err.0, err.1.code), (409, ErrorCode::InvalidState));

    // RA, payment, issuance → staff.
    let reviewed = ra_approves(&server, &app.id).await;
    let order = reviewed.order.expect("order");
    let _: Order = b
        .post(
            &format!("/v1/orders/{}/pay", order.id),
            &PayRequest {
                provider: "sandbox".into(),
            },
        )
        .await
        .expect("paid");
    ca_issues(&server, &app.id).await;
    let mine: Vec<EnterpriseInfo> = b.get("/v1/enterprises/mine").await.expect("mine");
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].id.as_str(), mine[0].my_role),
        (eid.as_str(), Role::Staff)
    );

    // A rejected request carries the reason to the applicant.
    let app: Application = c.post(&path, &join("c1")).await.expect("join");
    let rejected: Application = a
        .post(
            &format!("{path}/{}", app.id),
            &decide(false, Some("非本单位人员")),
        )
        .await
        .expect("rejected");
    assert_eq!(rejected.status, Status::Rejected);
    assert_eq!(rejected.reason.as_deref(), Some("非本单位人员"));
    let msgs: Vec<Message> = c.get("/v1/messages").await.expect("messages");
    assert!(msgs.iter().any(|m| m.text_zh.contains("非本单位人员")));
}

/// An admin verified by micro-payment claims to buy the enterprise certificates (认领企业购买
/// 证书); staff may not claim; the invited staff member becomes staff on issuance.
async fn verified_admin_claims_to_buy_certificates(store: Store) {
    let server = TestServer::start(store).await;
    let code = uscc(4);
    let a = person(&server, "13800000041", "张三", 41).await;
    let b = person(&server, "13800000042", "李四", 42).await;
    let eid = verify_by_micropayment(&server, &a, NAME, &code, "T-buy-a").await;
    verify_by_micropayment(&server, &b, NAME, &code, "T-buy-b").await;

    let app: Application = a
        .post(
            "/v1/enterprises/claims",
            &claim_req(&code, "a1", vec![pdf()]),
        )
        .await
        .expect("admin claims");
    assert_eq!(app.enterprise_id.as_deref(), Some(eid.as_str()));
    let err = b
        .post::<_, Application>(
            "/v1/enterprises/claims",
            &claim_req(&code, "b1", vec![pdf()]),
        )
        .await
        .expect_err("staff claims");
    assert_eq!(err.1.code, ErrorCode::AlreadyMember);
    ra_approves(&server, &app.id).await;
    ca_issues(&server, &app.id).await;
    let mine: Vec<EnterpriseInfo> = a.get("/v1/enterprises/mine").await.expect("mine");
    assert_eq!(mine[0].my_role, Role::Admin);

    // An invited person: RA review, issuance, staff.
    let c = person(&server, "13800000043", "王五", 43).await;
    let invited: Application = a
        .post(
            &format!("/v1/enterprises/{eid}/members"),
            &InviteRequest {
                phone: "13800000043".into(),
                idempotency_key: "inv-1".into(),
            },
        )
        .await
        .expect("invited");
    let reviewed = ra_approves(&server, &invited.id).await;
    let order = reviewed.order.expect("order");
    let _: Order = c
        .post(
            &format!("/v1/orders/{}/pay", order.id),
            &PayRequest {
                provider: "sandbox".into(),
            },
        )
        .await
        .expect("paid");
    ca_issues(&server, &invited.id).await;
    let mine: Vec<EnterpriseInfo> = c.get("/v1/enterprises/mine").await.expect("mine");
    assert_eq!(
        (mine[0].id.as_str(), mine[0].my_role),
        (eid.as_str(), Role::Staff)
    );
}

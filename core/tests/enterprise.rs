//! Enterprise flows of the core against the real server, with two phones and two
//! enterprises: claim and enrolment of the admin, search and join of a staff member with an
//! enterprise certificate, grants, zones, seals, the admin's staff management, micro-payment
//! verification by a bank statement line, and input refused before any request.

mod support;

use bidkey_core::flows::admin::GrantFilter;
use bidkey_core::flows::platforms::Location;
use bidkey_core::i18n::{self, Lang, Text};
use bidkey_core::{Bidkey, CoreError};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::enterprises::{
    EnterpriseAction, Micropayment, MicropaymentStatus, Role, SearchBy,
};
use bidkey_protocol::orders::Status;
use bidkey_protocol::platforms::{
    Directory, DirectoryEntry, DirectoryLoaded, LineOutcome, NewPlatform, Platform,
};
use bidkey_testkit::{Store, TestServer};
use reqwest::Method;
use support::*;

const NAME_A: &str = "重庆比德科技有限公司";
const USCC_A: &str = "91500000MA5U8XGQ8Q";
const NAME_2: &str = "重庆打款测试有限公司";

fn code_of<T: std::fmt::Debug>(r: bidkey_core::Result<T>) -> Option<ErrorCode> {
    r.expect_err("refused").code()
}

/// The operator registers a platform at (lat, lon) whose directory lists `entries`.
async fn platform(
    server: &TestServer,
    name: &str,
    origin: &str,
    at: (f64, f64),
    entries: &[(&str, &str)],
) -> Platform {
    let p: Platform = operator(
        server,
        Method::POST,
        "/v1/operator/platforms",
        &NewPlatform {
            name: name.into(),
            origin: origin.into(),
            region: Some("重庆".into()),
            latitude: Some(at.0),
            longitude: Some(at.1),
        },
    )
    .await;
    let loaded: DirectoryLoaded = operator(
        server,
        Method::PUT,
        &format!("/v1/operator/platforms/{}/directory", p.id),
        &Directory {
            entries: entries
                .iter()
                .map(|(uscc, name)| DirectoryEntry {
                    uscc: (*uscc).into(),
                    name: (*name).into(),
                })
                .collect(),
        },
    )
    .await;
    assert_eq!(loaded.entries, entries.len() as u64);
    p
}

fn account_id(phone: &Bidkey) -> String {
    phone.account().expect("wallet").expect("logged in").id
}

async fn role_in(phone: &Bidkey, eid: &str) -> Option<Role> {
    phone
        .my_enterprises()
        .await
        .expect("mine")
        .into_iter()
        .find(|e| e.id == eid)
        .map(|e| e.my_role)
}

/// Phone `phone` verifies (`uscc`, `name`) by a micro-payment from account tail 123456 and
/// becomes its admin; returns the enterprise id. A wrong amount is fed first and must not
/// match.
async fn verified_by_micropayment(
    server: &TestServer,
    phone: &Bidkey,
    uscc: &str,
    name: &str,
) -> String {
    let mp = phone
        .request_micropayment(uscc, name, "123456")
        .await
        .expect("requested");
    assert_eq!(mp.status, MicropaymentStatus::Pending);
    assert!((1..=99).contains(&mp.amount_fen));
    assert!(!mp.reference.is_empty() && !mp.payee_account.is_empty());
    assert!(mp.expires_at > server.running.state.clock.now());
    let zh = i18n::micropayment_instructions(&mp, Lang::Zh);
    assert!(
        zh.contains(&mp.reference) && zh.contains(&mp.payee_name),
        "{zh}"
    );
    let en = i18n::micropayment_instructions(&mp, Lang::En);
    assert!(en.contains(&format!("0.{:02}", mp.amount_fen)), "{en}");

    // A transfer of another amount is kept unmatched; the request still waits.
    let wrong = if mp.amount_fen == 99 {
        98
    } else {
        mp.amount_fen + 1
    };
    let out = bank_credit(
        server,
        name,
        &format!("{uscc}-wrong"),
        "123456",
        wrong,
        &mp.reference,
    )
    .await;
    assert_eq!(out.results[0].outcome, LineOutcome::Unmatched);
    let polled: Micropayment = phone.micropayment(&mp.id).await.expect("poll");
    assert_eq!(polled.status, MicropaymentStatus::Pending);
    assert_eq!(
        i18n::micropayment_status(polled.status),
        Text::MicropaymentPending
    );
    assert_eq!(role_in(phone, &mp.enterprise_id).await, None);

    // The exact transfer with the reference in the remark matches.
    let out = bank_credit(
        server,
        name,
        &format!("{uscc}-right"),
        "123456",
        mp.amount_fen,
        &format!("对公打款认证 {}", mp.reference),
    )
    .await;
    assert_eq!(out.results[0].outcome, LineOutcome::Matched);
    let polled = phone.micropayment(&mp.id).await.expect("poll");
    assert_eq!(polled.status, MicropaymentStatus::Matched);
    assert_eq!(polled.role, Some(Role::Admin));
    assert!(polled.matched_at.is_some());
    let mine = phone.micropayments().await.expect("list");
    assert!(mine.iter().any(|m| m.id == mp.id));
    mp.enterprise_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_join_grants_zones_seals_and_staff() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir_a = tempfile::tempdir().expect("dir");
    let dir_b = tempfile::tempdir().expect("dir");
    let a = phone_at(&server, dir_a.path());
    let b = phone_at(&server, dir_b.path());
    registered(&server, &a, "13900000001", &identity("张三", &id_number(1))).await;
    registered(&server, &b, "13900000002", &identity("李四", &id_number(2))).await;
    let (a_id, b_id) = (account_id(&a), account_id(&b));

    // Phone A: nothing known under the code yet, so claim it with a PNG of the licence.
    let found = a.search_enterprises(USCC_A).await.expect("search");
    assert_eq!(found.by, SearchBy::Uscc);
    assert!(!found.results[0].registered);
    assert!(found.results[0].actions.contains(&EnterpriseAction::Claim));
    let claim = a
        .claim_enterprise(
            USCC_A,
            NAME_A,
            Some("张三"),
            vec![("营业执照.png".into(), "image/png".into(), png(800, 600))],
        )
        .await
        .expect("claimed");
    assert_eq!(claim.status, Status::PendingReview);
    let eid = claim.enterprise_id.clone().expect("enterprise");
    let paid = approve_and_pay(&server, &a, &claim).await;
    let pair_a = a.enroll(&paid.id, PIN).await.expect("A enrolled");
    assert_eq!(role_in(&a, &eid).await, Some(Role::Admin));
    let info = a.enterprise(&eid).await.expect("info");
    assert!(info.claimed);
    assert_eq!((info.name.as_str(), info.uscc.as_str()), (NAME_A, USCC_A));
    // The wallet records the pair under the enterprise.
    let certs = a.local_certificates().expect("wallet");
    let signing = certs
        .iter()
        .find(|c| c.serial == pair_a.signing_serial)
        .expect("signing certificate in wallet");
    assert_eq!(signing.enterprise_id.as_deref(), Some(eid.as_str()));
    assert_eq!(signing.enterprise_name.as_deref(), Some(NAME_A));
    assert!(
        certs
            .iter()
            .filter(|c| c.pair_id == pair_a.pair_id)
            .all(|c| c.enterprise_id.as_deref() == Some(eid.as_str()))
    );

    // Phone B finds it by name and asks to join; the admin approves, then the CA.
    let found = b.search_enterprises("比德科技").await.expect("search");
    assert_eq!(found.by, SearchBy::Name);
    let hit = found
        .results
        .iter()
        .find(|h| h.id.as_deref() == Some(eid.as_str()))
        .expect("hit");
    assert!(hit.claimed && hit.actions.contains(&EnterpriseAction::Join));
    let join = b.join_enterprise(&eid).await.expect("join");
    assert_eq!(join.status, Status::PendingAdmin);
    let waiting = a.join_requests(&eid).await.expect("requests");
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].account_id, b_id);
    assert!(
        a.messages()
            .await
            .expect("messages")
            .iter()
            .any(|m| m.application_id.as_deref() == Some(join.id.as_str()))
    );
    let approved = a.approve_join(&eid, &join.id).await.expect("approved");
    assert_eq!(approved.status, Status::PendingReview);
    assert_eq!(
        i18n::status_label(approved.status, Lang::En),
        "Under review"
    );
    let paid = approve_and_pay(&server, &b, &approved).await;
    let pair_b = b.enroll(&paid.id, PIN).await.expect("B enrolled");
    assert_eq!(role_in(&b, &eid).await, Some(Role::Staff));
    let b_cert = b
        .local_certificates()
        .expect("wallet")
        .into_iter()
        .find(|c| c.serial == pair_b.signing_serial)
        .expect("B's certificate");
    assert_eq!(b_cert.enterprise_id.as_deref(), Some(eid.as_str()));
    assert_eq!(b_cert.enterprise_name.as_deref(), Some(NAME_A));
    let listed = b.certificates().await.expect("certificates");
    assert!(
        listed
            .in_force
            .iter()
            .any(|p| p.pair_id == pair_b.pair_id && p.enterprise_id.as_deref() == Some(&eid))
    );
    // B's messages about the application, and marking one read.
    let notes = b.application_messages(&join.id).await.expect("messages");
    assert!(!notes.is_empty());
    b.mark_message_read(&notes[0].id).await.expect("read");
    assert!(
        b.application_messages(&join.id).await.expect("messages")[0].read,
        "marked read"
    );
    let staff = a.staff(&eid).await.expect("staff");
    assert_eq!(
        staff
            .iter()
            .map(|m| (m.account_id.as_str(), m.role))
            .collect::<Vec<_>>(),
        vec![(a_id.as_str(), Role::Admin), (b_id.as_str(), Role::Staff)]
    );

    // Platforms: one lists the enterprise as it is, the other under another name.
    let cq = platform(
        &server,
        "重庆市公共资源交易中心",
        "https://ggzy.cq.example.invalid",
        (29.56, 106.55),
        &[(USCC_A, NAME_A)],
    )
    .await;
    let bj = platform(
        &server,
        "北京市公共资源交易中心",
        "https://ggzy.bj.example.invalid",
        (39.90, 116.40),
        &[(USCC_A, "北京比德科技有限公司")],
    )
    .await;
    let near = a
        .platforms(Some(Location {
            latitude: 29.5,
            longitude: 106.5,
        }))
        .await
        .expect("platforms");
    assert_eq!(
        near.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        vec![cq.id.as_str(), bj.id.as_str()]
    );
    assert!(near[0].distance_km.expect("distance") < near[1].distance_km.expect("distance"));
    assert_eq!(a.current_platform().expect("wallet"), None);
    a.select_platform(&bj.id).await.expect("selected");
    a.select_platform(&cq.id).await.expect("switched");
    assert_eq!(
        a.current_platform().expect("wallet").map(|p| p.id),
        Some(cq.id.clone())
    );

    // Grants: the admin allows B's certificate on the Chongqing platform.
    let grant = a
        .add_grant(&eid, &b_id, &cq.id, PIN)
        .await
        .expect("granted");
    assert_eq!(
        (grant.account_id.as_str(), grant.platform_id.as_str()),
        (b_id.as_str(), cq.id.as_str())
    );
    let by_platform = a
        .grants(&eid, &GrantFilter::by_platform(&cq.id))
        .await
        .expect("by platform");
    assert_eq!(by_platform.len(), 1);
    assert_eq!(by_platform[0].id, grant.id);
    assert!(
        a.grants(&eid, &GrantFilter::by_platform(&bj.id))
            .await
            .expect("by platform")
            .is_empty()
    );
    let by_person = a
        .grants(&eid, &GrantFilter::by_person(&b_id))
        .await
        .expect("by person");
    assert_eq!(by_person.len(), 1);
    // Staff see their own grants only.
    assert_eq!(
        b.grants(&eid, &GrantFilter::default())
            .await
            .expect("own")
            .len(),
        1
    );
    assert_eq!(
        code_of(b.grants(&eid, &GrantFilter::by_person(&a_id)).await),
        Some(ErrorCode::NotAdmin)
    );
    let revoked = a.revoke_grant(&eid, &grant.id, PIN).await.expect("revoked");
    assert!(revoked.revoked_at.is_some());
    assert!(
        a.grants(&eid, &GrantFilter::by_platform(&cq.id))
            .await
            .expect("live")
            .is_empty()
    );
    let history = GrantFilter {
        include_revoked: true,
        ..GrantFilter::by_person(&b_id)
    };
    assert_eq!(a.grants(&eid, &history).await.expect("history").len(), 1);

    // Zones: bound where the directory matches exactly, refused where the name differs.
    let zone = a.bind_zone(&eid, &cq.id).await.expect("bound");
    assert_eq!(zone.platform_id, cq.id);
    assert_eq!(
        code_of(a.bind_zone(&eid, &bj.id).await),
        Some(ErrorCode::ZoneMismatch)
    );
    let zones = b.zones(&eid).await.expect("members see zones");
    assert_eq!(zones.len(), 1);
    a.unbind_zone(&eid, &cq.id).await.expect("unbound");
    assert!(a.zones(&eid).await.expect("zones").is_empty());
    a.bind_zone(&eid, &cq.id).await.expect("bound again");

    // Seals.
    let seal = a
        .add_seal(&eid, "公章", png(300, 300), PIN)
        .await
        .expect("seal added");
    assert_eq!((seal.width, seal.height), (300, 300));
    let seal = a
        .rename_seal(&eid, &seal.id, "合同专用章")
        .await
        .expect("renamed");
    assert_eq!(seal.name, "合同专用章");
    let seal = a
        .replace_seal_image(&eid, &seal.id, png(400, 200), PIN)
        .await
        .expect("replaced");
    assert_eq!((seal.width, seal.height), (400, 200));
    assert_eq!(
        a.seal_image(&eid, &seal.id).await.expect("image"),
        png(400, 200)
    );
    let second = a
        .add_seal(&eid, "财务章", png(100, 100), PIN)
        .await
        .expect("seal");
    let mut names: Vec<String> = b
        .seals(&eid)
        .await
        .expect("members see seals")
        .into_iter()
        .map(|s| s.name)
        .collect();
    // Listed by creation time; two made in the same second may come either way.
    names.sort();
    let mut expected = vec!["合同专用章".to_owned(), "财务章".to_owned()];
    expected.sort();
    assert_eq!(names, expected);
    a.delete_seal(&eid, &second.id).await.expect("deleted");
    assert_eq!(a.seals(&eid).await.expect("seals").len(), 1);

    // Staff B is refused every admin action.
    assert_eq!(code_of(b.staff(&eid).await), Some(ErrorCode::NotAdmin));
    assert_eq!(
        code_of(b.add_seal(&eid, "私章", png(10, 10), PIN).await),
        Some(ErrorCode::NotAdmin)
    );
    assert_eq!(
        code_of(b.add_grant(&eid, &b_id, &cq.id, PIN).await),
        Some(ErrorCode::NotAdmin)
    );
    assert_eq!(
        code_of(b.unbind_zone(&eid, &cq.id).await),
        Some(ErrorCode::NotAdmin)
    );
    assert_eq!(
        code_of(b.remove_staff(&eid, &a_id, PIN).await),
        Some(ErrorCode::NotAdmin)
    );
    assert_eq!(
        code_of(b.transfer_admin(&eid, &b_id, PIN).await),
        Some(ErrorCode::NotAdmin)
    );
    assert_eq!(
        code_of(
            b.change_enterprise_info(&eid, Some("重庆新名有限公司"), None)
                .await
        ),
        Some(ErrorCode::NotAdmin)
    );

    // Transfer the admin role to B and back.
    let members = a
        .transfer_admin(&eid, &b_id, PIN)
        .await
        .expect("transferred");
    assert_eq!(members[0].account_id, b_id);
    assert_eq!(members[0].role, Role::Admin);
    assert_eq!(role_in(&a, &eid).await, Some(Role::Staff));
    assert_eq!(code_of(a.staff(&eid).await), Some(ErrorCode::NotAdmin));
    b.staff(&eid).await.expect("B is admin");
    b.transfer_admin(&eid, &a_id, PIN)
        .await
        .expect("transferred back");
    assert_eq!(role_in(&a, &eid).await, Some(Role::Admin));
    assert_eq!(role_in(&b, &eid).await, Some(Role::Staff));

    // A grant for B, then B is removed: certificates and grants revoked.
    a.add_grant(&eid, &b_id, &cq.id, PIN)
        .await
        .expect("granted");
    // A wrong PIN confirms nothing (ADR 0018): B stays.
    assert!(matches!(
        a.remove_staff(&eid, &b_id, "000000").await,
        Err(CoreError::WrongPin { .. })
    ));
    assert_eq!(role_in(&b, &eid).await, Some(Role::Staff));
    let removed = a.remove_staff(&eid, &b_id, PIN).await.expect("removed");
    assert_eq!(removed.account_id, b_id);
    assert!(removed.certificates_revoked >= 2, "{removed:?}");
    assert_eq!(removed.grants_revoked, 1);
    assert_eq!(role_in(&b, &eid).await, None);
    assert_eq!(a.staff(&eid).await.expect("staff").len(), 1);
    let b_list = b.certificates().await.expect("certificates");
    assert!(b_list.in_force.iter().all(|p| p.pair_id != pair_b.pair_id));

    // 变更企业信息: recorded for review, with the warning for the shell.
    let notice = |data: &[u8]| {
        vec![(
            "工商变更通知书.pdf".to_owned(),
            "application/pdf".to_owned(),
            data.to_vec(),
        )]
    };
    assert!(matches!(
        a.change_enterprise_info_with_materials(
            &eid,
            Some("重庆比德信息技术有限公司"),
            None,
            notice(b"not a pdf")
        )
        .await,
        Err(CoreError::InvalidInput { .. })
    ));
    let change = a
        .change_enterprise_info_with_materials(
            &eid,
            Some("重庆比德信息技术有限公司"),
            None,
            notice(b"%PDF-1.7\n% notice\n"),
        )
        .await
        .expect("change requested");
    assert_eq!(change.application.status, Status::PendingReview);
    assert_eq!(change.warning, Text::ChangeInfoWarning);
    assert!(change.warning.get(Lang::Zh).contains("不能恢复"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn micropayment_makes_an_admin() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let c = phone_at(&server, dir.path());
    registered(&server, &c, "13900000003", &identity("王五", &id_number(3))).await;
    let code = uscc(2);

    let found = c.search_enterprises(&code).await.expect("search");
    assert!(!found.results[0].registered);
    assert!(
        found.results[0]
            .actions
            .contains(&EnterpriseAction::Micropay)
    );
    let eid = verified_by_micropayment(&server, &c, &code, NAME_2).await;
    assert_eq!(role_in(&c, &eid).await, Some(Role::Admin));
    let found = c.search_enterprises(&code).await.expect("search");
    assert!(found.results[0].claimed);
    assert_eq!(found.results[0].my_role, Some(Role::Admin));
    // As admin, C manages the enterprise at once.
    assert_eq!(c.staff(&eid).await.expect("staff").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let c = phone_at(&server, dir.path());

    // Before login nothing goes out.
    assert_eq!(
        c.search_enterprises(USCC_A).await.expect_err("no login"),
        CoreError::NotLoggedIn
    );
    registered(&server, &c, "13900000004", &identity("赵六", &id_number(4))).await;

    // A USCC with a wrong check character is refused locally, clearly.
    let bad_uscc = "91500000MA5U8XGQ8A";
    let invalid = CoreError::InvalidInput {
        field: "unified social credit code",
    };
    assert_eq!(
        c.search_enterprises(bad_uscc).await.expect_err("bad"),
        invalid
    );
    assert_eq!(
        c.claim_enterprise(
            bad_uscc,
            NAME_A,
            None,
            vec![("a.png".into(), "image/png".into(), png(10, 10))]
        )
        .await
        .expect_err("bad"),
        invalid
    );
    assert_eq!(
        c.request_micropayment(bad_uscc, NAME_A, "123456")
            .await
            .expect_err("bad"),
        invalid
    );
    assert!(!Text::InvalidUscc.get(Lang::Zh).is_empty());
    // Other claim input.
    assert!(matches!(
        c.claim_enterprise(USCC_A, NAME_A, None, vec![]).await,
        Err(CoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        c.claim_enterprise(
            USCC_A,
            NAME_A,
            None,
            vec![("a.png".into(), "image/png".into(), b"GIF89a".to_vec())]
        )
        .await,
        Err(CoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        c.request_micropayment(USCC_A, NAME_A, "12345").await,
        Err(CoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        c.search_enterprises("重").await,
        Err(CoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        c.join_enterprise("../operator").await,
        Err(CoreError::InvalidInput { .. })
    ));

    // Seals must be PNG; the check is local, then the server's.
    let eid = verified_by_micropayment(&server, &c, &uscc(3), NAME_2).await;
    let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
    assert!(matches!(
        c.add_seal(&eid, "公章", jpeg, PIN).await,
        Err(CoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        c.add_seal(&eid, "  ", png(10, 10), PIN).await,
        Err(CoreError::InvalidInput { .. })
    ));
    // Past the local checks an admin action needs the PIN of a signing certificate on this
    // phone (ADR 0018); without one it stops here, before anything is sent.
    let truncated = b"\x89PNG\r\n\x1a\n".to_vec();
    assert!(matches!(
        c.add_seal(&eid, "公章", truncated, PIN).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(c.seals(&eid).await.expect("seals").is_empty());

    // Unknown platforms.
    let unknown = "00000000000000000000000000000000";
    assert_eq!(
        code_of(c.select_platform(unknown).await),
        Some(ErrorCode::PlatformNotFound)
    );
    assert_eq!(c.current_platform().expect("wallet"), None);
    assert!(matches!(
        c.add_grant(&eid, &account_id(&c), unknown, PIN).await,
        Err(CoreError::NotFound(_))
    ));
    assert_eq!(
        code_of(c.bind_zone(&eid, unknown).await),
        Some(ErrorCode::PlatformNotFound)
    );
    assert!(matches!(
        c.platforms(Some(Location {
            latitude: 91.0,
            longitude: 0.0
        }))
        .await,
        Err(CoreError::InvalidInput { field: "location" })
    ));
}

//! Trading platforms, grants (授权管理), zones (专区) and seals (印章管理) over real HTTP, on
//! SQLite and on PostgreSQL.

#[macro_use]
mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::cosign::AdminAction;
use bidkey_protocol::platforms::*;
use support::device::{Wallet, confirmed, enroll, paid_personal_application};
use support::{Client, Store, TestServer, person, uscc, verify_by_micropayment};

on_both_stores!(
    platforms_nearest_first,
    grants_by_admin_only,
    zones_need_matching_directory,
    seals_png_only,
    electronic_seals_need_the_cas_approval
);

const NAME: &str = "宿迁平台测试有限公司";

fn new_platform(name: &str, origin: &str, at: Option<(f64, f64)>) -> NewPlatform {
    NewPlatform {
        name: name.into(),
        origin: origin.into(),
        region: Some("江苏".into()),
        latitude: at.map(|a| a.0),
        longitude: at.map(|a| a.1),
    }
}

fn operator(server: &TestServer) -> Client {
    Client::new(server).with_token(&server.operator_token())
}

/// An admin and a staff member of the enterprise NAME/uscc(seq), and their account ids.
async fn team(server: &TestServer, seq: u32) -> (Client, Client, String, String, String) {
    let base = 13_600_000_000u64 + u64::from(seq) * 10;
    let a = person(server, &(base + 1).to_string(), "张三", seq * 10 + 1).await;
    let b = person(server, &(base + 2).to_string(), "李四", seq * 10 + 2).await;
    let eid = verify_by_micropayment(server, &a, NAME, &uscc(seq), &format!("P{seq}-a")).await;
    verify_by_micropayment(server, &b, NAME, &uscc(seq), &format!("P{seq}-b")).await;
    let id = |v: serde_json::Value| v["id"].as_str().expect("id").to_owned();
    let a_id = id(a.get("/v1/me").await.expect("me"));
    let b_id = id(b.get("/v1/me").await.expect("me"));
    (a, b, eid, a_id, b_id)
}

async fn platforms_nearest_first(store: Store) {
    let server = TestServer::start(store).await;
    let op = operator(&server);
    // Suqian, Nanjing, Beijing, and one without a location.
    let sq: Platform = op
        .post(
            "/v1/operator/platforms",
            &new_platform(
                "宿迁市公共资源交易中心",
                "https://ggzy.suqian.example.invalid/",
                Some((33.96, 118.28)),
            ),
        )
        .await
        .expect("suqian");
    assert_eq!(sq.origin, "https://ggzy.suqian.example.invalid");
    assert!(!sq.has_certificate);
    let nj: Platform = op
        .post(
            "/v1/operator/platforms",
            &new_platform(
                "南京市公共资源交易中心",
                "https://ggzy.nanjing.example.invalid",
                Some((32.06, 118.80)),
            ),
        )
        .await
        .expect("nanjing");
    let bj: Platform = op
        .post(
            "/v1/operator/platforms",
            &new_platform(
                "北京市公共资源交易平台",
                "https://ggzy.beijing.example.invalid",
                Some((39.90, 116.40)),
            ),
        )
        .await
        .expect("beijing");
    let _: Platform = op
        .post(
            "/v1/operator/platforms",
            &new_platform("洋河e采", "https://yanghe.example.invalid", None),
        )
        .await
        .expect("no location");

    // Registering the same origin again is idempotent; another name for it is a conflict.
    let again: Platform = op
        .post(
            "/v1/operator/platforms",
            &new_platform(
                "宿迁市公共资源交易中心",
                "https://GGZY.suqian.example.invalid",
                Some((33.96, 118.28)),
            ),
        )
        .await
        .expect("again");
    assert_eq!(again.id, sq.id);
    let err = op
        .post::<_, Platform>(
            "/v1/operator/platforms",
            &new_platform("别的名字", "https://ggzy.suqian.example.invalid", None),
        )
        .await
        .expect_err("conflict");
    assert_eq!(err.1.code, ErrorCode::Conflict);
    for bad in [
        new_platform("坏的平台", "ftp://x.example.invalid", None),
        new_platform("坏的平台", "https://x.example.invalid/path?q", None),
        new_platform("坏的平台", "https://x.example.invalid", Some((91.0, 0.0))),
    ] {
        let err = op
            .post::<_, Platform>("/v1/operator/platforms", &bad)
            .await
            .expect_err("bad");
        assert_eq!(err.1.code, ErrorCode::BadRequest);
    }

    // Only the operator registers platforms.
    let a = person(&server, "13600000001", "张三", 1).await;
    let err = a
        .post::<_, Platform>(
            "/v1/operator/platforms",
            &new_platform("某平台", "https://y.example.invalid", None),
        )
        .await
        .expect_err("not operator");
    assert_eq!((err.0, err.1.code), (403, ErrorCode::Forbidden));

    // From Nanjing: Nanjing, Suqian, Beijing, then the one without a location.
    let list: Vec<Platform> = Client::new(&server)
        .get("/v1/platforms?lat=32.05&lon=118.78")
        .await
        .expect("list");
    let ids: Vec<&str> = list.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(&ids[..3], &[nj.id.as_str(), sq.id.as_str(), bj.id.as_str()]);
    assert!(list[0].distance_km.expect("distance") < 5.0);
    let d = list[1].distance_km.expect("distance");
    assert!(
        (180.0..260.0).contains(&d),
        "Nanjing–Suqian is about 220 km, got {d}"
    );
    assert!(list[3].distance_km.is_none());
    let all: Vec<Platform> = Client::new(&server)
        .get("/v1/platforms")
        .await
        .expect("all");
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|p| p.distance_km.is_none()));
    let one: Platform = Client::new(&server)
        .get(&format!("/v1/platforms/{}", bj.id))
        .await
        .expect("one");
    assert_eq!(one.name, "北京市公共资源交易平台");
    let err = Client::new(&server)
        .get::<Platform>("/v1/platforms/nope")
        .await
        .expect_err("none");
    assert_eq!((err.0, err.1.code), (404, ErrorCode::PlatformNotFound));
}

/// The operator issues platform `p` its certificate from a CSR of a fresh SM2 key.
async fn certify(server: &TestServer, p: &Platform) -> bidkey_crypto::sm2::Sm2PrivateKey {
    use bidkey_crypto::x509::{CsrDraft, ca_subject};
    let key = bidkey_crypto::sm2::Sm2PrivateKey::make_random().expect("key");
    let spki = key.public_key().to_spki_der().expect("spki");
    let draft =
        CsrDraft::new(ca_subject(&p.origin, &p.name).expect("subject"), &spki).expect("draft");
    let sig = key
        .sign(bidkey_crypto::sm2::DEFAULT_ID, draft.to_be_signed())
        .expect("sign");
    let csr = draft.assemble(&sig.to_der()).expect("csr");
    let _: bidkey_protocol::certs::PlatformCert = operator(server)
        .post(
            &format!("/v1/operator/platforms/{}/certificate", p.id),
            &bidkey_protocol::certs::PlatformCertRequest {
                csr_der: csr.to_der().to_vec(),
                days: None,
            },
        )
        .await
        .expect("platform certificate");
    key
}

/// `GET /v1/grants/check?{query}` signed with `key` at the server's time + `skew`.
async fn signed_check(
    server: &TestServer,
    key: &bidkey_crypto::sm2::Sm2PrivateKey,
    query: &str,
    skew: i64,
) -> support::Answer<GrantCheck> {
    let time = server.running.state.clock.now() + skew;
    let sig = key
        .sign(
            bidkey_crypto::sm2::DEFAULT_ID,
            &grant_check_message(time, query),
        )
        .expect("sign")
        .to_der();
    Client::new(server)
        .get_with(
            &format!("/v1/grants/check?{query}"),
            &[
                (GRANT_CHECK_TIME_HEADER, time.to_string()),
                (GRANT_CHECK_SIGNATURE_HEADER, hex::encode(sig)),
            ],
        )
        .await
}

/// A personal certificate pair on the admin's phone: their PIN confirms admin actions
/// (ADR 0018).
async fn admin_pin(server: &TestServer, a: &Client) -> Wallet {
    let app = paid_personal_application(server, a).await;
    enroll(a, &app).await
}

/// The SM3 (hex) of a seal image, as a PIN confirmation names it.
fn image_sm3(png: &[u8]) -> String {
    hex::encode(bidkey_crypto::sm3::sm3(png))
}

async fn grants_by_admin_only(store: Store) {
    let server = TestServer::start(store).await;
    let (a, b, eid, a_id, b_id) = team(&server, 1).await;
    let w = admin_pin(&server, &a).await;
    let op = operator(&server);
    let p: Platform = op
        .post(
            "/v1/operator/platforms",
            &new_platform(
                "宿迁市公共资源交易中心",
                "https://ggzy.example.invalid",
                None,
            ),
        )
        .await
        .expect("platform");
    let q: Platform = op
        .post(
            "/v1/operator/platforms",
            &new_platform("洋河e采", "https://yanghe.example.invalid", None),
        )
        .await
        .expect("platform");
    let path = format!("/v1/enterprises/{eid}/grants");
    let req = |who: &str, pid: &str| GrantRequest {
        account_id: who.into(),
        platform_id: pid.into(),
    };
    // The admin, confirming the grant of `who` on `pid` with the PIN.
    let granting = |who: &str, pid: &str| {
        confirmed(
            &a,
            &w,
            AdminAction::AddGrant {
                enterprise_id: eid.clone(),
                account_id: who.into(),
                platform_id: pid.into(),
            },
        )
    };

    // Staff cannot grant, not even themselves.
    let err = b
        .post::<_, Grant>(&path, &req(&b_id, &p.id))
        .await
        .expect_err("staff");
    assert_eq!((err.0, err.1.code), (403, ErrorCode::NotAdmin));
    let err = a
        .post::<_, Grant>(&path, &req(&b_id, "nope"))
        .await
        .expect_err("no platform");
    assert_eq!(err.1.code, ErrorCode::PlatformNotFound);

    let g1: Grant = granting(&b_id, &p.id)
        .await
        .post(&path, &req(&b_id, &p.id))
        .await
        .expect("grant B on P");
    assert_eq!(g1.real_name.as_deref(), Some("李四"));
    assert_eq!(g1.granted_by, a_id);
    let again: Grant = granting(&b_id, &p.id)
        .await
        .post(&path, &req(&b_id, &p.id))
        .await
        .expect("again");
    assert_eq!(again.id, g1.id);
    let g2: Grant = granting(&b_id, &q.id)
        .await
        .post(&path, &req(&b_id, &q.id))
        .await
        .expect("grant B on Q");
    let g3: Grant = granting(&a_id, &p.id)
        .await
        .post(&path, &req(&a_id, &p.id))
        .await
        .expect("grant own");

    // By platform, by person; staff see only their own.
    let by_p: Vec<Grant> = a
        .get(&format!("{path}?platform_id={}", p.id))
        .await
        .expect("by platform");
    assert_eq!(by_p.len(), 2);
    let by_b: Vec<Grant> = a
        .get(&format!("{path}?account_id={b_id}"))
        .await
        .expect("by person");
    assert_eq!(by_b.len(), 2);
    let own: Vec<Grant> = b.get(&path).await.expect("own");
    assert_eq!(own.len(), 2);
    assert!(own.iter().all(|g| g.account_id == b_id));
    let err = b
        .get::<Vec<Grant>>(&format!("{path}?account_id={a_id}"))
        .await
        .expect_err("someone else's");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);

    // The platforms' check: only the platform named, signing with its certificate.
    let p_key = certify(&server, &p).await;
    let q_key = certify(&server, &q).await;
    let check =
        |pid: &str, who: &str| format!("platform_id={pid}&account_id={who}&enterprise_id={eid}");
    let anon = Client::new(&server);
    let c: GrantCheck = signed_check(&server, &p_key, &check(&p.id, &b_id), 0)
        .await
        .expect("check");
    assert!(c.granted);
    assert_eq!(c.grant_id.as_deref(), Some(g1.id.as_str()));
    assert!(!c.certificate_valid, "no certificate issued yet");
    // Unsigned (anyone on the Internet), signed by another platform, signed over another
    // query, or stale: refused.
    let err = anon
        .get::<GrantCheck>(&format!("/v1/grants/check?{}", check(&p.id, &b_id)))
        .await
        .expect_err("unsigned");
    assert_eq!((err.0, err.1.code), (401, ErrorCode::Unauthorized));
    let err = signed_check(&server, &q_key, &check(&p.id, &b_id), 0)
        .await
        .expect_err("another platform's key");
    assert_eq!((err.0, err.1.code), (401, ErrorCode::Unauthorized));
    let now = server.running.state.clock.now();
    let message = grant_check_message(now, &check(&p.id, &a_id));
    let sig = p_key
        .sign(bidkey_crypto::sm2::DEFAULT_ID, &message)
        .expect("sign")
        .to_der();
    let err = anon
        .get_with::<GrantCheck>(
            &format!("/v1/grants/check?{}", check(&p.id, &b_id)),
            &[
                (GRANT_CHECK_TIME_HEADER, now.to_string()),
                (GRANT_CHECK_SIGNATURE_HEADER, hex::encode(sig)),
            ],
        )
        .await
        .expect_err("signature over another query");
    assert_eq!((err.0, err.1.code), (401, ErrorCode::Unauthorized));
    let err = signed_check(&server, &p_key, &check(&p.id, &b_id), -120)
        .await
        .expect_err("stale");
    assert_eq!((err.0, err.1.code), (401, ErrorCode::Unauthorized));
    let err = signed_check(&server, &p_key, &check(&p.id, &b_id), 120)
        .await
        .expect_err("from the future");
    assert_eq!((err.0, err.1.code), (401, ErrorCode::Unauthorized));
    // Times at the ends of i64 are refused, not an arithmetic overflow (schemathesis found
    // the overflow: gateway/tests/schemathesis.rs).
    for t in [i64::MIN, i64::MAX] {
        let err = anon
            .get_with::<GrantCheck>(
                &format!("/v1/grants/check?{}", check(&p.id, &b_id)),
                &[
                    (GRANT_CHECK_TIME_HEADER, t.to_string()),
                    (GRANT_CHECK_SIGNATURE_HEADER, "3006020101020101".into()),
                ],
            )
            .await
            .expect_err("absurd time");
        assert_eq!((err.0, err.1.code), (401, ErrorCode::Unauthorized));
    }
    // A logged-in phone may ask about its own account, unsigned; not about someone else's.
    let own: GrantCheck = b
        .get(&format!("/v1/grants/check?{}", check(&p.id, &b_id)))
        .await
        .expect("own account");
    assert!(own.granted);
    let err = b
        .get::<GrantCheck>(&format!("/v1/grants/check?{}", check(&p.id, &a_id)))
        .await
        .expect_err("someone else's account");
    assert_eq!((err.0, err.1.code), (401, ErrorCode::Unauthorized));
    let err = signed_check(&server, &p_key, &check("nope", &b_id), 0)
        .await
        .expect_err("unknown platform");
    assert_eq!(err.0, 404);

    // By certificate serial: an unknown serial is not granted; the two forms do not mix, and
    // a serial must be hex. (A real enterprise certificate is checked in
    // platform/tests/verify_server.rs, through the core's enrolment.)
    let c: GrantCheck = signed_check(
        &server,
        &p_key,
        &format!("platform_id={}&serial=0A1B2C", p.id),
        0,
    )
    .await
    .expect("check by serial");
    assert!(!c.granted && c.grant_id.is_none() && !c.certificate_valid);
    for bad in [
        format!(
            "platform_id={}&serial=0A1B&account_id={b_id}&enterprise_id={eid}",
            p.id
        ),
        format!("platform_id={}&serial=zz", p.id),
        format!("platform_id={}&account_id={b_id}", p.id),
        format!("platform_id={}", p.id),
    ] {
        let err = signed_check(&server, &p_key, &bad, 0)
            .await
            .expect_err("bad form");
        assert_eq!((err.0, err.1.code), (400, ErrorCode::BadRequest), "{bad}");
    }

    // Revoking: staff cannot; the admin can; history keeps it.
    let err = b
        .delete::<Grant>(&format!("{path}/{}", g1.id))
        .await
        .expect_err("staff revokes");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let revoke_g1 = AdminAction::RevokeGrant {
        enterprise_id: eid.clone(),
        grant_id: g1.id.clone(),
    };
    let revoked: Grant = confirmed(&a, &w, revoke_g1)
        .await
        .delete(&format!("{path}/{}", g1.id))
        .await
        .expect("revoked");
    assert!(revoked.revoked_at.is_some());
    let c: GrantCheck = signed_check(&server, &p_key, &check(&p.id, &b_id), 0)
        .await
        .expect("check");
    assert!(!c.granted && c.grant_id.is_none());
    let c: GrantCheck = signed_check(&server, &q_key, &check(&q.id, &b_id), 0)
        .await
        .expect("check");
    assert!(c.granted);
    let live: Vec<Grant> = a.get(&path).await.expect("live");
    assert_eq!(live.len(), 2);
    let history: Vec<Grant> = a
        .get(&format!("{path}?include_revoked=true"))
        .await
        .expect("all");
    assert_eq!(history.len(), 3);
    let err = a
        .delete::<Grant>(&format!("{path}/nope"))
        .await
        .expect_err("none");
    assert_eq!((err.0, err.1.code), (404, ErrorCode::GrantNotFound));
    let _ = (g2, g3);
}

async fn zones_need_matching_directory(store: Store) {
    let server = TestServer::start(store).await;
    let (a, b, eid, _, _) = team(&server, 2).await;
    let op = operator(&server);
    let p: Platform = op
        .post(
            "/v1/operator/platforms",
            &new_platform(
                "宿迁市公共资源交易中心",
                "https://ggzy.example.invalid",
                None,
            ),
        )
        .await
        .expect("platform");
    let dir_path = format!("/v1/operator/platforms/{}/directory", p.id);
    let entry = |code: &str, name: &str| DirectoryEntry {
        uscc: code.into(),
        name: name.into(),
    };

    // A directory with a bad code is refused whole.
    let mut bad = uscc(2);
    bad.replace_range(17.., if bad.ends_with('0') { "1" } else { "0" });
    let err = op
        .put::<_, DirectoryLoaded>(
            &dir_path,
            &Directory {
                entries: vec![entry(&uscc(9), "甲公司"), entry(&bad, NAME)],
            },
        )
        .await
        .expect_err("bad code");
    assert_eq!(err.1.code, ErrorCode::InvalidUscc);
    let err = a
        .put::<_, DirectoryLoaded>(&dir_path, &Directory { entries: vec![] })
        .await
        .expect_err("not operator");
    assert_eq!(err.1.code, ErrorCode::Forbidden);

    // Same code, another name: no zone.
    let loaded: DirectoryLoaded = op
        .put(
            &dir_path,
            &Directory {
                entries: vec![
                    entry(&uscc(9), "甲公司"),
                    entry(&uscc(2), "宿迁平台测试公司"),
                ],
            },
        )
        .await
        .expect("loaded");
    assert_eq!(loaded.entries, 2);
    let zones = format!("/v1/enterprises/{eid}/zones");
    let err = a
        .post::<_, Zone>(
            &zones,
            &ZoneRequest {
                platform_id: p.id.clone(),
            },
        )
        .await
        .expect_err("name differs");
    assert_eq!(err.1.code, ErrorCode::ZoneMismatch);

    // The directory replaced with the exact name and code: the zone binds.
    let _: DirectoryLoaded = op
        .put(
            &dir_path,
            &Directory {
                entries: vec![entry(&uscc(2), NAME)],
            },
        )
        .await
        .expect("loaded");
    let err = b
        .post::<_, Zone>(
            &zones,
            &ZoneRequest {
                platform_id: p.id.clone(),
            },
        )
        .await
        .expect_err("staff binds");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let z: Zone = a
        .post(
            &zones,
            &ZoneRequest {
                platform_id: p.id.clone(),
            },
        )
        .await
        .expect("bound");
    assert_eq!(
        (z.platform_id.as_str(), z.origin.as_str()),
        (p.id.as_str(), "https://ggzy.example.invalid")
    );
    let again: Zone = a
        .post(
            &zones,
            &ZoneRequest {
                platform_id: p.id.clone(),
            },
        )
        .await
        .expect("again");
    assert_eq!(again.id, z.id);
    let seen: Vec<Zone> = b.get(&zones).await.expect("staff lists");
    assert_eq!(seen.len(), 1);

    let err = b
        .delete::<serde_json::Value>(&format!("{zones}/{}", p.id))
        .await
        .expect_err("staff unbinds");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let _: serde_json::Value = a
        .delete(&format!("{zones}/{}", p.id))
        .await
        .expect("unbound");
    let err = a
        .delete::<serde_json::Value>(&format!("{zones}/{}", p.id))
        .await
        .expect_err("twice");
    assert_eq!(err.1.code, ErrorCode::NotFound);
    let seen: Vec<Zone> = a.get(&zones).await.expect("list");
    assert!(seen.is_empty());
    let err = a
        .post::<_, Zone>(
            &zones,
            &ZoneRequest {
                platform_id: "nope".into(),
            },
        )
        .await
        .expect_err("no platform");
    assert_eq!(err.1.code, ErrorCode::PlatformNotFound);
}

/// A PNG with this width and height: signature, IHDR, (padding), IEND.
fn png(w: u32, h: u32, padding: usize) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&w.to_be_bytes());
    png.extend_from_slice(&h.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    png.extend(std::iter::repeat_n(0u8, padding));
    png.extend_from_slice(b"\0\0\0\0IEND\xAE\x42\x60\x82");
    png
}

async fn seals_png_only(store: Store) {
    let server = TestServer::start(store).await;
    let (a, b, eid, _, _) = team(&server, 3).await;
    let w = admin_pin(&server, &a).await;
    let adding = |png: &[u8]| {
        confirmed(
            &a,
            &w,
            AdminAction::AddSeal {
                enterprise_id: eid.clone(),
                image_sm3: image_sm3(png),
            },
        )
    };
    let path = format!("/v1/enterprises/{eid}/seals");
    let new = |name: &str, image: Vec<u8>, key: &str| NewSeal {
        name: name.into(),
        image,
        idempotency_key: key.into(),
        seal_type: 1,
        width_mm: 40,
        height_mm: 40,
        holders: vec![],
    };

    let err = b
        .post::<_, Seal>(&path, &new("公章", png(300, 300, 0), "b1"))
        .await
        .expect_err("staff");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
    let err = a
        .post::<_, Seal>(&path, &new("公章", jpeg, "a0"))
        .await
        .expect_err("jpeg");
    assert_eq!((err.0, err.1.code), (400, ErrorCode::InvalidImage));
    let mut truncated = png(300, 300, 0);
    truncated.truncate(20);
    let err = a
        .post::<_, Seal>(&path, &new("公章", truncated, "a0"))
        .await
        .expect_err("truncated");
    assert_eq!(err.1.code, ErrorCode::InvalidImage);
    let err = a
        .post::<_, Seal>(&path, &new("公章", png(3000, 300, 0), "a0"))
        .await
        .expect_err("too wide");
    assert_eq!(err.1.code, ErrorCode::InvalidImage);
    let err = a
        .post::<_, Seal>(&path, &new("公章", png(300, 300, 600 * 1024), "a0"))
        .await
        .expect_err("too big");
    assert_eq!((err.0, err.1.code), (413, ErrorCode::PayloadTooLarge));

    let seal: Seal = adding(&png(300, 280, 100))
        .await
        .post(&path, &new("公章", png(300, 280, 100), "a1"))
        .await
        .expect("added");
    assert_eq!((seal.width, seal.height), (300, 280));
    assert!(seal.cert_serial.is_none());
    let again: Seal = adding(&png(300, 280, 100))
        .await
        .post(&path, &new("公章", png(300, 280, 100), "a1"))
        .await
        .expect("retry");
    assert_eq!(again.id, seal.id);
    let _: Seal = adding(&png(200, 200, 0))
        .await
        .post(&path, &new("合同专用章", png(200, 200, 0), "a2"))
        .await
        .expect("second");

    // Rename, replace the image; staff may list and fetch, not change.
    let one = format!("{path}/{}", seal.id);
    let err = b
        .put::<_, Seal>(
            &one,
            &SealUpdate {
                name: Some("x".into()),
                image: None,
                ..Default::default()
            },
        )
        .await
        .expect_err("staff renames");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let renamed: Seal = a
        .put(
            &one,
            &SealUpdate {
                name: Some("单位公章".into()),
                image: None,
                ..Default::default()
            },
        )
        .await
        .expect("renamed");
    assert_eq!(renamed.name, "单位公章");
    let err = a
        .put::<_, Seal>(
            &one,
            &SealUpdate {
                name: None,
                image: Some(b"GIF89a".to_vec()),
                ..Default::default()
            },
        )
        .await
        .expect_err("not png");
    assert_eq!(err.1.code, ErrorCode::InvalidImage);
    let replace = AdminAction::ReplaceSeal {
        enterprise_id: eid.clone(),
        seal_id: seal.id.clone(),
        image_sm3: image_sm3(&png(400, 400, 0)),
    };
    let replaced: Seal = confirmed(&a, &w, replace)
        .await
        .put(
            &one,
            &SealUpdate {
                name: None,
                image: Some(png(400, 400, 0)),
                ..Default::default()
            },
        )
        .await
        .expect("replaced");
    assert_eq!((replaced.width, replaced.name.as_str()), (400, "单位公章"));
    assert_ne!(replaced.image_sha256, seal.image_sha256);
    let listed: Vec<Seal> = b.get(&path).await.expect("staff lists");
    assert_eq!(listed.len(), 2);
    let token = b.token.clone().expect("token");
    let resp = reqwest::Client::new()
        .get(format!("{}{one}/image", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("image");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    assert_eq!(
        resp.bytes().await.expect("bytes").to_vec(),
        png(400, 400, 0)
    );

    let err = b
        .delete::<serde_json::Value>(&one)
        .await
        .expect_err("staff deletes");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let _: serde_json::Value = a.delete(&one).await.expect("deleted");
    let listed: Vec<Seal> = a.get(&path).await.expect("list");
    assert_eq!(listed.len(), 1);
    let err = a.delete::<serde_json::Value>(&one).await.expect_err("gone");
    assert_eq!(err.1.code, ErrorCode::NotFound);
}

/// The GB/T 38540 side of seals without a holder's certificate (the admin confirms with the PIN): holders must be members, shape
/// limits, only the CA approves, only pending seals, and never a seal nobody can use (no
/// holder has a signing certificate here); revocation by the admin only; the public status
/// of an unknown esID. The approved path is platform/tests/eseal.rs.
async fn electronic_seals_need_the_cas_approval(store: Store) {
    let server = TestServer::start(store).await;
    let (a, b, eid, _, b_id) = team(&server, 4).await;
    // Adding a seal is confirmed with the admin's PIN (ADR 0018).
    let w = admin_pin(&server, &a).await;
    let adding = || {
        confirmed(
            &a,
            &w,
            AdminAction::AddSeal {
                enterprise_id: eid.clone(),
                image_sm3: image_sm3(&png(100, 100, 0)),
            },
        )
    };
    let path = format!("/v1/enterprises/{eid}/seals");
    let new = |holders: Vec<String>, w: u32, key: &str| NewSeal {
        name: "投标专用章".into(),
        image: png(100, 100, 0),
        idempotency_key: key.into(),
        seal_type: 3,
        width_mm: w,
        height_mm: 40,
        holders,
    };
    let err = adding()
        .await
        .post::<_, Seal>(&path, &new(vec!["no-such-account".into()], 40, "k1"))
        .await
        .expect_err("holder not a member");
    assert_eq!(err.1.code, ErrorCode::NotMember);
    let err = adding()
        .await
        .post::<_, Seal>(&path, &new(vec![b_id.clone()], 500, "k2"))
        .await
        .expect_err("500 mm wide");
    assert_eq!(err.1.code, ErrorCode::BadRequest);
    let seal: Seal = adding()
        .await
        .post(&path, &new(vec![b_id.clone()], 40, "k3"))
        .await
        .expect("added");
    assert_eq!(seal.status, SealStatus::Pending);
    assert_eq!(
        (seal.seal_type, seal.width_mm, seal.holders.clone()),
        (3, 40, vec![b_id.clone()])
    );

    let approve = format!("/v1/operator/seals/{}/approve", seal.id);
    let err = a
        .post::<_, Seal>(&approve, &SealApproval { valid_days: 30 })
        .await
        .expect_err("an admin is not the CA");
    assert_eq!(err.0, 403);
    let op = support::device::operator(&server);
    let pending: Vec<Seal> = op.get("/v1/operator/seals").await.expect("queue");
    assert!(pending.iter().any(|s| s.id == seal.id));
    let err = op
        .post::<_, Seal>(&approve, &SealApproval { valid_days: 0 })
        .await
        .expect_err("zero days");
    assert_eq!(err.1.code, ErrorCode::BadRequest);
    let err = op
        .post::<_, Seal>(&approve, &SealApproval { valid_days: 30 })
        .await
        .expect_err("no holder has a signing certificate");
    assert_eq!(err.1.code, ErrorCode::InvalidState);

    let revoke = format!("{path}/{}/revoke", seal.id);
    let err = b
        .post::<_, Seal>(&revoke, &serde_json::json!({}))
        .await
        .expect_err("staff revokes");
    assert_eq!(err.1.code, ErrorCode::NotAdmin);
    let revoked: Seal = a
        .post(&revoke, &serde_json::json!({}))
        .await
        .expect("revoked");
    assert_eq!(revoked.status, SealStatus::Revoked);
    assert!(revoked.revoked_at.is_some());
    let err = op
        .post::<_, Seal>(&approve, &SealApproval { valid_days: 30 })
        .await
        .expect_err("revoked is not pending");
    assert_eq!(err.1.code, ErrorCode::InvalidState);
    let err = a
        .put::<_, Seal>(
            &format!("{path}/{}", seal.id),
            &SealUpdate {
                name: Some("x".into()),
                ..Default::default()
            },
        )
        .await
        .expect_err("a revoked seal stays revoked");
    assert_eq!(err.1.code, ErrorCode::InvalidState);

    let usable: Vec<UsableSealEntry> = b
        .get("/v1/seals/usable?platform_id=nope")
        .await
        .expect("usable");
    assert!(usable.is_empty());
    let err = Client::new(&server)
        .get::<SealStatusReport>("/v1/seals/BKNOSUCH/status")
        .await
        .expect_err("unknown");
    assert_eq!(err.1.code, ErrorCode::NotFound);
}

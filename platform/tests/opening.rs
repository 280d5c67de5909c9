//! Bid opening that never fails a bidder (issue 17), end to end through a real server on
//! loopback, on SQLite and PostgreSQL: the bidder's wallet encrypts a bid to every member
//! its enterprise granted for the platform (the server names them); any one of them opens it
//! by scan; a member removed before the opening no longer can, the others still do.

use bidkey_core::Bidkey;
use bidkey_crypto::scan::PlatformKey;
use bidkey_platform::bidfile::{self, BidFileHeader, FileKey};
use bidkey_platform::client::PlatformClient;
use bidkey_platform::scan::verify::ReplyVerifier;
use bidkey_platform::scan::{PendingScan, ScanClient, ScanResult};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::scan::{ScanAction, ScanReply};
use bidkey_testkit::phones::*;
use bidkey_testkit::{Store, TestServer};
use std::time::Duration;

const USCC: &str = "91500000MA5U8XGQ8Q";
const NAME: &str = "重庆比德科技有限公司";
const ORIGIN: &str = "https://ggzy.cq.example.invalid";
const TENDER: &str = "CQ-ZB-2026-0117";

struct World {
    server: TestServer,
    _dirs: Vec<tempfile::TempDir>,
    admin: Bidkey,
    staff: Bidkey,
    /// A third member, with a pair and a grant, when the world has three.
    third: Option<(Bidkey, String)>,
    team: EnterpriseTeam,
    platform: RegisteredPlatform,
    client: ScanClient,
    verifier: ReplyVerifier,
}

fn api(server: &TestServer) -> PlatformClient {
    PlatformClient::new(&server.url(), None, Duration::from_secs(40)).expect("client")
}

/// Admin and staff of one enterprise, both with certificate pairs, both granted for the
/// platform: a bid is encrypted to both.
async fn world(store: Store) -> World {
    world_of(store, false).await
}

/// [`world`], with a third member (joined, enrolled, granted) when `third`.
async fn world_of(store: Store, third: bool) -> World {
    let server = TestServer::start(store).await;
    let GrantedTeam {
        mut dirs,
        admin,
        staff,
        team,
        platform,
    } = granted_team(&server, USCC, NAME, "重庆市公共资源交易中心", ORIGIN).await;
    let third = if third {
        dirs.push(tempfile::tempdir().expect("dir"));
        let phone = phone_at(&server, dirs[2].path());
        registered(
            &server,
            &phone,
            "13900000003",
            &identity("王五", &id_number(3)),
        )
        .await;
        let join = phone
            .join_enterprise(&team.enterprise_id)
            .await
            .expect("join");
        let approved = admin
            .approve_join(&team.enterprise_id, &join.id)
            .await
            .expect("admin approves");
        let paid = approve_and_pay(&server, &phone, &approved).await;
        let pair = phone.enroll(&paid.id, PIN).await.expect("enrolled");
        Some((phone, pair.encryption_serial))
    } else {
        None
    };
    // 李四 is granted already; the admin and the third member too.
    let members: Vec<&Bidkey> = std::iter::once(&admin)
        .chain(third.as_ref().map(|(p, _)| p))
        .collect();
    for who in members {
        let id = who.account().expect("wallet").expect("in").id;
        admin
            .add_grant(&team.enterprise_id, &id, &platform.platform.id, PIN)
            .await
            .expect("granted");
    }
    let PlatformSide {
        client, verifier, ..
    } = platform_side(&server, &platform, ORIGIN).await;
    World {
        server,
        _dirs: dirs,
        admin,
        staff,
        third,
        team,
        platform,
        client,
        verifier,
    }
}

/// The staff member's wallet encrypts `plain` for the tender on the platform.
async fn encrypted_bid(w: &World, plain: &[u8]) -> Vec<u8> {
    encrypted_bid_k(w, plain, None).await
}

async fn encrypted_bid_k(w: &World, plain: &[u8], threshold: Option<u8>) -> Vec<u8> {
    let (out, enc) = bidkey_testkit::phones::encrypted_bid(
        &w.staff,
        &w.team.enterprise_id,
        &w.platform.platform.id,
        TENDER,
        plain,
        threshold,
    )
    .await;
    let mut serials: Vec<_> = enc.recipients.iter().map(|r| r.serial.clone()).collect();
    serials.sort();
    let mut expected = vec![
        w.team.admin_pair.encryption_serial.clone(),
        w.team.staff_pair.encryption_serial.clone(),
    ];
    expected.extend(w.third.as_ref().map(|(_, s)| s.clone()));
    expected.sort();
    assert_eq!(serials, expected, "every granted member is a recipient");
    out
}

async fn decrypt_request(w: &World, file: &[u8]) -> PendingScan {
    decrypt_request_for(w, file, None).await
}

/// A decrypt request for the file; with `only`, the entry of that recipient alone (for a
/// k-of-n file the platform asks each share holder for their own share, so it knows whose
/// share each answer is).
async fn decrypt_request_for(w: &World, file: &[u8], only: Option<&str>) -> PendingScan {
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    bidfile::check_upload(
        &header,
        TENDER,
        &w.platform.platform.id,
        std::slice::from_ref(&w.team.staff_pair.encryption_serial),
    )
    .expect("the platform accepts the upload");
    w.client
        .create(
            ScanAction::Decrypt {
                tender_id: TENDER.into(),
                tender_name: "渝北区道路改造工程".into(),
                opening_at: 0,
                files: header
                    .wrapped_file_keys("投标文件.zip")
                    .expect("entries")
                    .into_iter()
                    .filter(|f| only.is_none_or(|s| f.recipient_serial == s))
                    .collect(),
            },
            60,
        )
        .await
        .expect("request")
}

async fn approved(client: &ScanClient, req: &PendingScan) -> ScanReply {
    match client.wait(req).await.expect("reply") {
        ScanResult::Approved(r) => r,
        other => panic!("approved expected, got {other:?}"),
    }
}

/// Requests the server has answered on `route` so far.
fn served(w: &World, route: &str) -> u64 {
    let snap = w.server.running.state.metrics.snapshot();
    snap.routes.get(route).map(|h| h.count()).unwrap_or(0)
}

/// Scan and confirm with `phone`, then open the file with the key the platform received.
async fn opened_by(w: &World, phone: &Bidkey, file: &[u8]) -> Vec<u8> {
    let req = decrypt_request(w, file).await;
    let (sessions, decrypts) = (
        served(w, "POST /v1/cosign/sessions"),
        served(w, "POST /v1/cosign/decrypt"),
    );
    let view = phone.scan(&req.current_qr_uri()).await.expect("scanned");
    assert_eq!(view.decryptable_files, vec!["投标文件.zip".to_owned()]);
    let done = phone
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("decrypted");
    assert_eq!(done.files_decrypted, 1);
    // The relay's fetch opened the co-decryption session (ADR 0031): no session request.
    assert_eq!(served(w, "POST /v1/cosign/sessions"), sessions);
    assert_eq!(served(w, "POST /v1/cosign/decrypt"), decrypts + 1);
    let reply = approved(&w.client, &req).await;
    let v = w
        .verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("verifies");
    let key = FileKey::from_bytes(&v.file_keys[0].key).expect("key");
    let mut opened = Vec::new();
    bidfile::decrypt(&key, &mut &file[..], &mut opened, &mut |_, _| {}).expect("opens");
    opened
}

async fn any_granted_member_opens_and_a_removed_one_no_longer_can(store: Store) {
    let w = world(store).await;
    let plain: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let file = encrypted_bid(&w, &plain).await;
    // The uploader is absent: a colleague opens it; and the uploader can too.
    assert_eq!(opened_by(&w, &w.admin, &file).await, plain);
    assert_eq!(opened_by(&w, &w.staff, &file).await, plain);

    // The admin removes the uploader before the opening: their certificates are revoked,
    // so the server refuses their co-decryption; the admin still opens the bid.
    let staff_id = w.staff.account().expect("wallet").expect("in").id;
    w.admin
        .remove_staff(&w.team.enterprise_id, &staff_id, PIN)
        .await
        .expect("removed");
    let req = decrypt_request(&w, &file).await;
    let view = w.staff.scan(&req.current_qr_uri()).await.expect("scanned");
    let err = w
        .staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect_err("a removed member cannot open the bid");
    assert_eq!(err.code(), Some(ErrorCode::CertificateRevoked), "{err:?}");
    assert_eq!(opened_by(&w, &w.admin, &file).await, plain);
}

/// What `phone` releases for a k-of-n file: its share, as the platform receives it.
async fn share_from(w: &World, phone: &Bidkey, serial: &str, file: &[u8]) -> (String, Vec<u8>) {
    let req = decrypt_request_for(w, file, Some(serial)).await;
    let view = phone.scan(&req.current_qr_uri()).await.expect("scanned");
    phone
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("released");
    let reply = approved(&w.client, &req).await;
    let v = w
        .verifier
        .check_reply(&req.body, &reply)
        .await
        .expect("verifies");
    (serial.to_owned(), v.file_keys[0].key.clone())
}

async fn two_of_three_members_open_a_two_of_three_bid(store: Store) {
    let w = world_of(store, true).await;
    let plain: Vec<u8> = (0..70_000u32).map(|i| (i % 241) as u8).collect();
    let file = encrypted_bid_k(&w, &plain, Some(2)).await;
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    assert_eq!((header.recipients.len(), header.threshold), (3, 2));
    let (third, third_serial) = w.third.as_ref().expect("third member");
    let staff_share = share_from(&w, &w.staff, &w.team.staff_pair.encryption_serial, &file).await;
    // One share alone opens nothing.
    assert!(matches!(
        bidfile::combine_shares(&header, std::slice::from_ref(&staff_share)),
        Err(bidfile::BidFileError::NotEnoughShares { have: 1, need: 2 })
    ));
    let third_share = share_from(&w, third, third_serial, &file).await;
    let key = bidfile::combine_shares(&header, &[staff_share, third_share]).expect("two open it");
    let mut opened = Vec::new();
    bidfile::decrypt(&key, &mut &file[..], &mut opened, &mut |_, _| {}).expect("opens");
    assert_eq!(opened, plain);
}

/// 解密自检 on the file as uploaded: it passes on the real file (every chunk authenticated,
/// the key never leaving the phone), and fails with a reason a bidder understands on an
/// upload damaged in a chunk or in the header.
async fn the_self_check_passes_on_the_upload_and_names_damage(store: Store) {
    let w = world(store).await;
    let plain: Vec<u8> = (0..150_000u32).map(|i| (i % 239) as u8).collect();
    let file = encrypted_bid(&w, &plain).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("uploaded.bid");
    std::fs::write(&path, &file).expect("write");
    let ok = w
        .admin
        .self_check_bid_file(&path, PIN)
        .await
        .expect("checked")
        .expect("the upload will open");
    assert_eq!(ok.plaintext_len, plain.len() as u64);
    assert_eq!(ok.recipient_serial, w.team.admin_pair.encryption_serial);
    assert_eq!(ok.tender_id, TENDER);
    assert!(!ok.share_only);

    // A byte flipped in the second chunk on the way up.
    let header_len = {
        let h = BidFileHeader::read_from(&mut &file[..]).expect("header");
        h.to_bytes().expect("bytes").len()
    };
    let mut damaged = file.clone();
    damaged[header_len + 64 * 1024 + 16 + 100] ^= 0x01;
    std::fs::write(&path, &damaged).expect("write");
    let failed = w
        .staff
        .self_check_bid_file(&path, PIN)
        .await
        .expect("checked")
        .expect_err("a damaged upload fails the self-check");
    assert!(failed.zh.contains("第 1 块已损坏"), "{failed:?}");
    assert!(
        failed.en.contains("part 1 of the uploaded file is damaged"),
        "{failed:?}"
    );

    // The file name in the header changed: the wrapped key is for another header.
    let mut renamed = file.clone();
    let at = renamed
        .windows("投标文件".len())
        .position(|w| w == "投标文件".as_bytes())
        .expect("file name in header");
    renamed[at] ^= 0x01;
    std::fs::write(&path, &renamed).expect("write");
    let failed = w
        .staff
        .self_check_bid_file(&path, PIN)
        .await
        .expect("checked")
        .expect_err("a changed header fails the self-check");
    assert!(!failed.zh.is_empty() && !failed.en.is_empty(), "{failed:?}");
    // A truncated upload.
    std::fs::write(&path, &file[..file.len() - 10]).expect("write");
    let failed = w
        .staff
        .self_check_bid_file(&path, PIN)
        .await
        .expect("checked")
        .expect_err("a truncated upload fails the self-check");
    assert!(
        failed.en.contains("damaged") || failed.en.contains("incomplete"),
        "{failed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_self_check_passes_on_the_upload_and_names_damage_on_sqlite() {
    the_self_check_passes_on_the_upload_and_names_damage(Store::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_self_check_passes_on_the_upload_and_names_damage_on_postgres() {
    the_self_check_passes_on_the_upload_and_names_damage(Store::Postgres).await;
}

/// A platform client signed with `p`'s key on the server's (test) clock.
fn signed_api(w: &World, p: &RegisteredPlatform) -> PlatformClient {
    api(&w.server)
        .signed_by(std::sync::Arc::new(PlatformKey::Sm2(p.key_copy())))
        .with_clock(w.server.unix_clock())
}

fn refusal(e: bidkey_platform::PlatformError) -> String {
    match e {
        bidkey_platform::PlatformError::Server(m) => m,
        other => panic!("a server refusal expected, got {other:?}"),
    }
}

/// 预授权开标: the bidder authorises the opening of one file, then its phone is offline;
/// the platform gets the key only at the opening time by the server's clock, only for that
/// file and only for itself; the bidder sees the release; a withdrawn one opens nothing.
async fn a_preauthorised_bid_opens_without_the_phone(store: Store) {
    let w = world(store).await;
    let clock = w.server.running.state.clock.clone();
    // Stopped, so the release time the bidder sees is exactly the clock's reading, however
    // long the test runs (time moves only by `advance`).
    clock.freeze();
    let plain: Vec<u8> = (0..90_000u32).map(|i| (i % 233) as u8).collect();
    let file = encrypted_bid(&w, &plain).await;
    let other = encrypted_bid(&w, b"another bid").await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bid.bid");
    std::fs::write(&path, &file).expect("write");
    let opening_at = clock.now() + 3600;
    let deposit = w
        .staff
        .preauthorize_opening(&path, PIN, opening_at)
        .await
        .expect("pre-authorised");
    assert_eq!(deposit.opening_at, opening_at);
    assert_eq!(deposit.tender_id, TENDER);
    // K2 is not in the database in clear: sealed under a key from the CA key file.
    let id = deposit.id.clone();
    let stored = w
        .server
        .running
        .state
        .db
        .read(move |tx| {
            let r = tx.query_opt(
                "SELECT k2 FROM preauths WHERE id = $1",
                &[bidkey_server::db::Value::Text(id.clone())],
            )?;
            Ok::<_, bidkey_server::db::DbError>(r.map(|r| r.bytes(0)))
        })
        .await
        .expect("read")
        .expect("row")
        .expect("bytes");
    assert!(stored.len() > 16, "K2 stored sealed, not as its 16 bytes");
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    let other_header = BidFileHeader::read_from(&mut &other[..]).expect("header");
    let key = w.client.request_key();
    let pid = w.platform.platform.id.clone();
    let me = signed_api(&w, &w.platform);

    // From here on the bidder's phone is not used: it is offline at the opening.
    // Before the opening by the server's clock: refused, whatever any other clock says.
    let early = bidkey_platform::preauth::released_key(&me, &key, &pid, &header)
        .await
        .expect_err("too early");
    assert!(refusal(early).starts_with("TooEarly"));
    clock.advance(3600);
    // Another file of the same bidder was not pre-authorised.
    let err = bidkey_platform::preauth::released_key(&me, &key, &pid, &other_header)
        .await
        .expect_err("another file");
    assert!(refusal(err).starts_with("NotFound"));
    // Another platform gets nothing: not under its own id, not under this one's.
    let other_platform =
        registered_platform(&w.server, "另一交易平台", "https://other.example.invalid").await;
    let them = signed_api(&w, &other_platform);
    let err = bidkey_platform::preauth::released_key(
        &them,
        &PlatformKey::Sm2(other_platform.key_copy()),
        &other_platform.platform.id,
        &header,
    )
    .await
    .expect_err("another platform");
    assert!(refusal(err).starts_with("NotFound"));
    let err = bidkey_platform::preauth::released_key(
        &them,
        &PlatformKey::Sm2(other_platform.key_copy()),
        &pid,
        &header,
    )
    .await
    .expect_err("posing as this platform");
    assert!(refusal(err).starts_with("Unauthorized"));
    // The opening: the platform alone opens the bid.
    let k = bidkey_platform::preauth::released_key(&me, &key, &pid, &header)
        .await
        .expect("released at the opening");
    let mut opened = Vec::new();
    bidfile::decrypt(&k, &mut &file[..], &mut opened, &mut |_, _| {}).expect("opens");
    assert_eq!(opened, plain);
    // The bidder sees the release afterwards.
    let seen = w.staff.preauthorizations().await.expect("list");
    let record = seen.iter().find(|p| p.id == deposit.id).expect("record");
    assert_eq!(record.released_at, Some(clock.now()));
    // Too late to withdraw now.
    assert!(
        w.staff
            .withdraw_preauthorization(&deposit.id)
            .await
            .is_err()
    );

    // A second file, pre-authorised and then withdrawn before its opening: nothing opens it.
    std::fs::write(&path, &other).expect("write");
    let second_at = clock.now() + 600;
    let second = w
        .staff
        .preauthorize_opening(&path, PIN, second_at)
        .await
        .expect("pre-authorised");
    let withdrawn = w
        .staff
        .withdraw_preauthorization(&second.id)
        .await
        .expect("withdrawn");
    assert!(withdrawn.withdrawn_at.is_some());
    clock.advance(600);
    let err = bidkey_platform::preauth::released_key(&me, &key, &pid, &other_header)
        .await
        .expect_err("withdrawn");
    assert!(refusal(err).starts_with("InvalidState"));
    // Someone else cannot withdraw or see it.
    assert!(w.admin.preauthorizations().await.expect("list").is_empty());
    // A deposit after the opening time is refused: then the bidder scans.
    assert!(
        w.staff
            .preauthorize_opening(&path, PIN, clock.now() - 1)
            .await
            .is_err()
    );
}

/// 预授权 of a 2-of-3 bid: each share holder pre-authorises their own share; the server
/// releases the shares only once two holders have, at the opening time by its clock, and
/// the platform opens the bid with every phone offline. With one pre-authorisation only,
/// nothing is released and the hall says why in words.
async fn two_of_three_preauthorise_a_two_of_three_bid(store: Store) {
    let w = world_of(store, true).await;
    let clock = w.server.running.state.clock.clone();
    // Stopped, so the release time the bidder sees is exactly the clock's reading, however
    // long the test runs (time moves only by `advance`).
    clock.freeze();
    let plain: Vec<u8> = (0..50_000u32).map(|i| (i % 239) as u8).collect();
    let file = encrypted_bid_k(&w, &plain, Some(2)).await;
    let lonely = encrypted_bid_k(&w, b"a bid only one holder pre-authorises", Some(2)).await;
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    let lonely_header = BidFileHeader::read_from(&mut &lonely[..]).expect("header");
    let dir = tempfile::tempdir().expect("dir");
    let (path, lonely_path) = (dir.path().join("bid.bid"), dir.path().join("lonely.bid"));
    std::fs::write(&path, &file).expect("write");
    std::fs::write(&lonely_path, &lonely).expect("write");
    let opening_at = clock.now() + 3600;
    let (third, third_serial) = w.third.as_ref().expect("third member");
    let by_staff = w
        .staff
        .preauthorize_opening(&path, PIN, opening_at)
        .await
        .expect("staff pre-authorises their share");
    assert_eq!(
        by_staff.share_of.as_deref(),
        Some(w.team.staff_pair.encryption_serial.as_str())
    );
    let by_third = third
        .preauthorize_opening(&path, PIN, opening_at)
        .await
        .expect("the third member pre-authorises theirs");
    assert_eq!(by_third.share_of.as_deref(), Some(third_serial.as_str()));
    w.staff
        .preauthorize_opening(&lonely_path, PIN, opening_at)
        .await
        .expect("one holder only");
    let key = w.client.request_key();
    let pid = w.platform.platform.id.clone();
    let me = signed_api(&w, &w.platform);
    let binding = hex::encode(header.binding_hash().expect("hash"));
    let state = me.preauth_state(&pid, &binding).await.expect("state");
    assert_eq!(
        (
            state.live,
            state.threshold,
            state.opening_at,
            state.released_at
        ),
        (2, 2, Some(opening_at), None)
    );

    // Every phone is offline from here. Before the opening: nothing, by the server's clock.
    let early = bidkey_platform::preauth::released_key(&me, &key, &pid, &header)
        .await
        .expect_err("too early");
    assert!(refusal(early).starts_with("TooEarly"));
    clock.advance(3600);
    // Another platform gets nothing.
    let other_platform =
        registered_platform(&w.server, "另一交易平台", "https://other.example.invalid").await;
    let err = bidkey_platform::preauth::released_key(
        &signed_api(&w, &other_platform),
        &PlatformKey::Sm2(other_platform.key_copy()),
        &other_platform.platform.id,
        &header,
    )
    .await
    .expect_err("another platform");
    assert!(refusal(err).starts_with("NotFound"));
    // One pre-authorisation of two: not openable, and nothing was handed out.
    let err = bidkey_platform::preauth::released_key(&me, &key, &pid, &lonely_header)
        .await
        .expect_err("one of two");
    assert!(
        matches!(
            err,
            bidkey_platform::PlatformError::NotEnoughPreauths { have: 1, need: 2 }
        ),
        "{err:?}"
    );
    let words = bidkey_platform::opening::failure_words(&err);
    assert!(words.zh.contains("只有 1 位授权人员预授权"), "{words:?}");
    let lonely_binding = hex::encode(lonely_header.binding_hash().expect("hash"));
    let lonely_state = me
        .preauth_state(&pid, &lonely_binding)
        .await
        .expect("state");
    assert_eq!((lonely_state.live, lonely_state.released_at), (1, None));
    // The whole-key release does not hand out a share as if it were the key.
    let err = me
        .preauth_release(&pid, &binding)
        .await
        .expect_err("a share is not the key");
    assert!(refusal(err).starts_with("NotFound"));
    // Two of three: the platform alone opens the bid.
    let k = bidkey_platform::preauth::released_key(&me, &key, &pid, &header)
        .await
        .expect("released at the opening");
    let mut opened = Vec::new();
    bidfile::decrypt(&k, &mut &file[..], &mut opened, &mut |_, _| {}).expect("opens");
    assert_eq!(opened, plain);
    // Each holder sees their own share released.
    let seen = w.staff.preauthorizations().await.expect("list");
    let record = seen.iter().find(|p| p.id == by_staff.id).expect("record");
    assert_eq!(record.released_at, Some(clock.now()));
    let seen = third.preauthorizations().await.expect("list");
    let record = seen.iter().find(|p| p.id == by_third.id).expect("record");
    assert_eq!(record.released_at, Some(clock.now()));
    let state = me.preauth_state(&pid, &binding).await.expect("state");
    assert_eq!(state.released_at, Some(clock.now()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_preauthorise_a_two_of_three_bid_on_sqlite() {
    two_of_three_preauthorise_a_two_of_three_bid(Store::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_preauthorise_a_two_of_three_bid_on_postgres() {
    two_of_three_preauthorise_a_two_of_three_bid(Store::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preauthorised_bid_opens_without_the_phone_on_sqlite() {
    a_preauthorised_bid_opens_without_the_phone(Store::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preauthorised_bid_opens_without_the_phone_on_postgres() {
    a_preauthorised_bid_opens_without_the_phone(Store::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_members_open_a_two_of_three_bid_on_sqlite() {
    two_of_three_members_open_a_two_of_three_bid(Store::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_members_open_a_two_of_three_bid_on_postgres() {
    two_of_three_members_open_a_two_of_three_bid(Store::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_granted_member_opens_and_a_removed_one_no_longer_can_on_sqlite() {
    any_granted_member_opens_and_a_removed_one_no_longer_can(Store::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_granted_member_opens_and_a_removed_one_no_longer_can_on_postgres() {
    any_granted_member_opens_and_a_removed_one_no_longer_can(Store::Postgres).await;
}

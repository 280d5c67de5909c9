//! The `bidkey` binary end to end against a real server on loopback: sign-up, real-name,
//! a personal certificate (apply, operator approval, sandbox payment, enrol with a PIN from
//! stdin), lists as JSON and tables, wrong PINs and their exit code, two wallets side by
//! side, and an enterprise verified by micro-payment.

mod support;

use bidkey_testkit::{Store, TestServer};
use support::*;

const WRONG_PIN_EXIT: i32 = 4;
const NOT_LOGGED_IN_EXIT: i32 = 3;
const INVALID_INPUT_EXIT: i32 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_certificate_and_wrong_pins() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let phone = Phone::new(&server, dir.path());

    // No server there: a network error, exit 6.
    let offline = Phone {
        url: "http://127.0.0.1:9".into(),
        wallet: dir.path().to_path_buf(),
    };
    let r = offline.json(&["platforms", "list"], None);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert_eq!(r.err()["kind"], "network");

    // A usage error in --json mode is JSON too (exit 2).
    let r = phone.json(&["certs", "no-such-command"], None);
    assert_eq!(r.code, 2);
    let e = r.err();
    assert_eq!(e["kind"], "usage");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("no-such-command")),
        "{e}"
    );

    // Before login: a clear error and its exit code, as JSON on stderr.
    let r = phone.json(&["certs", "apply"], None);
    assert_eq!(r.code, NOT_LOGGED_IN_EXIT);
    assert_eq!(r.err()["kind"], "not_logged_in");

    let account = registered(&server, &phone, "13800138000", "张三", &id_number(1)).await;
    assert_eq!(account["real_name"], "张三");
    assert_eq!(account["phone_masked"], "138****8000");
    let me = phone.json(&["account", "whoami"], None).ok();
    assert_eq!(me["id"], account["id"]);

    let pair = personal_certificate(&server, &phone).await;
    let signing = pair["signing_serial"].as_str().expect("serial").to_owned();
    let encryption = pair["encryption_serial"]
        .as_str()
        .expect("serial")
        .to_owned();

    // The server's lists, parsed from --json.
    let list = phone.json(&["certs", "list"], None).ok();
    let in_force = list["in_force"].as_array().expect("in_force");
    assert_eq!(in_force.len(), 1, "{list}");
    assert_eq!(in_force[0]["signing"]["serial"], signing.as_str());
    assert_eq!(in_force[0]["encryption"]["serial"], encryption.as_str());
    assert_eq!(in_force[0]["this_device"], true);
    // The wallet's own list.
    let local = phone.json(&["certs", "list", "--local"], None).ok();
    let serials: Vec<&str> = local
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["serial"].as_str())
        .collect();
    assert!(serials.contains(&signing.as_str()) && serials.contains(&encryption.as_str()));
    // For people: a table with the serial in it.
    let table = phone.human(&["certs", "list"], None);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(
        table.stdout.contains("In force") && table.stdout.contains(&signing),
        "{}",
        table.stdout
    );

    // Signing with the right PIN from stdin gives a DER signature.
    let sig = phone
        .json(
            &["certs", "sign", &signing, "--message", "bid", "--pin-stdin"],
            Some(&format!("{PIN}\n")),
        )
        .ok();
    assert!(
        sig["signature_der_hex"]
            .as_str()
            .is_some_and(|h| h.starts_with("30"))
    );

    // A bid file's key encrypted to the exported encryption certificate opens by
    // co-decryption, into a file only the owner can read.
    let exported = phone.json(&["certs", "export", &encryption], None).ok();
    let cert = bidkey_crypto::x509::Cert::from_pem(exported["pem"].as_str().expect("pem"))
        .expect("certificate parses");
    let ct = bidkey_crypto::sm2::encrypt_der(&cert.sm2_public_key().expect("key"), b"file key 42")
        .expect("encrypted");
    let (ct_path, pt_path) = (dir.path().join("key.der"), dir.path().join("key.bin"));
    std::fs::write(&ct_path, ct).expect("write");
    phone
        .json(
            &[
                "certs",
                "decrypt",
                &encryption,
                "--in",
                ct_path.to_str().expect("path"),
                "--out",
                pt_path.to_str().expect("path"),
                "--pin-stdin",
            ],
            Some(&format!("{PIN}\n")),
        )
        .ok();
    assert_eq!(std::fs::read(&pt_path).expect("plaintext"), b"file key 42");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&pt_path)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A wrong PIN: exit code 4, the tries left, in JSON and for people.
    let r = phone.json(
        &["certs", "sign", &signing, "--message", "bid", "--pin-stdin"],
        Some("000000\n"),
    );
    assert_eq!(r.code, WRONG_PIN_EXIT, "{}", r.stderr);
    let e = r.err();
    assert_eq!(e["kind"], "wrong_pin");
    assert_eq!(e["code"], "wrong_pin");
    assert_eq!(e["tries_left"], 4);
    let r = phone.human(
        &["certs", "sign", &signing, "--message", "bid", "--pin-stdin"],
        Some("000000\n"),
    );
    assert_eq!(r.code, WRONG_PIN_EXIT);
    assert!(r.stderr.contains("Wrong PIN: 3 tries left"), "{}", r.stderr);
    // A PIN change with a wrong old PIN is refused the same way.
    let r = phone.json(
        &["certs", "change-pin", "--pin-stdin"],
        Some("999999\n654321\n"),
    );
    assert_eq!(r.code, WRONG_PIN_EXIT, "{}", r.stderr);
    assert_eq!(r.err()["tries_left"], 2);
    // The right PIN still works and resets nothing it should not.
    phone
        .json(
            &["certs", "change-pin", "--pin-stdin"],
            Some(&format!("{PIN}\n654321\n")),
        )
        .ok();
    phone
        .json(
            &["certs", "sign", &signing, "--message", "bid", "--pin-stdin"],
            Some("654321\n"),
        )
        .ok();

    // A malformed PIN never reaches the server.
    let r = phone.json(&["certs", "enrol", "abc", "--pin-stdin"], Some("12\n"));
    assert_eq!(r.code, INVALID_INPUT_EXIT, "{}", r.stderr);

    // Revocation asks for confirmation; without --yes a script gets "not confirmed".
    let r = phone.json(
        &["certs", "revoke", &signing, "--pin-stdin"],
        Some("654321\n"),
    );
    assert_eq!(r.err()["kind"], "not_confirmed");
    let change = phone
        .json(
            &["certs", "revoke", &signing, "--yes", "--pin-stdin"],
            Some("654321\n"),
        )
        .ok();
    assert_eq!(change["state"], "revoked", "{change}");
    let list = phone.json(&["certs", "list"], None).ok();
    assert!(list["in_force"].as_array().expect("array").is_empty());

    phone.json(&["account", "logout"], None).ok();
    let r = phone.json(&["account", "whoami"], None);
    assert_eq!(r.code, NOT_LOGGED_IN_EXIT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_wallets_side_by_side() {
    let server = TestServer::start(Store::Sqlite).await;
    let (a_dir, b_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = Phone::new(&server, a_dir.path());
    let b = Phone::new(&server, b_dir.path());
    let alice = registered(&server, &a, "13900000001", "王五", &id_number(2)).await;
    let bob = registered(&server, &b, "13900000002", "赵六", &id_number(3)).await;
    assert_ne!(alice["id"], bob["id"]);

    // Each wallet keeps its own login and keys.
    assert_eq!(a.json(&["account", "whoami"], None).ok()["id"], alice["id"]);
    assert_eq!(b.json(&["account", "whoami"], None).ok()["id"], bob["id"]);
    let pair = personal_certificate(&server, &a).await;
    let local_a = a.json(&["certs", "list", "--local"], None).ok();
    let local_b = b.json(&["certs", "list", "--local"], None).ok();
    assert_eq!(local_a.as_array().expect("array").len(), 2);
    assert!(local_b.as_array().expect("array").is_empty());
    // B cannot use A's key: it is not in B's wallet.
    let r = b.json(
        &[
            "certs",
            "sign",
            pair["signing_serial"].as_str().expect("serial"),
            "--message",
            "x",
            "--pin-stdin",
        ],
        Some(&format!("{PIN}\n")),
    );
    assert_ne!(r.code, 0);

    // The key file that seals A's wallet is private to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let keys: Vec<_> = std::fs::read_dir(a_dir.path())
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("keystore-"))
            .collect();
        assert!(!keys.is_empty());
        for k in keys {
            let mode = k.metadata().expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{:?}", k.path());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enterprise_by_micropayment_then_admin() {
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    let phone = Phone::new(&server, dir.path());
    registered(&server, &phone, "13700000001", "孙七", &id_number(4)).await;

    let uscc = valid_uscc(7);
    // The same code with another check character is refused before any request.
    let last = if uscc.ends_with('0') { "1" } else { "0" };
    let bad = format!("{}{last}", &uscc[..17]);
    let r = phone.json(&["enterprise", "search", &bad], None);
    assert_eq!(r.code, INVALID_INPUT_EXIT, "{}", r.stderr);
    let found = phone.json(&["enterprise", "search", &uscc], None).ok();
    assert_eq!(found["by"], "uscc", "{found}");
    let mp = phone
        .json(
            &[
                "enterprise",
                "micropay",
                "request",
                "--uscc",
                &uscc,
                "--name",
                "宿迁演示建设有限公司",
                "--account-last6",
                "123456",
            ],
            None,
        )
        .ok();
    assert_eq!(mp["status"], "pending");
    let human = phone.human(
        &[
            "enterprise",
            "micropay",
            "status",
            mp["id"].as_str().expect("id"),
        ],
        None,
    );
    assert!(
        human
            .stdout
            .contains(mp["reference"].as_str().expect("ref")),
        "{}",
        human.stdout
    );

    bank_credit(
        &server,
        "宿迁演示建设有限公司",
        "txn-1",
        "123456",
        mp["amount_fen"].as_i64().expect("amount"),
        mp["reference"].as_str().expect("ref"),
    )
    .await;
    let done = phone
        .json(
            &[
                "enterprise",
                "micropay",
                "status",
                mp["id"].as_str().expect("id"),
                "--wait",
            ],
            None,
        )
        .ok();
    assert_eq!(done["status"], "matched", "{done}");
    assert_eq!(done["role"], "admin");

    let mine = phone.json(&["enterprise", "mine"], None).ok();
    let eid = mine[0]["id"].as_str().expect("enterprise id").to_owned();
    assert_eq!(mine[0]["my_role"], "admin");
    let staff = phone.json(&["admin", "staff", "list", &eid], None).ok();
    assert_eq!(staff.as_array().expect("array").len(), 1);
    assert_eq!(staff[0]["role"], "admin");

    // Seals: add a PNG, list, rename, delete.
    let png = dir.path().join("seal.png");
    std::fs::write(&png, tiny_png()).expect("png");
    let added = phone
        .json(
            &[
                "admin",
                "seals",
                "add",
                &eid,
                "--name",
                "公章",
                "--image",
                png.to_str().expect("path"),
                "--seal-type",
                "3",
                "--size-mm",
                "42x38",
            ],
            None,
        )
        .ok();
    let seal = added[0]["id"].as_str().expect("seal id").to_owned();
    // An electronic seal waiting for the CA: type and printed size as given.
    assert_eq!(added[0]["status"], "pending");
    assert_eq!(
        (
            added[0]["seal_type"].as_u64(),
            added[0]["width_mm"].as_u64(),
            added[0]["height_mm"].as_u64()
        ),
        (Some(3), Some(42), Some(38))
    );
    phone
        .json(&["admin", "seals", "rename", &eid, &seal, "合同章"], None)
        .ok();
    let seals = phone.json(&["admin", "seals", "list", &eid], None).ok();
    assert_eq!(seals[0]["name"], "合同章");
    let revoked = phone
        .json(&["admin", "seals", "revoke", &eid, &seal], None)
        .ok();
    assert_eq!(revoked[0]["status"], "revoked");
    phone
        .json(&["admin", "seals", "delete", &eid, &seal], None)
        .ok();
    let seals = phone.json(&["admin", "seals", "list", &eid], None).ok();
    assert!(seals.as_array().expect("array").is_empty());
}

/// Feed one bank statement line through the signed webhook, as the bank does.
async fn bank_credit(
    server: &TestServer,
    payer_name: &str,
    txn: &str,
    last6: &str,
    amount_fen: i64,
    reference: &str,
) {
    let key = std::fs::read(server.data_dir.path().join("bank-webhook.key")).expect("key file");
    let ts = server.running.state.clock.now();
    let body = serde_json::json!({ "transactions": [{
        "bank_txn_id": txn,
        "booked_at": ts,
        "payer_account": format!("6222020200001{last6}"),
        "payer_name": payer_name,
        "amount_fen": amount_fen,
        "reference": reference,
    }]})
    .to_string()
    .into_bytes();
    let sig = bidkey_server::bank::sign(&key, ts, &body);
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/bank/webhook", server.url()))
        .header("content-type", "application/json")
        .header("x-bidkey-timestamp", ts.to_string())
        .header("x-bidkey-signature", sig)
        .body(body)
        .send()
        .await
        .expect("server reachable");
    assert!(resp.status().is_success(), "webhook: {}", resp.status());
}

/// A unified social credit code with a correct GB 32100 check character.
fn valid_uscc(seq: u32) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let body = format!("91320000{seq:09}");
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(c, w)| ALPHABET.iter().position(|&a| a == c).expect("alphabet") as u32 * w)
        .sum();
    format!(
        "{body}{}",
        char::from(ALPHABET[((31 - sum % 31) % 31) as usize])
    )
}

/// A small PNG the server accepts (signature, IHDR, IEND).
fn tiny_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&64u32.to_be_bytes());
    png.extend_from_slice(&64u32.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    png.extend_from_slice(b"\0\0\0\0IEND\xAE\x42\x60\x82");
    png
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_join_grant_zone_and_transfer() {
    let server = TestServer::start(Store::Sqlite).await;
    let (a_dir, b_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = Phone::new(&server, a_dir.path());
    let b = Phone::new(&server, b_dir.path());
    let a_id = registered(&server, &a, "13600000001", "周八", &id_number(5)).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let b_id = registered(&server, &b, "13600000002", "吴九", &id_number(6)).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (uscc, name) = (valid_uscc(11), "重庆演示科技有限公司");

    // A claims with the licence as a PNG file, is approved, pays and enrols.
    let licence = a_dir.path().join("营业执照.png");
    std::fs::write(&licence, tiny_png()).expect("png");
    let claim = a
        .json(
            &[
                "enterprise",
                "claim",
                "--uscc",
                &uscc,
                "--name",
                name,
                "--legal-rep",
                "周八",
                "--material",
                licence.to_str().expect("path"),
            ],
            None,
        )
        .ok();
    assert_eq!(claim["kind"], "claim");
    let eid = claim["enterprise_id"].as_str().expect("eid").to_owned();
    approve_pay_enrol(&server, &a, &claim).await;
    let info = a.json(&["enterprise", "show", &eid], None).ok();
    assert_eq!(
        (info["my_role"].as_str(), info["claimed"].as_bool()),
        (Some("admin"), Some(true))
    );

    // B finds it by name and joins; A approves in the CLI, then the CA.
    let found = b.json(&["enterprise", "search", "演示科技"], None).ok();
    assert_eq!(found["by"], "name");
    assert!(
        found["results"][0]["actions"]
            .as_array()
            .expect("actions")
            .contains(&serde_json::json!("join"))
    );
    let join = b.json(&["enterprise", "join", &eid], None).ok();
    assert_eq!(join["status"], "pending_admin");
    let waiting = a.json(&["admin", "staff", "requests", &eid], None).ok();
    assert_eq!(waiting[0]["account_id"], b_id.as_str());
    let join_id = join["id"].as_str().expect("id");
    let approved = a
        .json(&["admin", "staff", "approve", &eid, join_id], None)
        .ok();
    assert_eq!(approved["status"], "pending_review");
    approve_pay_enrol(&server, &b, &approved).await;
    // Staff may not administer.
    let r = b.json(&["admin", "staff", "remove", &eid, &a_id], None);
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert_eq!(r.err()["code"], "not_admin");

    // A platform listing the enterprise; nearest first, chosen, granted, a zone.
    let p = operator(
        &server,
        reqwest::Method::POST,
        "/v1/operator/platforms",
        serde_json::json!({ "name": "重庆市公共资源交易中心", "origin": "https://ggzy.cq.example.invalid",
            "region": "重庆", "latitude": 29.56, "longitude": 106.55 }),
    )
    .await;
    let pid = p["id"].as_str().expect("platform id").to_owned();
    operator(
        &server,
        reqwest::Method::PUT,
        &format!("/v1/operator/platforms/{pid}/directory"),
        serde_json::json!({ "entries": [{ "uscc": uscc, "name": name }] }),
    )
    .await;
    let near = a
        .json(&["platforms", "list", "--near", "29.5,106.5"], None)
        .ok();
    assert_eq!(near[0]["id"], pid.as_str());
    assert!(near[0]["distance_km"].as_f64().is_some_and(|d| d < 20.0));
    a.json(&["platforms", "select", &pid], None).ok();
    assert_eq!(
        a.json(&["platforms", "current"], None).ok()[0]["id"],
        pid.as_str()
    );
    let grant = a
        .json(
            &[
                "admin",
                "grants",
                "grant",
                &eid,
                "--account",
                &b_id,
                "--platform",
                &pid,
            ],
            None,
        )
        .ok();
    let grants = a
        .json(&["admin", "grants", "list", &eid, "--platform", &pid], None)
        .ok();
    assert_eq!(grants[0]["id"], grant["id"]);
    a.json(
        &[
            "admin",
            "grants",
            "revoke",
            &eid,
            grant["id"].as_str().expect("id"),
        ],
        None,
    )
    .ok();
    let current = a.json(&["admin", "grants", "list", &eid], None).ok();
    assert!(current.as_array().expect("array").is_empty());
    let history = a
        .json(&["admin", "grants", "list", &eid, "--all"], None)
        .ok();
    assert!(history[0]["revoked_at"].is_i64());
    let zones = a.json(&["admin", "zones", "bind", &eid, &pid], None).ok();
    assert_eq!(zones[0]["platform_id"], pid.as_str());

    // Handing over the admin role needs --yes; then B is the admin.
    let r = a.json(&["admin", "transfer", &eid, &b_id], None);
    assert_eq!(r.err()["kind"], "not_confirmed");
    let members = a
        .json(&["admin", "transfer", &eid, &b_id, "--yes"], None)
        .ok();
    let role_of = |id: &str| {
        members
            .as_array()
            .expect("array")
            .iter()
            .find(|m| m["account_id"] == id)
            .map(|m| m["role"].clone())
    };
    assert_eq!(role_of(&b_id), Some(serde_json::json!("admin")));
    assert_eq!(role_of(&a_id), Some(serde_json::json!("staff")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_unlock_password_loss_report_and_recovery() {
    const KEY_LOCKED_EXIT: i32 = 5;
    const REFUSED_EXIT: i32 = 7;
    let server = TestServer::start(Store::Sqlite).await;
    let (a_dir, b_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let a = Phone::new(&server, a_dir.path());
    let number = "13500000001";
    let id = id_number(8);
    registered(&server, &a, number, "郑十", &id).await;
    let pair = personal_certificate(&server, &a).await;
    let signing = pair["signing_serial"].as_str().expect("serial").to_owned();
    let encryption = pair["encryption_serial"]
        .as_str()
        .expect("serial")
        .to_owned();
    let sign = |phone: &Phone, pin: &str| {
        phone.json(
            &["certs", "sign", &signing, "--message", "x", "--pin-stdin"],
            Some(&format!("{pin}\n")),
        )
    };

    // Five wrong PINs lock the key (exit 5), even for the right PIN, until unlocked.
    for _ in 0..4 {
        assert_eq!(sign(&a, "111111").code, WRONG_PIN_EXIT);
    }
    let r = sign(&a, "111111");
    assert_eq!(r.code, KEY_LOCKED_EXIT, "{}", r.stderr);
    assert_eq!(r.err()["kind"], "key_locked");
    assert_eq!(sign(&a, PIN).code, KEY_LOCKED_EXIT);
    let code = sms(&server, &a, number, "unlock").await;
    let unlocked = a
        .json(
            &[
                "certs",
                "unlock",
                &signing,
                "--name",
                "郑十",
                "--id-number",
                &id,
                "--code",
                &code,
            ],
            None,
        )
        .ok();
    assert_eq!(unlocked["key_locked"], false, "{unlocked}");
    sign(&a, PIN).ok();

    // A password, then a password login with it from stdin.
    a.json(
        &["account", "password", "set", "--pin-stdin"],
        Some("correct horse 1\n"),
    )
    .ok();
    a.json(&["account", "logout"], None).ok();
    let r = a.json(
        &["account", "login", "--phone", number, "--pin-stdin"],
        Some("wrong password\n"),
    );
    assert_eq!(r.code, REFUSED_EXIT, "{}", r.stderr);
    let me = a
        .json(
            &["account", "login", "--phone", number, "--pin-stdin"],
            Some("correct horse 1\n"),
        )
        .ok();
    assert_eq!(me["has_password"], true);

    // The phone is lost: a second wallet reports the loss without logging in.
    let b = Phone::new(&server, b_dir.path());
    let code = sms(&server, &b, number, "loss-report").await;
    let change = b
        .json(
            &["certs", "report-loss", "--phone", number, "--code", &code],
            None,
        )
        .ok();
    assert_eq!(change["state"], "suspended", "{change}");
    let r = sign(&a, PIN);
    assert_eq!(r.code, REFUSED_EXIT);
    assert_eq!(r.err()["code"], "certificate_suspended");

    // Recovery onto the second wallet: held for review and a cooling-off, which the old
    // wallet (still logged in) can cancel.
    let code = sms(&server, &b, number, "login").await;
    b.json(
        &["account", "login", "--phone", number, "--code", &code],
        None,
    )
    .ok();
    let recover = |code: &str| {
        b.json(
            &[
                "certs",
                "recover",
                "--name",
                "郑十",
                "--id-number",
                &id,
                "--code",
                code,
            ],
            None,
        )
        .ok()
    };
    let code = sms(&server, &b, number, "recover").await;
    let app = recover(&code);
    assert_eq!(app["status"], "pending_review", "{app}");
    assert!(app["not_before"].as_i64().is_some(), "{app}");
    let app_id = app["id"].as_str().expect("id");
    let cancelled = a.json(&["certs", "cancel-recovery", app_id], None).ok();
    assert_eq!(cancelled["status"], "closed", "{cancelled}");
    let human = a.human(&["certs", "application", app_id], None);
    assert!(human.stdout.contains("cancelled"), "{}", human.stdout);

    // Asked again and left alone, it is approved after the cooling-off and brings the old
    // encryption key back.
    let code = sms(&server, &b, number, "recover").await;
    let app = recover(&code);
    let human = b.human(
        &["certs", "application", app["id"].as_str().expect("id")],
        None,
    );
    assert!(
        human.stdout.contains("Cooling-off until"),
        "{}",
        human.stdout
    );
    approve_pay_enrol(&server, &b, &app).await;
    let local = b.json(&["certs", "list", "--local"], None).ok();
    assert!(
        local
            .as_array()
            .expect("array")
            .iter()
            .any(|c| c["serial"] == encryption.as_str()),
        "{local}"
    );
}

/// `bidkey certs enrol APP` again finishes an enrolment whose answer was lost after the
/// server issued (issue 12): the resumed run asks the existing PIN once, and the pair signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_enrolment_resumes_with_enrol_again() {
    use bidkey_testkit::faults::{Fault, FaultProxy, When};
    let server = TestServer::start(Store::Sqlite).await;
    let proxy = FaultProxy::start(server.running.addr).await;
    let dir = tempfile::tempdir().expect("dir");
    let phone = Phone {
        url: proxy.url(),
        wallet: dir.path().to_path_buf(),
    };
    registered(&server, &phone, "13500000001", "郑十", &id_number(7)).await;
    let app = phone.json(&["certs", "apply"], None).ok();
    let id = app["id"].as_str().expect("application id").to_owned();
    if app["status"] == "pending_review" {
        operator_approves(&server, &id).await;
    }
    let app = phone.json(&["certs", "application", &id], None).ok();
    let order = app["order"]["id"].as_str().expect("order id").to_owned();
    phone.json(&["certs", "pay", &order], None).ok();

    // The server issues, and the answer is lost on the way back.
    proxy.arm(Fault {
        method: "POST".into(),
        path: "/v1/enrollments/*/finish".into(),
        ordinal: 1,
        when: When::After,
    });
    let r = phone.json(
        &["certs", "enrol", &id, "--pin-stdin"],
        Some(&format!("{PIN}\n")),
    );
    assert!(proxy.disarm().is_some(), "the fault struck");
    assert_eq!(r.err()["kind"], "network", "{}", r.stderr);

    // Enrol again: resumed, not refused as `invalid_state`.
    let pair = phone
        .json(
            &["certs", "enrol", &id, "--pin-stdin"],
            Some(&format!("{PIN}\n")),
        )
        .ok();
    let signing = pair["signing_serial"].as_str().expect("serial").to_owned();
    phone
        .json(
            &["certs", "sign", &signing, "--message", "bid", "--pin-stdin"],
            Some(&format!("{PIN}\n")),
        )
        .ok();
    let list = phone.json(&["certs", "list"], None).ok();
    assert_eq!(list["in_force"].as_array().expect("in_force").len(), 1);
    assert_eq!(list["in_force"][0]["pin_tries_left"], 5, "{list}");
}

//! The gateway end to end, as a platform in another language uses it: plain HTTP + JSON
//! against a gateway holding the platform's key, in front of a real Bidkey server on
//! loopback, with the bidder's phone driven through the core. QR login, signing, a sealed
//! PDF, a bid file encrypted and opened at the bid opening, verification, and a signed
//! webhook. Every JSON answer is checked against `gateway/openapi.yaml`.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::Method;
use serde_json::{Value, json};
use support::schema::{self, answer_conforms};
use support::*;

/// Long-poll a scan until it is no longer pending or scanned.
async fn result(api: &Api, doc: &Value, id: &str) -> Value {
    loop {
        let path = format!("/v1/scans/{id}?wait=30");
        let (status, v) = api.json(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{v}");
        answer_conforms(doc, "GET", "/v1/scans/{id}", 200, &v);
        if v["status"] != "pending" && v["status"] != "scanned" {
            return v;
        }
    }
}

async fn create(api: &Api, doc: &Value, body: Value) -> Value {
    let (status, v) = api.json(Method::POST, "/v1/scans", Some(&body)).await;
    assert_eq!(status, 201, "{v}");
    answer_conforms(doc, "POST", "/v1/scans", 201, &v);
    assert_eq!(v["status"], "pending");
    v
}

/// The QR code's text now, as the platform's page shows it.
async fn qr(api: &Api, doc: &Value, id: &str) -> String {
    let (status, v) = api
        .json(Method::GET, &format!("/v1/scans/{id}/qr"), None)
        .await;
    assert_eq!(status, 200, "{v}");
    answer_conforms(doc, "GET", "/v1/scans/{id}/qr", 200, &v);
    v["uri"].as_str().expect("uri").to_owned()
}

/// The phone scans the QR code and confirms with its PIN.
async fn phone_confirms(w: &World, uri: &str) -> bidkey_core::flows::scan::ScanView {
    let view = w.staff.scan(uri).await.expect("scanned");
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");
    view
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sign_seal_a_pdf_and_open_a_bid_file_through_the_gateway() {
    let doc = schema::doc();
    let w = world().await;
    let dir = tempfile::tempdir().expect("dir");
    let gw = w.gateway(dir.path()).await;
    let key = gw.gateway.store.create_api_key("erp").expect("key");
    let api = Api::new(&gw.url(), &key.token);

    let (status, health) = api.json(Method::GET, "/healthz", None).await;
    assert_eq!(status, 200);
    answer_conforms(&doc, "GET", "/healthz", 200, &health);
    assert_eq!(health["platform_id"], w.platform.platform.id.as_str());

    // ---- QR login: text, PNG and SVG; the phone scans; the result is verified ----
    let login = create(
        &api,
        &doc,
        json!({"action": {"kind": "login", "uscc": USCC}}),
    )
    .await;
    let id = login["id"].as_str().expect("id").to_owned();
    let uri = qr(&api, &doc, &id).await;
    let png = api
        .req(Method::GET, &format!("/v1/scans/{id}/qr.png"))
        .send()
        .await
        .expect("png");
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().await.expect("png").starts_with(b"\x89PNG"));
    let svg = api
        .req(Method::GET, &format!("/v1/scans/{id}/qr.svg"))
        .send()
        .await
        .expect("svg");
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(String::from_utf8_lossy(&svg.bytes().await.expect("svg")).contains("<svg"));
    let view = phone_confirms(&w, &uri).await;
    assert_eq!(
        view.verification_code,
        login["verification_code"].as_str().expect("code")
    );
    let done = result(&api, &doc, &id).await;
    assert_eq!(done["status"], "approved", "{done}");
    let signer = &done["result"]["signer"];
    assert_eq!(signer["uscc"], USCC);
    assert_eq!(signer["serial"], w.team.staff_pair.signing_serial.as_str());
    assert!(signer["grant_id"].is_string());
    let enc_b64 = done["result"]["encryption_certificate"]
        .as_str()
        .expect("encryption certificate")
        .to_owned();
    assert_eq!(
        B64.decode(&enc_b64).expect("b64"),
        w.staff_encryption_cert()
    );
    // A finished scan has no QR code any more.
    let (status, v) = api
        .json(Method::GET, &format!("/v1/scans/{id}/qr"), None)
        .await;
    assert_eq!((status, v["code"].as_str()), (409, Some("scan_finished")));
    // Another app's key does not see this scan.
    let other = gw.gateway.store.create_api_key("other-app").expect("key");
    let (status, v) = Api::new(&gw.url(), &other.token)
        .json(Method::GET, &format!("/v1/scans/{id}"), None)
        .await;
    assert_eq!((status, v["code"].as_str()), (404, Some("not_found")));

    // ---- sign a document by digest, then verify the stored CMS again ----
    let content = "技术标 technical part".as_bytes();
    let digest = bidkey_crypto::sm3::sm3(content);
    let sign = create(
        &api,
        &doc,
        json!({"action": {"kind": "sign", "uscc": USCC, "documents": [
            {"name": "技术标.pdf", "digest_alg": "sm3", "digest": B64.encode(digest), "page_count": 3}
        ]}}),
    )
    .await;
    let sid = sign["id"].as_str().expect("id").to_owned();
    phone_confirms(&w, &qr(&api, &doc, &sid).await).await;
    let signed = result(&api, &doc, &sid).await;
    assert_eq!(signed["status"], "approved", "{signed}");
    let p7s = signed["result"]["documents"][0]["signed_data"]
        .as_str()
        .expect("p7s")
        .to_owned();
    assert!(signed["result"]["documents"][0]["timestamp_time"].as_u64() > Some(0));
    let (status, v) = api
        .json(
            Method::POST,
            "/v1/verify/cms",
            Some(&json!({"signed_data": p7s, "digest_alg": "sm3", "digest": B64.encode(digest), "uscc": USCC})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    answer_conforms(&doc, "POST", "/v1/verify/cms", 200, &v);
    assert_eq!(
        v["signer"]["serial"],
        w.team.staff_pair.signing_serial.as_str()
    );
    // Over another digest the same CMS is refused, typed.
    let (status, v) = api
        .json(
            Method::POST,
            "/v1/verify/cms",
            Some(
                &json!({"signed_data": p7s, "digest_alg": "sm3", "digest": B64.encode([0u8; 32])}),
            ),
        )
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (422, Some("bad_reply")),
        "{v}"
    );
    answer_conforms(&doc, "POST", "/v1/verify/cms", 422, &v);

    // ---- seal a PDF: upload it, the phone seals, get the sealed PDF back ----
    let seal_png = bidkey_platform::pdf::fixture::seal_png(180);
    let seal = w
        .admin
        .add_seal(&w.team.enterprise_id, "投标专用章", seal_png.clone(), PIN)
        .await
        .expect("seal");
    let pdf = bidkey_platform::pdf::fixture::bid_pdf("投标文件", 2, false);
    let (status, sealing) = api
        .json(
            Method::POST,
            "/v1/scans/seal-pdf",
            Some(&json!({
                "name": "投标文件.pdf", "pdf": B64.encode(&pdf), "seal_png": B64.encode(&seal_png),
                "seal_id": seal.id, "uscc": USCC,
                "position": {"page": 2, "x_mm": 120, "y_mm": 200, "width_mm": 40, "height_mm": 40}
            })),
        )
        .await;
    assert_eq!(status, 201, "{sealing}");
    answer_conforms(&doc, "POST", "/v1/scans/seal-pdf", 201, &sealing);
    let pid = sealing["id"].as_str().expect("id").to_owned();
    // Not sealed yet.
    let early = api
        .req(Method::GET, &format!("/v1/scans/{pid}/pdf"))
        .send()
        .await
        .expect("pdf");
    assert_eq!(early.status().as_u16(), 409);
    let view = phone_confirms(&w, &qr(&api, &doc, &pid).await).await;
    let shown = view.documents[0].seal.as_ref().expect("seal shown");
    assert_eq!((shown.page, shown.x_mm, shown.y_mm), (2, 120, 200));
    let sealed = result(&api, &doc, &pid).await;
    assert_eq!(sealed["status"], "approved", "{sealed}");
    let info = &sealed["result"]["sealed_pdf"];
    assert_eq!(info["valid"], true, "{sealed}");
    let resp = api
        .req(Method::GET, &format!("/v1/scans/{pid}/pdf"))
        .send()
        .await
        .expect("pdf");
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let sealed_pdf = resp.bytes().await.expect("pdf").to_vec();
    assert!(
        sealed_pdf.starts_with(&pdf),
        "an incremental update of the upload"
    );
    assert_eq!(info["size"].as_u64(), Some(sealed_pdf.len() as u64));
    assert_eq!(
        info["sm3"],
        hex::encode(bidkey_crypto::sm3::sm3(&sealed_pdf))
    );
    let (status, _, body) = api
        .raw("/v1/verify/pdf", "application/pdf", &[], sealed_pdf.clone())
        .await;
    let verdict: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(status, 200, "{verdict}");
    answer_conforms(&doc, "POST", "/v1/verify/pdf", 200, &verdict);
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["report"]["signatures"][0]["signer"]["uscc"], USCC);
    // One byte of the signed range changed: no longer valid.
    let mut tampered = sealed_pdf.clone();
    let at = pdf.len() / 2;
    tampered[at] ^= 0x01;
    let (status, _, body) = api
        .raw("/v1/verify/pdf", "application/pdf", &[], tampered)
        .await;
    let verdict: Value = serde_json::from_slice(&body).expect("json");
    assert!(
        status == 200 && verdict["valid"] == false || status == 400,
        "{status} {verdict}"
    );

    // ---- a bid file: encrypted to the bidder, opened with the key released at the opening ----
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (status, headers, bid) = api
        .raw(
            "/v1/bid-files/encrypt?tender_id=ZB-2026-0042&file_name=%E6%8A%95%E6%A0%87.zip",
            "application/octet-stream",
            &[("bidkey-recipient-cert", enc_b64.clone())],
            plain.clone(),
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bid));
    assert_eq!(
        headers["bidkey-recipient-serial"],
        w.team.staff_pair.encryption_serial.as_str()
    );
    assert!(bid.len() > plain.len() && !bid.windows(64).any(|x| x == &plain[1000..1064]));
    let (status, _, body) = api
        .raw(
            "/v1/bid-files/header",
            "application/octet-stream",
            &[],
            bid[..4096].to_vec(),
        )
        .await;
    let header: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(status, 200, "{header}");
    answer_conforms(&doc, "POST", "/v1/bid-files/header", 200, &header);
    assert_eq!(header["tender_id"], "ZB-2026-0042");
    assert_eq!(header["file_name"], "投标.zip");
    let opening = create(
        &api,
        &doc,
        json!({"action": {"kind": "decrypt", "tender_id": "ZB-2026-0042", "tender_name": "某工程施工招标",
            "opening_at": w.now() - 60,
            "files": [{"file_name": "投标.zip", "recipient_serial": header["recipient_serial"], "wrapped_key": header["wrapped_key"], "header_hash": header["header_hash"]}]}}),
    )
    .await;
    let oid = opening["id"].as_str().expect("id").to_owned();
    phone_confirms(&w, &qr(&api, &doc, &oid).await).await;
    let opened = result(&api, &doc, &oid).await;
    assert_eq!(opened["status"], "approved", "{opened}");
    let file_key = opened["result"]["file_keys"][0]["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let (status, _, back) = api
        .raw(
            "/v1/bid-files/decrypt",
            "application/octet-stream",
            &[("bidkey-file-key", file_key.clone())],
            bid.clone(),
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&back));
    assert_eq!(back, plain);
    // A wrong key and a changed chunk are refused, typed, with no plaintext.
    let (status, _, body) = api
        .raw(
            "/v1/bid-files/decrypt",
            "application/octet-stream",
            &[("bidkey-file-key", "00".repeat(16))],
            bid.clone(),
        )
        .await;
    let v: Value = serde_json::from_slice(&body).expect("typed error");
    assert_eq!((status, v["code"].as_str()), (400, Some("wrong_key")));
    let mut changed = bid.clone();
    let n = changed.len();
    changed[n - 100] ^= 1;
    let (status, _, body) = api
        .raw(
            "/v1/bid-files/decrypt",
            "application/octet-stream",
            &[("bidkey-file-key", file_key)],
            changed,
        )
        .await;
    let v: Value = serde_json::from_slice(&body).expect("typed error");
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("bid_file_tampered"))
    );
    // Not to a signing certificate: encryption certificates only.
    let signing_cert = signer["certificate"].as_str().expect("cert").to_owned();
    let (status, _, body) = api
        .raw(
            "/v1/bid-files/encrypt?tender_id=T&file_name=f",
            "application/octet-stream",
            &[("bidkey-recipient-cert", signing_cert)],
            b"x".to_vec(),
        )
        .await;
    let v: Value = serde_json::from_slice(&body).expect("typed error");
    assert_eq!(status, 422, "{v}");

    gw.stop().await;
}

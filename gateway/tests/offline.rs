//! Offline verification: a stored CMS and a sealed PDF checked against CRLs the caller
//! gives, with no call to the Bidkey server; a CMS signer the given CRL lists as revoked is
//! refused, and without CRLs both checks fail closed.

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::Method;
use serde_json::{Value, json};
use support::schema::{self, answer_conforms};
use support::*;

async fn result(api: &Api, id: &str) -> Value {
    loop {
        let (status, v) = api
            .json(Method::GET, &format!("/v1/scans/{id}?wait=30"), None)
            .await;
        assert_eq!(status, 200, "{v}");
        if v["status"] != "pending" && v["status"] != "scanned" {
            return v;
        }
    }
}

async fn confirm(w: &World, api: &Api, id: &str) {
    let (_, qr) = api
        .json(Method::GET, &format!("/v1/scans/{id}/qr"), None)
        .await;
    let view = w
        .staff
        .scan(qr["uri"].as_str().expect("uri"))
        .await
        .expect("scanned");
    w.staff
        .confirm_scan(&view.request_id, PIN)
        .await
        .expect("confirmed");
}

/// The issuing CA's and the root's CRLs as the Bidkey server publishes them, base64.
async fn crls(w: &World) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for p in ["/v1/ca/crl", "/v1/ca/crl/root"] {
        let der = http
            .get(format!("{}{p}", w.server.url()))
            .send()
            .await
            .expect("CRL")
            .bytes()
            .await
            .expect("CRL body");
        out.push(B64.encode(der));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_checks_use_the_callers_crls_and_refuse_a_listed_signer() {
    let doc = schema::doc();
    let w = world().await;
    let dir = tempfile::tempdir().expect("dir");
    let gw = w.gateway(dir.path()).await;
    let key = gw.gateway.store.create_api_key("erp").expect("key");
    let api = Api::new(&gw.url(), &key.token);

    // A signed document and a sealed PDF, made through the gateway.
    let digest = bidkey_crypto::sm3::sm3(b"offline");
    let (status, sign) = api
        .json(
            Method::POST,
            "/v1/scans",
            Some(&json!({"action": {"kind": "sign", "uscc": USCC, "documents": [
                {"name": "a.pdf", "digest_alg": "sm3", "digest": B64.encode(digest), "page_count": 1}
            ]}})),
        )
        .await;
    assert_eq!(status, 201, "{sign}");
    let sid = sign["id"].as_str().expect("id").to_owned();
    confirm(&w, &api, &sid).await;
    let signed = result(&api, &sid).await;
    assert_eq!(signed["status"], "approved", "{signed}");
    let p7s = signed["result"]["documents"][0]["signed_data"]
        .as_str()
        .expect("p7s")
        .to_owned();

    let seal_png = bidkey_platform::pdf::fixture::seal_png(180);
    let seal = w
        .admin
        .add_seal(&w.team.enterprise_id, "投标专用章", seal_png.clone(), PIN)
        .await
        .expect("seal");
    let pdf = bidkey_platform::pdf::fixture::bid_pdf("投标文件", 1, false);
    let (status, sealing) = api
        .json(
            Method::POST,
            "/v1/scans/seal-pdf",
            Some(&json!({
                "name": "b.pdf", "pdf": B64.encode(&pdf), "seal_png": B64.encode(&seal_png),
                "seal_id": seal.id, "uscc": USCC,
                "position": {"page": 1, "x_mm": 20, "y_mm": 20, "width_mm": 40, "height_mm": 40}
            })),
        )
        .await;
    assert_eq!(status, 201, "{sealing}");
    let pid = sealing["id"].as_str().expect("id").to_owned();
    confirm(&w, &api, &pid).await;
    assert_eq!(result(&api, &pid).await["status"], "approved");
    let sealed_pdf = api
        .req(Method::GET, &format!("/v1/scans/{pid}/pdf"))
        .send()
        .await
        .expect("pdf")
        .bytes()
        .await
        .expect("pdf");
    let sealed_pdf = B64.encode(&sealed_pdf);

    let cms_req = |crls: &[String]| json!({"signed_data": p7s, "digest_alg": "sm3", "digest": B64.encode(digest), "uscc": USCC, "crls": crls});
    // Another certificate (the admin's) is revoked after the signatures, so the CRLs fetched
    // now are issued after them (the server re-issues its CRL when the revoked set changes):
    // current for the check, and not listing the signer.
    w.admin
        .revoke(&w.team.admin_pair.signing_serial, PIN)
        .await
        .expect("admin's pair revoked");
    // The root's CRL (ARL) is the one `ca init` signed, issued before these signatures: a
    // CA certificate is checked by the ARL current at signing time (docs/ca.md).
    let before = crls(&w).await;

    // With current CRLs that do not list the signer: accepted, no grant asked for.
    let (status, v) = api
        .json(
            Method::POST,
            "/v1/verify/cms/offline",
            Some(&cms_req(&before)),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    answer_conforms(&doc, "POST", "/v1/verify/cms/offline", 200, &v);
    assert_eq!(
        v["signer"]["serial"],
        w.team.staff_pair.signing_serial.as_str()
    );
    assert!(v["signer"]["grant_id"].is_null());
    let (status, v) = api
        .json(
            Method::POST,
            "/v1/verify/pdf/offline",
            Some(&json!({"pdf": sealed_pdf, "crls": before})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    answer_conforms(&doc, "POST", "/v1/verify/pdf/offline", 200, &v);
    assert_eq!(v["valid"], true, "{v}");

    // Without CRLs, or with the root's only: fail closed.
    for given in [vec![], vec![before[1].clone()]] {
        let (status, v) = api
            .json(
                Method::POST,
                "/v1/verify/cms/offline",
                Some(&cms_req(&given)),
            )
            .await;
        assert_eq!(
            (status, v["code"].as_str()),
            (422, Some("certificate_rejected")),
            "{v}"
        );
        answer_conforms(&doc, "POST", "/v1/verify/cms/offline", 422, &v);
        let (status, v) = api
            .json(
                Method::POST,
                "/v1/verify/pdf/offline",
                Some(&json!({"pdf": sealed_pdf, "crls": given})),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["valid"], false, "{v}");
    }
    // Over another digest: refused.
    let mut other = cms_req(&before);
    other["digest"] = json!(B64.encode([7u8; 32]));
    let (status, v) = api
        .json(Method::POST, "/v1/verify/cms/offline", Some(&other))
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (422, Some("bad_reply")),
        "{v}"
    );

    // The signer's certificate is revoked; the CRLs published after list it.
    w.staff
        .revoke(&w.team.staff_pair.signing_serial, PIN)
        .await
        .expect("revoked");
    let after = crls(&w).await;
    assert_ne!(after[0], before[0], "a new issuing CRL");
    let (status, v) = api
        .json(
            Method::POST,
            "/v1/verify/cms/offline",
            Some(&cms_req(&after)),
        )
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (422, Some("certificate_rejected")),
        "{v}"
    );
    let (status, v) = api
        .json(
            Method::POST,
            "/v1/verify/pdf/offline",
            Some(&json!({"pdf": sealed_pdf, "crls": after})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    // The PDF follows the SDK's long-term rule (a certificate revoked after its timestamp
    // signed while good; one revoked at or before it did not), so whether this PDF stays
    // valid depends on the second the revocation fell in; either way the new CRL settled it.
    let revocation = &v["report"]["signatures"][0]["signer"]["revocation"]["status"];
    assert_ne!(revocation, "not_checked", "{v}");
    assert_eq!(v["valid"], *revocation == "valid", "{v}");
    gw.stop().await;
}

//! Sealing a PDF the gateway fetches from a URL: from a local file server the gateway's
//! configuration allows (http, loopback), sealed and returned; and the URLs it must refuse —
//! http to a host not allowed, loopback and private addresses, a name resolving to
//! loopback, other schemes, credentials in the URL, a file over the size limit, a redirect,
//! a server that never answers (the time limit),
//! and both or neither of `pdf` and `pdf_url`.

mod support;

use axum::routing::get;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_is_fetched_from_an_allowed_url_and_internal_urls_are_refused() {
    let doc = schema::doc();
    let w = world().await;
    let pdf = bidkey_platform::pdf::fixture::bid_pdf("投标文件", 1, false);
    let big = vec![b'%'; 3 << 20];

    // The platform's file server, on loopback.
    let served = pdf.clone();
    let app = axum::Router::new()
        .route("/bid.pdf", get(move || async move { served }))
        .route("/big.pdf", get(move || async move { big }))
        .route("/hang.pdf", get(std::future::pending::<Vec<u8>>))
        .route(
            "/moved",
            get(|| async {
                (
                    axum::http::StatusCode::FOUND,
                    [("location", "http://127.0.0.1:1/bid.pdf")],
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let files = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let dir = tempfile::tempdir().expect("dir");
    let gw = w
        .gateway_with(dir.path(), |c| {
            c.pdf_fetch.allow_hosts = vec!["127.0.0.1".into()];
            c.limits.upload_body = 2 << 20;
            c.pdf_fetch.timeout = std::time::Duration::from_secs(2);
        })
        .await;
    let key = gw.gateway.store.create_api_key("erp").expect("key");
    let api = Api::new(&gw.url(), &key.token);
    let seal_png = bidkey_platform::pdf::fixture::seal_png(180);
    let seal = w
        .admin
        .add_seal(&w.team.enterprise_id, "投标专用章", seal_png.clone(), PIN)
        .await
        .expect("seal");
    let request = |source: Value| {
        let mut r = json!({
            "name": "投标文件.pdf", "seal_png": B64.encode(&seal_png), "seal_id": seal.id,
            "uscc": USCC,
            "position": {"page": 1, "x_mm": 20, "y_mm": 20, "width_mm": 40, "height_mm": 40}
        });
        for (k, v) in source.as_object().expect("object") {
            r[k] = v.clone();
        }
        r
    };

    // From the allowed file server: fetched, sealed by the phone, returned.
    let url = format!("http://127.0.0.1:{port}/bid.pdf");
    let (status, created) = api
        .json(
            Method::POST,
            "/v1/scans/seal-pdf",
            Some(&request(json!({"pdf_url": url}))),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    answer_conforms(&doc, "POST", "/v1/scans/seal-pdf", 201, &created);
    let id = created["id"].as_str().expect("id").to_owned();
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
    let done = result(&api, &id).await;
    assert_eq!(done["status"], "approved", "{done}");
    let sealed = api
        .req(Method::GET, &format!("/v1/scans/{id}/pdf"))
        .send()
        .await
        .expect("pdf")
        .bytes()
        .await
        .expect("pdf");
    assert!(
        sealed.starts_with(&pdf),
        "an incremental update of the fetched PDF"
    );

    // Refused, each typed, and nothing fetched from an internal address.
    let refused = [
        (
            json!({"pdf_url": format!("http://localhost:{port}/bid.pdf")}),
            400,
            "bad_request",
        ),
        (
            json!({"pdf_url": format!("https://localhost:{port}/bid.pdf")}),
            400,
            "bad_request",
        ),
        (
            json!({"pdf_url": format!("https://127.0.0.2:{port}/bid.pdf")}),
            400,
            "bad_request",
        ),
        (
            json!({"pdf_url": "https://10.0.0.1/bid.pdf"}),
            400,
            "bad_request",
        ),
        (
            json!({"pdf_url": "https://169.254.169.254/latest/meta-data"}),
            400,
            "bad_request",
        ),
        (
            json!({"pdf_url": "https://[::1]/bid.pdf"}),
            400,
            "bad_request",
        ),
        (
            json!({"pdf_url": "https://[::ffff:127.0.0.1]/bid.pdf"}),
            400,
            "bad_request",
        ),
        (json!({"pdf_url": "file:///etc/passwd"}), 400, "bad_request"),
        (
            json!({"pdf_url": format!("ftp://127.0.0.1:{port}/bid.pdf")}),
            400,
            "bad_request",
        ),
        (
            json!({"pdf_url": format!("http://u:p@127.0.0.1:{port}/bid.pdf")}),
            400,
            "bad_request",
        ),
        (json!({"pdf_url": "not a url"}), 400, "bad_request"),
        (
            json!({"pdf_url": format!("http://127.0.0.1:{port}/moved")}),
            400,
            "bad_request",
        ),
        (
            json!({"pdf_url": format!("http://127.0.0.1:{port}/missing")}),
            400,
            "bad_request",
        ),
        (
            json!({"pdf_url": format!("http://127.0.0.1:{port}/big.pdf")}),
            413,
            "payload_too_large",
        ),
        (
            json!({"pdf_url": format!("http://127.0.0.1:{port}/hang.pdf")}),
            400,
            "bad_request",
        ),
        (
            json!({"pdf_url": url, "pdf": B64.encode(&pdf)}),
            400,
            "bad_request",
        ),
        (json!({}), 400, "bad_request"),
    ];
    for (source, want_status, want_code) in refused {
        let (status, v) = api
            .json(
                Method::POST,
                "/v1/scans/seal-pdf",
                Some(&request(source.clone())),
            )
            .await;
        assert_eq!(
            (status, v["code"].as_str()),
            (want_status, Some(want_code)),
            "{source}: {v}"
        );
        answer_conforms(&doc, "POST", "/v1/scans/seal-pdf", want_status, &v);
    }
    gw.stop().await;

    // A gateway that allows no host refuses the same loopback file server.
    let dir2 = tempfile::tempdir().expect("dir");
    let strict = w.gateway(dir2.path()).await;
    let key = strict.gateway.store.create_api_key("erp").expect("key");
    let api = Api::new(&strict.url(), &key.token);
    for u in [url.clone(), format!("https://127.0.0.1:{port}/bid.pdf")] {
        let (status, v) = api
            .json(
                Method::POST,
                "/v1/scans/seal-pdf",
                Some(&request(json!({"pdf_url": u}))),
            )
            .await;
        assert_eq!(
            (status, v["code"].as_str()),
            (400, Some("bad_request")),
            "{u}: {v}"
        );
    }
    strict.stop().await;
    files.abort();
}

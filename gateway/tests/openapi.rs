//! `gateway/openapi.yaml` stays in step with the gateway: the same methods and paths as the
//! router's [`ROUTES`] (the malformed-input sweep requests each one, so `ROUTES` cannot
//! drift from the router either), every `$ref` resolves, every refusal is the `ErrorBody`
//! listing every code the gateway can answer, and the request and response schemas match
//! the Rust types field by field: required exactly where serde requires, closed where serde
//! denies unknown fields, every field the gateway sends documented.

mod support;

use bidkey_gateway::api::{
    HeaderView, QrText, ROUTES, VerifiedCms, VerifyCms, VerifyCmsOffline, VerifyPdfOffline,
};
use bidkey_gateway::hall::{HallBid, HallEntry, HallRequest, HallView};
use bidkey_gateway::scans::*;
use bidkey_platform::hall::{HallRow, Line, OpenedHow, OpenedSeen, SelfCheckSeen};
use bidkey_platform::opening::Words;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::schema::{self, conforms};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (m, _) in item.as_object().expect("path item") {
            if METHODS.contains(&m.as_str()) {
                out.insert((m.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn the_document_has_exactly_the_routed_methods_and_paths() {
    let doc = schema::doc();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(routed.len(), ROUTES.len(), "a route listed twice");
    assert_eq!(operations(&doc), routed);
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves_and_every_refusal_is_the_typed_error() {
    let doc = schema::doc();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 40);
    for r in all {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            !doc["components"]["schemas"][name].is_null(),
            "dangling {r}"
        );
    }
    for (m, p) in operations(&doc) {
        let op = &doc["paths"][&p][m.to_ascii_lowercase()];
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{m} {p}: no success"
        );
        for (status, r) in responses {
            if !status.starts_with('2') {
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{m} {p} {status}"
                );
            }
        }
        if p != "/healthz" {
            assert!(responses.contains_key("401"), "{m} {p}: 401 undocumented");
            assert!(
                op.get("security").is_none(),
                "{m} {p}: API key not required"
            );
        } else {
            assert_eq!(op["security"], json!([]));
        }
    }
}

/// Every wire code `GatewayError::parts` can give, read from its source.
fn gateway_codes() -> BTreeSet<String> {
    let src = include_str!("../src/error.rs");
    let mut out = BTreeSet::new();
    let mut rest = src;
    while let Some(i) = rest.find("StatusCode::") {
        rest = &rest[i + 12..];
        let Some(q) = rest.find('"') else { break };
        // The code is the first string after the status, before the tuple's end.
        if rest[..q].contains(')') && !rest[..q].contains(',') {
            continue;
        }
        let after = &rest[q + 1..];
        let end = after.find('"').expect("closing quote");
        let code = &after[..end];
        if code.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !code.is_empty() {
            out.insert(code.to_owned());
        }
        rest = &after[end..];
    }
    out
}

#[test]
fn every_error_code_is_listed() {
    let doc = schema::doc();
    let codes = gateway_codes();
    assert!(codes.len() > 20, "{codes:?}");
    let listed: BTreeSet<String> = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]
        ["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .map(|v| v.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(codes, listed);
    let body = serde_json::to_value(bidkey_gateway::GatewayError::NotFound.body()).expect("json");
    conforms(&doc, "ErrorBody", &body);
}

/// The request type `T` and its schema agree: `full` (every field set) conforms; without
/// each property it parses exactly when the schema does not require it; with an unknown
/// property it parses exactly when the schema is open.
fn request_matches<T: DeserializeOwned + serde::Serialize>(doc: &Value, name: &str, full: Value) {
    let typed: T = serde_json::from_value(full.clone()).expect("the full sample parses");
    let again = serde_json::to_value(&typed).expect("json");
    conforms(doc, name, &full);
    conforms(doc, name, &again);
    let schema = schema::component(doc, name);
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().expect("name"))
        .collect();
    let props = schema["properties"].as_object().expect("properties");
    assert_eq!(
        props.keys().collect::<BTreeSet<_>>(),
        full.as_object()
            .expect("object")
            .keys()
            .collect::<BTreeSet<_>>(),
        "{name}: the sample must set every documented property"
    );
    for p in props.keys() {
        let mut without = full.clone();
        without.as_object_mut().expect("object").remove(p);
        let parses = serde_json::from_value::<T>(without).is_ok();
        assert_eq!(
            parses,
            !required.contains(p.as_str()),
            "{name}.{p}: required in one, not the other"
        );
    }
    let mut extra = full.clone();
    extra["unexpected_field"] = json!(1);
    let closed = schema["additionalProperties"] == json!(false);
    assert_eq!(
        serde_json::from_value::<T>(extra).is_err(),
        closed,
        "{name}: open in one, closed in the other"
    );
}

#[test]
fn request_schemas_match_the_request_types() {
    let doc = schema::doc();
    let digest = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let actions = [
        json!({"kind": "login", "uscc": "91500000MA5U8XGQ8Q"}),
        json!({"kind": "bind", "platform_user": "u1", "uscc": null}),
        json!({"kind": "sign", "uscc": null, "documents": [{"name": "a.pdf", "digest_alg": "sm3", "digest": digest, "page_count": 2,
            "seal": {"seal_id": "s1", "page": 1, "x_mm": 1, "y_mm": 2, "width_mm": 40, "height_mm": 40}}]}),
        json!({"kind": "decrypt", "tender_id": "T", "tender_name": "N", "opening_at": 1, "files": [{"file_name": "f", "recipient_serial": "0a", "wrapped_key": "AAEC", "header_hash": "AAEC"}]}),
        json!({"kind": "session", "ttl_secs": 600, "auto_confirm_allowed": true, "uscc": null}),
    ];
    for a in &actions {
        request_matches::<CreateScan>(
            &doc,
            "CreateScan",
            json!({"action": a, "ttl_secs": 60, "webhook_url": "https://erp.example/hook"}),
        );
        // Each action form as the protocol writes it conforms to exactly one branch.
        let typed: bidkey_protocol::scan::ScanAction =
            serde_json::from_value(a.clone()).expect("action");
        conforms(
            &doc,
            "ScanAction",
            &serde_json::to_value(typed).expect("json"),
        );
    }
    // An action the protocol does not know is refused by both.
    let unknown = json!({"kind": "pay", "amount": 1});
    assert!(serde_json::from_value::<bidkey_protocol::scan::ScanAction>(unknown.clone()).is_err());
    assert!(
        !schema::check(
            &doc,
            &json!({"$ref": "#/components/schemas/ScanAction"}),
            &unknown,
            "a"
        )
        .is_empty()
    );
    request_matches::<SealPdfRequest>(
        &doc,
        "SealPdfRequest",
        json!({"name": "a.pdf", "pdf": "JVBERi0=", "pdf_url": null, "seal_png": "iVBORw==", "seal_id": "s1",
            "position": {"page": 1, "x_mm": 1, "y_mm": 2, "width_mm": 40, "height_mm": 40},
            "uscc": "91500000MA5U8XGQ8Q", "ttl_secs": 60, "webhook_url": "https://erp.example/hook"}),
    );
    request_matches::<SealPosition>(
        &doc,
        "SealPosition",
        json!({"page": 1, "x_mm": 1, "y_mm": 2, "width_mm": 40, "height_mm": 40}),
    );
    request_matches::<VerifyCms>(
        &doc,
        "VerifyCms",
        json!({"signed_data": "MAA=", "digest_alg": "sm3", "digest": digest, "uscc": null}),
    );
    request_matches::<VerifyCmsOffline>(
        &doc,
        "VerifyCmsOffline",
        json!({"signed_data": "MAA=", "digest_alg": "sm3", "digest": digest, "uscc": null, "crls": ["MAA="]}),
    );
    request_matches::<VerifyPdfOffline>(
        &doc,
        "VerifyPdfOffline",
        json!({"pdf": "JVBERi0=", "crls": ["MAA="]}),
    );
    let check = json!({"ok": false, "checked_at": 1, "device": "Pixel 8", "reason_zh": "坏", "reason_en": "bad"});
    let opened = json!({"how": "k_of_n", "by": "李四", "opened_at": 2, "intact": true});
    let words = json!({"zh": "尚未到开标时间", "en": "not yet"});
    request_matches::<SelfCheckSeen>(&doc, "SelfCheckSeen", check.clone());
    request_matches::<OpenedSeen>(&doc, "OpenedSeen", opened.clone());
    request_matches::<Words>(&doc, "Words", words.clone());
    let bid = json!({"bid_id": "b1", "head": "QktG", "self_check": check, "opened": opened,
        "failure": words, "shares_received": 1});
    request_matches::<HallBid>(&doc, "HallBid", bid.clone());
    request_matches::<HallRequest>(&doc, "HallRequest", json!({"bids": [bid]}));
}

#[test]
fn response_schemas_match_the_response_types() {
    let doc = schema::doc();
    let signer = SignerView {
        serial: "0a".into(),
        common_name: "李四".into(),
        organization: Some("重庆比德科技有限公司".into()),
        uscc: Some("91500000MA5U8XGQ8Q".into()),
        grant_id: Some("g1".into()),
        certificate: "MAA=".into(),
    };
    let full = ScanView {
        id: "0123456789abcdef0123456789abcdef".into(),
        kind: "sign".into(),
        status: Status::Approved,
        expires_at: 1,
        verification_code: "1234".into(),
        result: Some(VerifiedResult {
            signer: Some(signer.clone()),
            documents: vec![DocumentView {
                name: "a.pdf".into(),
                signed_data: "MAA=".into(),
                signing_time: 1,
                timestamp_time: 2,
                seal: Some(bidkey_protocol::scan::SealPlacement {
                    seal_id: "s".into(),
                    page: 1,
                    x_mm: 1,
                    y_mm: 1,
                    width_mm: 1,
                    height_mm: 1,
                }),
            }],
            file_keys: vec![FileKeyView {
                file_name: "f".into(),
                key: "00".repeat(16),
            }],
            encryption_certificate: Some("MAA=".into()),
            session: Some(SessionView {
                session_id: "s".into(),
                expires_at: 1,
                auto_confirm: true,
            }),
            sealed_pdf: Some(SealedPdfView {
                url: "/v1/scans/x/pdf".into(),
                size: 1,
                sm3: "00".into(),
                valid: true,
            }),
        }),
        reason: Some("no".into()),
        error: Some(bidkey_gateway::GatewayError::NotReady.body()),
    };
    conforms(
        &doc,
        "ScanView",
        &serde_json::to_value(&full).expect("json"),
    );
    let empty = ScanView {
        status: Status::Pending,
        result: Some(VerifiedResult::default()),
        reason: None,
        error: None,
        ..full.clone()
    };
    conforms(
        &doc,
        "ScanView",
        &serde_json::to_value(&empty).expect("json"),
    );
    conforms(
        &doc,
        "ScanView",
        &serde_json::to_value(ScanView {
            result: None,
            ..empty
        })
        .expect("json"),
    );
    conforms(
        &doc,
        "QrText",
        &serde_json::to_value(QrText {
            uri: "bidkey://x".into(),
            t: 1,
            verification_code: "1".into(),
            expires_at: 1,
            refresh_ms: 1000,
        })
        .expect("json"),
    );
    conforms(
        &doc,
        "BidFileHeader",
        &serde_json::to_value(HeaderView {
            recipient_serial: "0a".into(),
            tender_id: "t".into(),
            platform_id: "p".into(),
            file_name: "f".into(),
            created_at: 1,
            chunk_size: 65536,
            wrapped_key: "MAA=".into(),
            header_hash: "MAA=".into(),
        })
        .expect("json"),
    );
    conforms(
        &doc,
        "VerifiedCms",
        &serde_json::to_value(VerifiedCms {
            signer,
            timestamp_time: 1,
        })
        .expect("json"),
    );
    let line = |state: &str| Line {
        state: state.into(),
        zh: "字".into(),
        en: "w".into(),
    };
    for how in [Some(OpenedHow::Preauthorised), None] {
        conforms(
            &doc,
            "HallView",
            &serde_json::to_value(HallView {
                bids: vec![HallEntry {
                    bid_id: "b1".into(),
                    tender_id: "t".into(),
                    file_name: "f".into(),
                    binding_hash: "00".repeat(32),
                    row: HallRow {
                        recipients: vec!["0a".into()],
                        threshold: 1,
                        recipients_line: line("any_one"),
                        self_check: line("ok"),
                        preauth: line("released"),
                        opening: line("opened"),
                        opened_how: how,
                        warnings: vec![Words {
                            zh: "字".into(),
                            en: "w".into(),
                        }],
                    },
                }],
            })
            .expect("json"),
        );
    }
    // A field the gateway would send but the document lacks is drift.
    let mut extra = serde_json::to_value(&full).expect("json");
    extra["surprise"] = json!(1);
    assert!(
        !schema::check(
            &doc,
            &json!({"$ref": "#/components/schemas/ScanView"}),
            &extra,
            "v"
        )
        .is_empty()
    );
}

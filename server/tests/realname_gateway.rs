//! Real-name verification through the operator's gateway (HMAC-SM3 signed requests and
//! answers) against a fake gateway on loopback that checks our signature: the three
//! methods, refusals, and answers we must not believe (unsigned, forged, replayed, stale).

mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::{AccountInfo, RealNameMethod, RealNameRequest};
use bidkey_server::providers::RealNameConfig;
use bidkey_server::providers::realname_http::GatewayConfig;
use bidkey_testkit::vendors::{FakeGateway, GatewayScript};
use support::{Client, Store, TestServer, id_number, signed_up};

const KEY: &[u8; 32] = b"operator-gateway-key-32-bytes!!!";

async fn server(gateway: &FakeGateway, key: &[u8]) -> TestServer {
    let cfg = GatewayConfig {
        endpoint: gateway.url.clone(),
        key_id: "bidkey-1".into(),
        key: zeroize::Zeroizing::new(key.to_vec()),
    };
    TestServer::start_with(Store::Sqlite, move |c| {
        c.providers.realname = RealNameConfig::Gateway(cfg)
    })
    .await
}

fn person(method: RealNameMethod, seq: u32) -> RealNameRequest {
    RealNameRequest {
        method,
        name: "张三".into(),
        id_number: id_number(seq),
        bank_card: (method == RealNameMethod::BankCard4).then(|| "4111111111111111".into()),
        bank_phone: (method == RealNameMethod::BankCard4).then(|| "13800138000".into()),
    }
}

async fn verify(c: &Client, req: &RealNameRequest) -> Result<AccountInfo, (u16, ErrorCode)> {
    c.post("/v1/me/realname", req)
        .await
        .map_err(|(s, b)| (s, b.code))
}

async fn real_named(c: &Client) -> bool {
    let me: AccountInfo = c.get("/v1/me").await.expect("me");
    me.real_name.is_some()
}

#[tokio::test]
async fn the_gateway_verifies_people_by_either_method() {
    let gw = FakeGateway::start(KEY).await;
    let server = server(&gw, KEY).await;
    let c = signed_up(&server, "13800138010").await;
    verify(&c, &person(RealNameMethod::Cfca, 1))
        .await
        .expect("verified");
    assert!(real_named(&c).await);
    let c2 = signed_up(&server, "13800138011").await;
    verify(&c2, &person(RealNameMethod::BankCard4, 2))
        .await
        .expect("verified");
    let seen = gw.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.signature_ok));
    assert_eq!(seen[0].path, "/verify/v1/person");
    assert_eq!(seen[0].body["channel"], "cfca");
    assert_eq!(seen[1].path, "/verify/v1/bank-card4");
    assert_eq!(seen[1].body["bank_card"], "4111111111111111");

    // The gateway's refusal is the person's: real_name_failed.
    let c3 = signed_up(&server, "13800138012").await;
    gw.script(&[GatewayScript::Refused("face")]);
    assert_eq!(
        verify(&c3, &person(RealNameMethod::Alipay, 3)).await.err(),
        Some((400, ErrorCode::RealNameFailed))
    );
    assert!(!real_named(&c3).await);
}

#[tokio::test]
async fn answers_we_cannot_trust_are_refused_and_change_nothing() {
    let gw = FakeGateway::start(KEY).await;
    let server = server(&gw, KEY).await;
    let c = signed_up(&server, "13800138020").await;
    for (i, forged) in [
        GatewayScript::Unsigned,
        GatewayScript::WrongKey,
        GatewayScript::OtherNonce,
        GatewayScript::Stale,
    ]
    .into_iter()
    .enumerate()
    {
        let before = gw.seen().len();
        gw.script(std::slice::from_ref(&forged));
        assert_eq!(
            verify(&c, &person(RealNameMethod::Cfca, 20 + i as u32))
                .await
                .err(),
            Some((503, ErrorCode::ProviderUnavailable)),
            "{forged:?}"
        );
        assert_eq!(gw.seen().len(), before + 1, "{forged:?} is not retried");
        assert!(!real_named(&c).await, "{forged:?} verified nobody");
    }
}

#[tokio::test]
async fn a_server_with_the_wrong_key_is_refused_by_the_gateway() {
    let gw = FakeGateway::start(KEY).await;
    let server = server(&gw, b"not the key the gateway holds....").await;
    let c = signed_up(&server, "13800138030").await;
    assert_eq!(
        verify(&c, &person(RealNameMethod::Cfca, 30)).await.err(),
        Some((503, ErrorCode::ProviderUnavailable))
    );
    assert!(!gw.seen()[0].signature_ok);
}

#[tokio::test]
async fn an_enterprise_claim_asks_the_registry() {
    use bidkey_protocol::enterprises::{ClaimRequest, Material};
    let gw = FakeGateway::start(KEY).await;
    let server = server(&gw, KEY).await;
    let c = signed_up(&server, "13800138040").await;
    verify(&c, &person(RealNameMethod::Cfca, 40))
        .await
        .expect("verified");
    let claim = |key: &str| ClaimRequest {
        uscc: support::uscc(40),
        name: "南京示例科技有限公司".into(),
        legal_rep: None,
        materials: vec![Material {
            name: "营业执照.pdf".into(),
            content_type: "application/pdf".into(),
            data: b"%PDF-1.7\n% test licence\n".to_vec(),
        }],
        idempotency_key: key.into(),
    };
    gw.script(&[GatewayScript::Refused("uscc")]);
    let r: Result<serde_json::Value, _> = c.post("/v1/enterprises/claims", &claim("k1")).await;
    assert_eq!(
        r.err().map(|(s, b)| (s, b.code)),
        Some((400, ErrorCode::RealNameFailed))
    );
    let r: Result<serde_json::Value, _> = c.post("/v1/enterprises/claims", &claim("k2")).await;
    r.expect("claimed once the registry knows it");
    let seen = gw.seen();
    let last = seen.last().expect("seen");
    assert_eq!(last.path, "/verify/v1/enterprise");
    assert_eq!(last.body["uscc"], support::uscc(40));
}

//! The SDK timestamps CMS signatures at a real server's TSA on loopback: every signer of a
//! SignedData gets a signatureTimeStampToken from the TSA key of its algorithm, checked
//! against the Bidkey root; a foreign root or a token for another signature is refused.

use bidkey_crypto::CmsProblem;
use bidkey_crypto::cms::{
    Content, ContentTypes, HashAlgorithm, SignedDataBuilder, SignerInfo,
    add_timestamp_to_signed_data, oids, verify_signed_data,
};
use bidkey_crypto::p256::P256PrivateKey;
use bidkey_crypto::sm2::Sm2PrivateKey;
use bidkey_crypto::x509::{
    Cert, CertProfile, CertTemplate, TbsSigner, ca_subject, enterprise_subject,
};
use bidkey_crypto::{CertProblem, Error};
use bidkey_platform::PlatformError;
use bidkey_platform::client::PlatformClient;
use bidkey_platform::timestamp::TsaTrust;
use bidkey_testkit::{Store, TestServer};
use std::time::Duration;

const BID: &[u8] = "投标文件 sealed bid".as_bytes();
const DAY: u64 = 86_400;

/// A one-level signer PKI of its own (root → signer), valid around `now`.
fn signer_pki(key: &dyn TbsSigner, now: u64) -> (Cert, Cert) {
    let root_key = Sm2PrivateKey::make_random().expect("key");
    let root = Cert::self_signed_root(
        ca_subject("Signer Root", "Other CA").expect("name"),
        &root_key,
        now - DAY,
        now + 365 * DAY,
    )
    .expect("root");
    let leaf = Cert::issue(
        &CertTemplate {
            profile: CertProfile::Signing,
            subject: enterprise_subject("测试建设有限公司", "91350100M000100Y43").expect("name"),
            public_key_spki: key.public_key_spki().expect("spki"),
            not_before: now - DAY,
            not_after: now + 30 * DAY,
        },
        &root,
        &root_key,
    )
    .expect("leaf");
    (root, leaf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signer_gets_a_verified_timestamp() {
    let server = TestServer::start(Store::Sqlite).await;
    let client = PlatformClient::new(&server.url(), None, Duration::from_secs(10)).expect("client");
    let (root, issuing) = client.ca_chain().await.expect("chain");
    let trust = TsaTrust {
        roots: vec![root],
        intermediates: vec![issuing],
    };
    let now = u64::try_from(server.running.state.clock.now()).expect("now");
    let sm2_key = Sm2PrivateKey::make_random().expect("key");
    let p256_key = P256PrivateKey::make_random().expect("key");
    let (sm2_root, sm2_cert) = signer_pki(&sm2_key, now);
    let (p256_root, p256_cert) = signer_pki(&p256_key, now);
    let info = |key: &dyn TbsSigner, cert: &Cert| {
        let alg = bidkey_crypto::cms::digest_for(cert.public_key().signature_algorithm());
        SignerInfo::sign(
            key,
            cert,
            ContentTypes::Pkcs7,
            oids::PKCS7_DATA,
            &alg.digest(BID),
            Some(now),
        )
        .expect("sign")
    };
    let der = SignedDataBuilder::new(ContentTypes::Pkcs7, oids::PKCS7_DATA)
        .signer(info(&sm2_key, &sm2_cert))
        .signer(info(&p256_key, &p256_cert))
        .certificates([&sm2_cert, &sm2_root, &p256_cert, &p256_root])
        .build()
        .expect("build");

    let stamped = client
        .timestamp_signed_data(&der, Content::Detached(BID), &trust)
        .await
        .expect("stamped");
    let v = verify_signed_data(&stamped, Content::Detached(BID), &[]).expect("verifies");
    assert_eq!(v.signers.len(), 2);
    let tsa = server.running.state.tsa.clone();
    for s in &v.signers {
        let [ts] = &s.timestamps[..] else {
            panic!("one timestamp per signer")
        };
        let (alg, tsa_alg) = if s.cert == sm2_cert {
            (HashAlgorithm::Sm3, bidkey_server::tsa::TsaAlg::Sm2)
        } else {
            (HashAlgorithm::Sha256, bidkey_server::tsa::TsaAlg::P256)
        };
        assert_eq!(ts.imprint_algorithm, alg);
        assert_eq!(ts.imprint, alg.digest(s.signer_info.signature()));
        assert_eq!(&ts.tsa_cert, tsa.certificate(tsa_alg));
        let server_now = u64::try_from(server.running.state.clock.now()).expect("now");
        assert!(ts.gen_time >= now && ts.gen_time <= server_now);
        bidkey_platform::timestamp::check_tsa_chain(ts, &trust).expect("TSA chains to Bidkey");
    }
    // The detached content still has to match, timestamps or not.
    assert_eq!(
        verify_signed_data(&stamped, Content::Detached(b"other"), &[]).map(|_| ()),
        Err(CmsProblem::MessageDigestMismatch.into())
    );

    // A platform that trusts another root refuses the TSA's tokens.
    let stranger = TsaTrust {
        roots: vec![sm2_root.clone()],
        intermediates: vec![],
    };
    let mut lone = info(&p256_key, &p256_cert);
    assert!(matches!(
        client.timestamp_signer_info(&mut lone, &stranger).await,
        Err(PlatformError::Certificate(CertProblem::UntrustedIssuer))
    ));
    assert!(lone.timestamp_tokens().expect("tokens").is_empty());

    // A token for one signature cannot be attached to another message.
    let mut first = info(&sm2_key, &sm2_cert);
    let ts = client
        .timestamp_signer_info(&mut first, &trust)
        .await
        .expect("stamped");
    let other = SignedDataBuilder::new(ContentTypes::Pkcs7, oids::PKCS7_DATA)
        .attach(b"other bid")
        .signer(
            SignerInfo::sign(
                &sm2_key,
                &sm2_cert,
                ContentTypes::Pkcs7,
                oids::PKCS7_DATA,
                &HashAlgorithm::Sm3.digest(b"other bid"),
                Some(now),
            )
            .expect("sign"),
        )
        .certificates([&sm2_cert])
        .build()
        .expect("other");
    assert_eq!(
        add_timestamp_to_signed_data(&other, &ts.token_der, Content::Attached, &[]).map(|_| ()),
        Err(Error::Cms(CmsProblem::TimestampImprintMismatch))
    );
}

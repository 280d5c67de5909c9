//! A seal whose signature is made elsewhere, as the phone makes it: `prepare` gives the
//! ByteRange digest, the signer signs the CMS signed attributes built from it, the SDK
//! assembles the SignerInfo, timestamps it at a real server's TSA on loopback (SM2 signers
//! get SM3/SM2 timestamps, P-256 ones SHA-256/P-256), packs the CMS and `finish`es the file.

use bidkey_crypto::cms::{ContentTypes, SignedDataBuilder, SignerInfo, signed_attributes_der};
use bidkey_crypto::x509::SignatureAlgorithm;
use bidkey_platform::client::PlatformClient;
use bidkey_platform::pdf::verify::{Check, VerifyOptions};
use bidkey_platform::pdf::{self, Placement, SealRequest, fixture};
use bidkey_platform::timestamp::TsaTrust;
use bidkey_platform::verify::TrustAnchor;
use bidkey_testkit::pki::pki;
use bidkey_testkit::{Store, TestServer};
use std::io::Cursor;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_signature_timestamped_by_the_server_seals_a_pdf() {
    let server = TestServer::start(Store::Sqlite).await;
    let client = PlatformClient::new(&server.url(), None, Duration::from_secs(10)).expect("client");
    let (root, issuing) = client.ca_chain().await.expect("chain");
    let trust = TsaTrust {
        roots: vec![root.clone()],
        intermediates: vec![issuing.clone()],
    };
    let now = u64::try_from(server.running.state.clock.now()).expect("now");
    let input = fixture::bid_pdf("投标文件", 2, false);
    let png = fixture::seal_png(150);
    let mut pdf_bytes = input;
    for sm2 in [true, false] {
        let p = pki(sm2, now);
        let digest = match p.signer.public_key().signature_algorithm() {
            SignatureAlgorithm::Sm2WithSm3 => bidkey_crypto::cms::HashAlgorithm::Sm3,
            SignatureAlgorithm::EcdsaP256Sha256 => bidkey_crypto::cms::HashAlgorithm::Sha256,
        };
        let req = SealRequest {
            placement: Placement {
                page: 2,
                x: if sm2 { 80.0 } else { 300.0 },
                y: 120.0,
                width: 110.0,
                height: 110.0,
            },
            seal_png: &png,
            digest,
            signing_time: now,
            contents_capacity: pdf::seal::DEFAULT_CONTENTS_CAPACITY,
            field_name: None,
        };
        let mut out = Cursor::new(Vec::new());
        let prepared = pdf::prepare(Cursor::new(&pdf_bytes), &mut out, &req).expect("prepare");
        // The signer (the phone) signs exactly these attributes.
        let types = ContentTypes::Pkcs7;
        let attrs =
            signed_attributes_der(types.data(), digest, &prepared.digest, Some(now), &p.signer)
                .expect("attributes");
        let signature = p.signer_key.signer().sign_tbs(&attrs).expect("sign");
        let mut info =
            SignerInfo::assemble(&p.signer, types, &attrs, &signature).expect("assemble");
        let ts = client
            .timestamp_signer_info(&mut info, &trust)
            .await
            .expect("timestamp");
        assert_eq!(ts.gen_time, now, "the server's clock");
        let cms = SignedDataBuilder::new(types, types.data())
            .signer(info)
            .certificates([&p.signer, &p.ca, &p.root])
            .build()
            .expect("cms");
        pdf::finish(&mut out, &prepared, &cms).expect("finish");
        pdf_bytes = out.into_inner();

        let signer_anchor = TrustAnchor::new(p.root.clone(), vec![p.ca.clone()]).expect("anchor");
        let tsa_anchor = TrustAnchor::new(root.clone(), vec![issuing.clone()]).expect("anchor");
        let r = pdf::verify(
            Cursor::new(&pdf_bytes),
            &VerifyOptions {
                anchor: Some(&signer_anchor),
                tsa_anchor: Some(&tsa_anchor),
                crls: &[],
                now,
            },
        )
        .expect("verify");
        let last = r.signatures.last().expect("signature");
        assert!(last.is_valid() && last.covers_whole_file, "{last:?}");
        let s = last.signer.as_ref().expect("signer");
        assert_eq!(s.timestamp, Some(now));
        assert_eq!(s.chain, Check::Valid);
        // The same file against the signer's root alone: the server's TSA is not trusted.
        let r = pdf::verify(
            Cursor::new(&pdf_bytes),
            &VerifyOptions {
                anchor: Some(&signer_anchor),
                tsa_anchor: None,
                crls: &[],
                now,
            },
        )
        .expect("verify");
        assert!(matches!(
            &r.signatures.last().expect("sig").signer.as_ref().expect("s").chain,
            Check::Invalid(why) if why.contains("timestamp authority")
        ));
    }
}

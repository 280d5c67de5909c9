//! CMS SignedData and RFC 3161 timestamps: round trips, the attacks the verifier must refuse,
//! and vectors nobody on this project wrote (`data/cms/README.md`).

mod support;

use bidkey_crypto::cms::tsp::{self, FailureInfo, TsaSigner};
use bidkey_crypto::cms::{
    self, Content, ContentTypes, HashAlgorithm, SignedDataBuilder, SignerInfo, TimeStampRequest,
    TimeStampResponse, oids, sign_data, signed_attributes_der, verify_signed_data,
};
use bidkey_crypto::x509::{Cert, RequiredUsage, verify_chain_without_revocation};
use bidkey_crypto::{CmsProblem, Error};
use support::pki::{Pki, pki};

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600;
const BID: &[u8] = "投标文件 bid file, page 1 of 3".as_bytes();

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/cms/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("vector file")
}

fn tsa<'a>(p: &'a Pki, chain: &'a [Cert]) -> TsaSigner<'a> {
    TsaSigner {
        key: p.tsa_key.signer(),
        cert: &p.tsa,
        chain,
        policy: oids::DEFAULT_TSA_POLICY,
    }
}

/// Flip one bit of the first occurrence of `needle` (at `offset` into it).
fn flip(der: &[u8], needle: &[u8], offset: usize) -> Vec<u8> {
    let pos = der
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in DER");
    let mut out = der.to_vec();
    out[pos + offset] ^= 1;
    out
}

#[test]
fn attached_and_detached_in_both_algorithms_and_spellings() {
    for sm2 in [true, false] {
        let p = pki(sm2, T0);
        for types in [ContentTypes::Pkcs7, ContentTypes::GbT35275] {
            for attached in [true, false] {
                let der = sign_data(
                    BID,
                    attached,
                    types,
                    p.signer_key.signer(),
                    &p.signer,
                    &p.chain(),
                    Some(T0),
                )
                .expect("sign");
                let content = if attached {
                    Content::Attached
                } else {
                    Content::Detached(BID)
                };
                let v = verify_signed_data(&der, content, &[]).expect("verifies");
                assert_eq!(v.content_types, types);
                assert_eq!(v.econtent_type, types.data());
                assert_eq!(v.content.as_deref(), attached.then_some(BID));
                assert_eq!(v.certificates.len(), 3, "signer and its chain");
                let [s] = &v.signers[..] else {
                    panic!("one signer")
                };
                assert_eq!(s.cert, p.signer);
                let a = s.attributes.as_ref().expect("signed attributes");
                assert_eq!(a.signing_time, Some(T0));
                assert_eq!(a.content_type, types.data());
                assert_eq!(a.message_digest, s.digest_algorithm.digest(BID));
                assert_eq!(a.der[0], 0x31, "signature covers the SET form");
                assert!(a.signing_certificate_v2.is_some());
                assert_eq!(
                    s.digest_algorithm,
                    if sm2 {
                        HashAlgorithm::Sm3
                    } else {
                        HashAlgorithm::Sha256
                    }
                );
                // The chain in the message validates with the caller's trust anchor.
                verify_chain_without_revocation(
                    &s.cert,
                    &v.certificates,
                    std::slice::from_ref(&p.root),
                    T0,
                    RequiredUsage::Signing,
                )
                .expect("chain");
                // Detached with only the digest (a streamed hash of a large file).
                if !attached {
                    let d = s.digest_algorithm.digest(BID);
                    verify_signed_data(
                        &der,
                        Content::DetachedDigest {
                            algorithm: s.digest_algorithm,
                            digest: &d,
                        },
                        &[],
                    )
                    .expect("digest");
                }
            }
        }
    }
}

#[test]
fn signature_made_elsewhere_is_assembled_after_it_is_checked() {
    // What a two-party device does: it receives (or builds) the signed attributes, signs
    // exactly those bytes, and only the signature comes back.
    let p = pki(true, T0);
    let attrs = signed_attributes_der(
        ContentTypes::Pkcs7.data(),
        HashAlgorithm::Sm3,
        &HashAlgorithm::Sm3.digest(BID),
        Some(T0),
        &p.signer,
    )
    .expect("attrs");
    assert_eq!(attrs[0], 0x31);
    let remote_signature = p.signer_key.signer().sign_tbs(&attrs).expect("remote");
    let info = SignerInfo::assemble(&p.signer, ContentTypes::Pkcs7, &attrs, &remote_signature)
        .expect("assemble");
    assert_eq!(info.signature(), &remote_signature[..]);
    assert_eq!(
        info.signed_attributes_der().expect("der").as_deref(),
        Some(&attrs[..])
    );
    let der = SignedDataBuilder::new(ContentTypes::Pkcs7, ContentTypes::Pkcs7.data())
        .signer(info)
        .certificates([&p.signer, &p.ca])
        .build()
        .expect("build");
    verify_signed_data(&der, Content::Detached(BID), &[]).expect("verifies");

    // A signature by another key, or over other bytes, never becomes a SignerInfo.
    let other = pki(true, T0);
    let wrong_key = other.signer_key.signer().sign_tbs(&attrs).expect("sig");
    assert_eq!(
        SignerInfo::assemble(&p.signer, ContentTypes::Pkcs7, &attrs, &wrong_key),
        Err(Error::BadSignature)
    );
    let mut other_attrs = attrs.clone();
    let last = other_attrs.len() - 1;
    other_attrs[last] ^= 1;
    assert!(
        SignerInfo::assemble(
            &p.signer,
            ContentTypes::Pkcs7,
            &other_attrs,
            &remote_signature
        )
        .is_err()
    );
    // Attributes naming another certificate (signingCertificateV2) are refused.
    let attrs_for_other = signed_attributes_der(
        ContentTypes::Pkcs7.data(),
        HashAlgorithm::Sm3,
        &HashAlgorithm::Sm3.digest(BID),
        Some(T0),
        &other.signer,
    )
    .expect("attrs");
    let sig = p
        .signer_key
        .signer()
        .sign_tbs(&attrs_for_other)
        .expect("sig");
    assert_eq!(
        SignerInfo::assemble(&p.signer, ContentTypes::Pkcs7, &attrs_for_other, &sig),
        Err(CmsProblem::SigningCertificateMismatch.into())
    );
}

#[test]
fn several_signers_of_both_algorithms() {
    let a = pki(true, T0);
    let b = pki(false, T0);
    let sign = |p: &Pki| {
        let alg = cms::digest_for(p.signer.public_key().signature_algorithm());
        SignerInfo::sign(
            p.signer_key.signer(),
            &p.signer,
            ContentTypes::Pkcs7,
            oids::PKCS7_DATA,
            &alg.digest(BID),
            Some(T0 + 60),
        )
        .expect("sign")
    };
    let der = SignedDataBuilder::new(ContentTypes::Pkcs7, oids::PKCS7_DATA)
        .attach(BID)
        .signer(sign(&a))
        .signer(sign(&b))
        .certificates(std::iter::once(&a.signer).chain(&a.chain()))
        .certificates(std::iter::once(&b.signer).chain(&b.chain()))
        .build()
        .expect("build");
    let v = verify_signed_data(&der, Content::Attached, &[]).expect("verifies");
    assert_eq!(v.signers.len(), 2);
    assert!(v.signers.iter().any(|s| s.cert == a.signer));
    assert!(v.signers.iter().any(|s| s.cert == b.signer));
    // One changed byte of the content fails both.
    let tampered = flip(&der, BID, 0);
    assert_eq!(
        verify_signed_data(&tampered, Content::Attached, &[]).map(|_| ()),
        Err(CmsProblem::MessageDigestMismatch.into())
    );
}

#[test]
fn attacks_on_content_attributes_and_certificates() {
    for sm2 in [true, false] {
        let p = pki(sm2, T0);
        let detached = sign_data(
            BID,
            false,
            ContentTypes::Pkcs7,
            p.signer_key.signer(),
            &p.signer,
            &p.chain(),
            Some(T0),
        )
        .expect("sign");
        // A changed byte in the content.
        let mut other = BID.to_vec();
        other[3] ^= 1;
        assert_eq!(
            verify_signed_data(&detached, Content::Detached(&other), &[]).map(|_| ()),
            Err(CmsProblem::MessageDigestMismatch.into())
        );
        // No content for a detached signature; content given to an attached one.
        assert_eq!(
            verify_signed_data(&detached, Content::Attached, &[]).map(|_| ()),
            Err(CmsProblem::ContentMissing.into())
        );
        // A digest under another algorithm than the signer's.
        let d = HashAlgorithm::Sha512.digest(BID);
        assert_eq!(
            verify_signed_data(
                &detached,
                Content::DetachedDigest {
                    algorithm: HashAlgorithm::Sha512,
                    digest: &d
                },
                &[]
            )
            .map(|_| ()),
            Err(CmsProblem::DigestAlgorithmMismatch.into())
        );
        // A changed byte in the signed attributes: the signing time (UTCTime "260101…").
        let tampered = flip(&detached, b"260101000000Z", 11);
        assert_eq!(
            verify_signed_data(&tampered, Content::Detached(BID), &[]).map(|_| ()),
            Err(Error::BadSignature)
        );
        // The wrong certificate: the message carries another signer's certificate (and the
        // caller offers it too): the signer is not found, nothing else is accepted.
        let q = pki(sm2, T0);
        let swapped = SignedDataBuilder::new(ContentTypes::Pkcs7, oids::PKCS7_DATA)
            .signer(
                verify_signed_data(&detached, Content::Detached(BID), &[])
                    .expect("ok")
                    .signers
                    .remove(0)
                    .signer_info,
            )
            .certificates([&q.signer]);
        assert_eq!(
            swapped.build().map(|_| ()),
            Err(CmsProblem::SignerCertificateMissing.into())
        );
        // A changed byte in the signature value.
        let mut wrong_sig = detached.clone();
        let n = wrong_sig.len();
        wrong_sig[n - 3] ^= 1; // inside the signature value
        assert!(verify_signed_data(&wrong_sig, Content::Detached(BID), &[]).is_err());
        // Not a SignedData at all.
        assert!(verify_signed_data(p.signer.to_der(), Content::Attached, &[]).is_err());
        // Truncations and single-byte changes never panic.
        for cut in (0..detached.len()).step_by(7) {
            let _ = verify_signed_data(&detached[..cut], Content::Detached(BID), &[]);
        }
        for i in (0..detached.len()).step_by(3) {
            let mut m = detached.clone();
            m[i] ^= 0x55;
            if let Ok(v) = verify_signed_data(&m, Content::Detached(BID), &[]) {
                // Only changes outside what is signed (e.g. unsigned certificate bytes
                // that still parse) may leave a valid signer, and then the signer is ours.
                assert_eq!(v.signers[0].cert.public_key(), p.signer.public_key());
            }
        }
    }
}

#[test]
fn timestamps_are_issued_added_and_checked() {
    for sm2 in [true, false] {
        let p = pki(sm2, T0);
        let chain = p.chain();
        let tsa = tsa(&p, &chain);
        let der = sign_data(
            BID,
            false,
            ContentTypes::Pkcs7,
            p.signer_key.signer(),
            &p.signer,
            &chain,
            Some(T0),
        )
        .expect("sign");
        let v = verify_signed_data(&der, Content::Detached(BID), &[]).expect("verify");
        let mut info = v.signers[0].signer_info.clone();
        let alg = if sm2 {
            HashAlgorithm::Sm3
        } else {
            HashAlgorithm::Sha256
        };
        let req = info.timestamp_request(alg).expect("request");
        let req = TimeStampRequest::from_der(&req.to_der().expect("der")).expect("parse");
        assert!(req.cert_req() && req.nonce().is_some());
        let token = tsp::issue_token(&req, &[0x01, 0x02], T0 + 5, &tsa).expect("token");
        let resp = TimeStampResponse::from_der(&tsp::response_granted(&token).expect("resp"))
            .expect("parse");
        let ts = resp.check(&req, &[]).expect("response accepted");
        assert_eq!(ts.gen_time, T0 + 5);
        assert_eq!(ts.serial, vec![0x01, 0x02]);
        assert_eq!(ts.policy, oids::DEFAULT_TSA_POLICY);
        assert_eq!(ts.tsa_cert, p.tsa);
        assert!(ts.cert_included);
        verify_chain_without_revocation(
            &ts.tsa_cert,
            &chain,
            std::slice::from_ref(&p.root),
            ts.gen_time,
            RequiredUsage::Signing,
        )
        .expect("TSA chain");

        let added = info.add_timestamp_token(&token, &[]).expect("added");
        assert_eq!(added.gen_time, T0 + 5);
        assert_eq!(
            info.timestamp_tokens().expect("tokens"),
            vec![token.clone()]
        );
        let stamped = cms::add_timestamp_to_signed_data(&der, &token, Content::Detached(BID), &[])
            .expect("stamped");
        let v2 = verify_signed_data(&stamped, Content::Detached(BID), &[]).expect("verify");
        assert_eq!(v2.signers[0].timestamps.len(), 1);
        assert_eq!(v2.signers[0].timestamps[0].gen_time, T0 + 5);

        // A timestamp over another signature is refused, when adding and when verifying.
        let other = sign_data(
            b"other",
            true,
            ContentTypes::Pkcs7,
            p.signer_key.signer(),
            &p.signer,
            &[],
            Some(T0),
        )
        .expect("other");
        let other_info = verify_signed_data(&other, Content::Attached, &[])
            .expect("v")
            .signers
            .remove(0)
            .signer_info;
        let other_req = other_info.timestamp_request(alg).expect("req");
        let other_token = tsp::issue_token(&other_req, &[3], T0, &tsa).expect("token");
        let mut target = v.signers[0].signer_info.clone();
        assert_eq!(
            target.add_timestamp_token(&other_token, &[]).map(|_| ()),
            Err(CmsProblem::TimestampImprintMismatch.into())
        );
        assert_eq!(
            cms::add_timestamp_to_signed_data(&der, &other_token, Content::Detached(BID), &[])
                .map(|_| ()),
            Err(CmsProblem::TimestampImprintMismatch.into())
        );
        // A response for another request: imprint and nonce are checked.
        assert_eq!(
            TimeStampResponse::from_der(&tsp::response_granted(&other_token).expect("r"))
                .expect("p")
                .check(&req, &[])
                .map(|_| ()),
            Err(CmsProblem::TimestampImprintMismatch.into())
        );
        let replay = TimeStampRequest::new(alg, req.imprint()).expect("same imprint, new nonce");
        assert_eq!(
            resp.check(&replay, &[]).map(|_| ()),
            Err(CmsProblem::TimestampNonceMismatch.into())
        );
        // A token whose TSTInfo was changed (the genTime) does not verify.
        let forged = flip(&token, b"Z\x30", 0); // genTime's trailing Z then accuracy
        assert!(tsp::verify_token(&forged, &[]).is_err());
        // certReq false: no certificates in the token, so the caller supplies the TSA's.
        let bare =
            tsp::issue_token(&req.clone().with_cert_req(false), &[9], T0, &tsa).expect("token");
        assert_eq!(
            tsp::verify_token(&bare, &[]).map(|_| ()),
            Err(CmsProblem::SignerCertificateMissing.into())
        );
        let t = tsp::verify_token(&bare, std::slice::from_ref(&p.tsa)).expect("with cert");
        assert!(!t.cert_included);
        // A signing certificate (no time-stamping EKU) cannot issue tokens, and tokens it
        // signs anyway are refused.
        let not_tsa = TsaSigner {
            key: p.signer_key.signer(),
            cert: &p.signer,
            chain: &chain,
            policy: oids::DEFAULT_TSA_POLICY,
        };
        assert_eq!(
            tsp::issue_token(&req, &[1], T0, &not_tsa).map(|_| ()),
            Err(CmsProblem::NotTsaCertificate.into())
        );
        assert!(tsa.cert.is_time_stamping_only() && !p.signer.is_time_stamping_only());
    }
}

#[test]
fn rejection_responses() {
    let der = tsp::response_rejected(FailureInfo::BadAlg, "unsupported hash").expect("der");
    let r = TimeStampResponse::from_der(&der).expect("parse");
    assert_eq!(r.status, 2);
    assert_eq!(r.status_text, vec!["unsupported hash".to_owned()]);
    assert_eq!(r.fail_info.as_deref(), Some(&[0x80u8][..]));
    let req = TimeStampRequest::new(HashAlgorithm::Sm3, &[0u8; 32]).expect("req");
    assert_eq!(
        r.check(&req, &[]).map(|_| ()),
        Err(CmsProblem::TimestampRejected { status: 2 }.into())
    );
    let der = tsp::response_rejected(FailureInfo::UnacceptedPolicy, "policy").expect("der");
    let r = TimeStampResponse::from_der(&der).expect("parse");
    assert_eq!(r.fail_info.as_deref(), Some(&[0x00u8, 0x01][..]));
    // A request with an unknown hash or a wrong imprint length.
    assert!(TimeStampRequest::new(HashAlgorithm::Sha256, &[0u8; 31]).is_err());
}

/// GB/T 35275 SignedData made by CFCA's SADK (`data/cms/README.md`): SM2 signature over
/// the content itself (no signed attributes), content types 1.2.156.10197.6.1.4.2.x.
#[test]
fn vector_cfca_sadk_gbt35275_signed_data() {
    let content = b"Hello Secret World!";
    let attached = data("cfca-sadk-attached.p7");
    let v = verify_signed_data(&attached, Content::Attached, &[]).expect("SADK attached");
    assert_eq!(v.content_types, ContentTypes::GbT35275);
    assert_eq!(v.econtent_type, oids::GM_DATA);
    assert_eq!(v.content.as_deref(), Some(&content[..]));
    let [s] = &v.signers[..] else {
        panic!("one signer")
    };
    assert_eq!(
        s.cert.subject_common_name().expect("cn").as_deref(),
        Some("Jon Snow")
    );
    assert_eq!(s.digest_algorithm, HashAlgorithm::Sm3);
    assert!(s.attributes.is_none());

    let detached = data("cfca-sadk-detached.p7");
    verify_signed_data(&detached, Content::Detached(content), &[]).expect("SADK detached");
    assert_eq!(
        verify_signed_data(&detached, Content::Detached(b"Hello Secret World?"), &[]).map(|_| ()),
        Err(Error::BadSignature)
    );
    // Without signed attributes a digest cannot check the signature.
    let d = HashAlgorithm::Sm3.digest(content);
    assert_eq!(
        verify_signed_data(
            &detached,
            Content::DetachedDigest {
                algorithm: HashAlgorithm::Sm3,
                digest: &d
            },
            &[]
        )
        .map(|_| ()),
        Err(CmsProblem::ContentNeeded.into())
    );
    let tampered = flip(&attached, b"Secret", 0);
    assert_eq!(
        verify_signed_data(&tampered, Content::Attached, &[]).map(|_| ()),
        Err(Error::BadSignature)
    );
}

/// An RFC 3161 response from a Sigstore timestamp authority (`data/cms/README.md`).
#[test]
fn vector_sigstore_tsa_response() {
    let req = TimeStampRequest::from_der(&data("tsa-sha512.tsq")).expect("request");
    assert_eq!(req.algorithm(), HashAlgorithm::Sha512);
    assert_eq!(req.imprint(), &HashAlgorithm::Sha512.digest(b"hello")[..]);
    let resp = TimeStampResponse::from_der(&data("tsa-sha512.tsr")).expect("response");
    assert_eq!(resp.status, 0);
    let ts = resp.check(&req, &[]).expect("accepted");
    // 2024-10-08T15:40:32Z, as `openssl ts -reply -text` shows it.
    assert_eq!(ts.gen_time, 1_728_402_032);
    assert_eq!(
        hex::encode_upper(&ts.serial),
        "797035501F358571FED54952BEBBD000497461DC"
    );
    assert_eq!(ts.policy.to_string(), "1.3.6.1.4.1.57264.2");
    assert_eq!(
        hex::encode_upper(ts.nonce.as_deref().expect("nonce")),
        "36A44F9F4A391FD3"
    );
    assert_eq!(
        ts.tsa_cert.subject_common_name().expect("cn").as_deref(),
        Some("Test TSA Timestamping")
    );
    let pem = String::from_utf8(data("tsa-chain.pem")).expect("pem");
    let certs: Vec<Cert> = pem
        .split_inclusive("-----END CERTIFICATE-----\n")
        .filter(|b| b.contains("BEGIN"))
        .map(|b| Cert::from_pem(b.trim()).expect("cert"))
        .collect();
    assert_eq!(certs.len(), 3);
    verify_chain_without_revocation(
        &ts.tsa_cert,
        &certs[1..2],
        &certs[2..],
        ts.gen_time,
        RequiredUsage::Signing,
    )
    .expect("chain at genTime");
    // The same token does not cover other data.
    assert_eq!(
        ts.check_imprint(
            HashAlgorithm::Sha512,
            &HashAlgorithm::Sha512.digest(b"hellO")
        )
        .map(|_| ()),
        Err(CmsProblem::TimestampImprintMismatch.into())
    );
    // A changed byte in the TSTInfo (the serial) breaks the signature.
    let token = resp.token.expect("token");
    let tampered = flip(&token, &ts.serial, 2);
    assert!(tsp::verify_token(&tampered, &[]).is_err());
}

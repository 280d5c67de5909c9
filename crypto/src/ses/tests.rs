//! Unit tests: seals made and read back, signatures by listed and unlisted signers, validity,
//! tampering, timestamps.

use super::*;
use crate::cms::oids::DEFAULT_TSA_POLICY;
use crate::cms::tsp::{self, TsaSigner};
use crate::cms::{HashAlgorithm, TimeStampRequest};
use crate::x509::test_support::*;
use crate::x509::{Cert, CertProfile, ca_subject, enterprise_subject};

/// A 1×1 PNG (the seal code does not decode pictures; the server checks them).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";

struct World {
    pki: Pki,
    maker_key: crate::sm2::Sm2PrivateKey,
    maker: Cert,
    tsa_key: crate::sm2::Sm2PrivateKey,
    tsa: Cert,
}

fn world() -> World {
    let pki = sm2_pki();
    let maker_key = key();
    let maker = Cert::issue(
        &template(
            CertProfile::Signing,
            ca_subject("Bidkey Seal Maker", "Bidkey").expect("name"),
            &maker_key,
        ),
        &pki.ca,
        &pki.ca_key,
    )
    .expect("maker");
    let tsa_key = key();
    let tsa = Cert::issue(
        &template(
            CertProfile::TimeStamping,
            ca_subject("TSA", "Bidkey").expect("name"),
            &tsa_key,
        ),
        &pki.ca,
        &pki.ca_key,
    )
    .expect("tsa");
    World {
        pki,
        maker_key,
        maker,
        tsa_key,
        tsa,
    }
}

fn content(_w: &World, certs: Vec<Cert>) -> SealContent {
    SealContent {
        es_id: "91350100M000100Y43-0001".into(),
        vid: "Bidkey".into(),
        seal_type: 1,
        name: "测试建设有限公司合同专用章".into(),
        signer_certs: certs,
        create_date: T0,
        valid_start: T0,
        valid_end: T0 + 30 * DAY,
        picture: SealPicture {
            kind: "PNG".into(),
            data: PNG.to_vec(),
            width_mm: 40,
            height_mm: 40,
        },
    }
}

fn seal(w: &World) -> Vec<u8> {
    make_seal(
        &content(w, vec![w.pki.sign.clone()]),
        &w.maker,
        &w.maker_key,
    )
    .expect("seal")
}

const HASH: [u8; 32] = [7u8; 32];

fn signed(w: &World, seal: &[u8], at: u64) -> Vec<u8> {
    sign(
        seal,
        at,
        &HASH,
        "name=%E6%8A%95%E6%A0%87.pdf;page=1",
        SesSigner {
            cert: &w.pki.sign,
            key: &w.pki.sign_key,
        },
    )
    .expect("sign")
}

fn token_over(w: &World, data: &[u8], at: u64) -> Vec<u8> {
    let req = TimeStampRequest::new(HashAlgorithm::Sm3, &HashAlgorithm::Sm3.digest(data))
        .expect("req")
        .with_cert_req(true);
    tsp::issue_token(
        &req,
        &[1],
        at,
        &TsaSigner {
            key: &w.tsa_key,
            cert: &w.tsa,
            chain: &[],
            policy: DEFAULT_TSA_POLICY,
        },
    )
    .expect("token")
}

#[test]
fn a_seal_reads_back_as_made() {
    let w = world();
    let der = seal(&w);
    let s = verify_seal(&der).expect("verify");
    assert_eq!(s.name, "测试建设有限公司合同专用章");
    assert_eq!((s.version, s.seal_type, s.cert_list_type), (4, 1, 1));
    assert_eq!(s.es_id, "91350100M000100Y43-0001");
    assert_eq!(s.picture.data, PNG);
    assert_eq!((s.picture.width_mm, s.picture.height_mm), (40, 40));
    assert_eq!((s.valid_start, s.valid_end), (T0, T0 + 30 * DAY));
    assert_eq!(s.maker, w.maker);
    assert!(s.lists(&w.pki.sign));
    assert!(!s.lists(&w.maker));
    assert!(s.valid_at(T0) && !s.valid_at(T0 + 31 * DAY) && !s.valid_at(T0 - 1));
}

#[test]
fn a_seal_with_a_changed_picture_is_refused() {
    let w = world();
    let der = seal(&w);
    let at = der
        .windows(PNG.len())
        .position(|x| x == PNG)
        .expect("picture inside");
    let mut bad = der.clone();
    bad[at + 20] ^= 1;
    assert_eq!(
        verify_seal(&bad).map(|_| ()),
        Err(SealProblem::MakerSignatureInvalid.into())
    );
    // And inside a signature, the whole sealing is refused.
    let sig = signed(&w, &der, T0 + 10);
    let at = sig
        .windows(PNG.len())
        .position(|x| x == PNG)
        .expect("picture inside");
    let mut bad = sig.clone();
    bad[at + 20] ^= 1;
    assert!(verify_signature(&bad, None, &[]).is_err());
}

#[test]
fn a_seal_needs_a_listed_certificate_and_the_makers_key() {
    let w = world();
    assert_eq!(
        make_seal(&content(&w, vec![]), &w.maker, &w.maker_key).map(|_| ()),
        Err(SealProblem::EmptyCertList.into())
    );
    assert_eq!(
        make_seal(
            &content(&w, vec![w.pki.sign.clone()]),
            &w.maker,
            &w.pki.sign_key
        )
        .map(|_| ()),
        Err(Error::InvalidKey)
    );
}

#[test]
fn a_listed_signer_within_validity_passes() {
    let w = world();
    let der = signed(&w, &seal(&w), T0 + 10);
    let v = verify_signature(&der, Some(&HASH), &[]).expect("verify");
    assert!(v.signer_listed);
    assert_eq!(v.signer, w.pki.sign);
    assert_eq!(v.time_info, T0 + 10);
    assert_eq!(v.property_info, "name=%E6%8A%95%E6%A0%87.pdf;page=1");
    assert!(v.timestamp.is_none());
    v.check().expect("passes");
    assert_eq!(
        verify_signature(&der, Some(&[8u8; 32]), &[]).map(|_| ()),
        Err(SealProblem::DataHashMismatch.into())
    );
}

#[test]
fn a_signer_not_in_the_seals_list_is_reported_and_refused() {
    let w = world();
    let other_key = key();
    let other = Cert::issue(
        &template(
            CertProfile::Signing,
            enterprise_subject("另一家公司", USCC).expect("name"),
            &other_key,
        ),
        &w.pki.ca,
        &w.pki.ca_key,
    )
    .expect("other");
    let der = sign(
        &seal(&w),
        T0 + 10,
        &HASH,
        "x",
        SesSigner {
            cert: &other,
            key: &other_key,
        },
    )
    .expect("anyone can sign bytes");
    let v = verify_signature(&der, Some(&HASH), &[]).expect("signatures verify");
    assert!(!v.signer_listed);
    assert_eq!(v.check(), Err(SealProblem::SignerNotListed.into()));
}

#[test]
fn an_expired_seal_is_refused_by_the_timestamped_time() {
    let w = world();
    let seal = seal(&w);
    // Claimed inside validity, but the timestamp says after validEnd.
    let der = signed(&w, &seal, T0 + 10);
    let v = verify_signature(&der, None, &[]).expect("verify");
    let token = token_over(&w, &v.signature, T0 + 40 * DAY);
    let stamped = add_timestamp(&der, &token, &[]).expect("stamp");
    let v = verify_signature(&stamped, Some(&HASH), &[]).expect("verify");
    assert_eq!(v.used_at(), T0 + 40 * DAY);
    assert_eq!(v.check(), Err(SealProblem::OutsideValidity.into()));
    // Before validStart too.
    let early = signed(&w, &seal, T0 - 10);
    assert_eq!(
        verify_signature(&early, None, &[]).expect("verify").check(),
        Err(SealProblem::OutsideValidity.into())
    );
}

#[test]
fn a_timestamp_must_cover_the_signature_value() {
    let w = world();
    let der = signed(&w, &seal(&w), T0 + 10);
    let v = verify_signature(&der, None, &[]).expect("verify");
    let good = token_over(&w, &v.signature, T0 + 20);
    let stamped = add_timestamp(&der, &good, &[]).expect("stamp");
    let v = verify_signature(&stamped, Some(&HASH), &[]).expect("verify");
    assert_eq!(v.timestamp.as_ref().map(|t| t.gen_time), Some(T0 + 20));
    v.check().expect("valid");
    let other = token_over(&w, b"something else", T0 + 20);
    assert!(add_timestamp(&der, &other, &[]).is_err());
}

#[test]
fn a_changed_tbs_sign_is_refused() {
    let w = world();
    let der = signed(&w, &seal(&w), T0 + 10);
    let at = der
        .windows(HASH.len())
        .position(|x| x == HASH)
        .expect("hash inside");
    let mut bad = der.clone();
    bad[at] ^= 1;
    assert_eq!(
        verify_signature(&bad, None, &[]).map(|_| ()),
        Err(Error::BadSignature)
    );
}

#[test]
fn seal_parser_never_panics() {
    let w = world();
    fuzz_parser(&seal(&w), verify_seal);
}

#[test]
fn a_seal_signature_rides_in_the_cms_of_the_same_signer_and_digest() {
    use crate::cms::{
        Content, ContentTypes, SignedDataBuilder, SignerInfo, add_ses_signature_to_signed_data,
        verify_signed_data,
    };
    let w = world();
    let types = ContentTypes::Pkcs7;
    let info = SignerInfo::sign(
        &w.pki.sign_key,
        &w.pki.sign,
        types,
        types.data(),
        &HASH,
        Some(T0 + 10),
    )
    .expect("signer info");
    let cms = SignedDataBuilder::new(types, types.data())
        .signer(info)
        .certificates([&w.pki.sign])
        .build()
        .expect("cms");
    let content = Content::DetachedDigest {
        algorithm: HashAlgorithm::Sm3,
        digest: &HASH,
    };
    let ses = signed(&w, &seal(&w), T0 + 10);
    let with = add_ses_signature_to_signed_data(&cms, &ses, content).expect("added");
    let v = verify_signed_data(&with, content, &[]).expect("still verifies");
    assert_eq!(
        v.signers[0].signer_info.ses_signature().expect("read"),
        Some(ses.clone())
    );
    // A seal signature over another digest does not go into this CMS.
    let other = sign(
        &seal(&w),
        T0 + 10,
        &[9u8; 32],
        "x",
        SesSigner {
            cert: &w.pki.sign,
            key: &w.pki.sign_key,
        },
    )
    .expect("other");
    assert!(add_ses_signature_to_signed_data(&cms, &other, content).is_err());
}

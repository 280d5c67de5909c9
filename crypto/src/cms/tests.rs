//! Unit tests that need the crate's insides (SignerInfo fields, the x509 test PKI).

use super::*;
use crate::CmsProblem;
use crate::x509::test_support::*;
use crate::x509::{Cert, CertProfile, ca_subject};
use cms::cert::IssuerAndSerialNumber;
use cms::signed_data::SignerIdentifier;

const BID: &[u8] = b"bid";

#[test]
fn signing_certificate_v2_binds_the_certificate_not_just_the_key() {
    // Two certificates for one key: a signature verifies under both keys, but the signed
    // attributes name the first, so a message claiming the second is refused.
    let pki = sm2_pki();
    let other = Cert::issue(
        &template(
            CertProfile::Signing,
            pki.sign.subject().clone(),
            &pki.sign_key,
        ),
        &pki.ca,
        &pki.ca_key,
    )
    .expect("second certificate, same key");
    let mut info = SignerInfo::sign(
        &pki.sign_key,
        &pki.sign,
        ContentTypes::Pkcs7,
        oids::PKCS7_DATA,
        &HashAlgorithm::Sm3.digest(BID),
        Some(T0),
    )
    .expect("sign");
    info.inner.sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: other.issuer().clone(),
        serial_number: other
            .certificate()
            .tbs_certificate()
            .serial_number()
            .clone(),
    });
    let built = SignedDataBuilder::new(ContentTypes::Pkcs7, oids::PKCS7_DATA)
        .signer(info)
        .certificates([&other])
        .build();
    assert_eq!(
        built.map(|_| ()),
        Err(CmsProblem::SigningCertificateMismatch.into())
    );
}

#[test]
fn content_type_attribute_must_match_the_content() {
    let pki = sm2_pki();
    let info = SignerInfo::sign(
        &pki.sign_key,
        &pki.sign,
        ContentTypes::Pkcs7,
        oids::CT_TST_INFO,
        &HashAlgorithm::Sm3.digest(BID),
        Some(T0),
    )
    .expect("sign");
    assert_eq!(
        SignedDataBuilder::new(ContentTypes::Pkcs7, oids::PKCS7_DATA)
            .attach(BID)
            .signer(info)
            .certificates([&pki.sign])
            .build()
            .map(|_| ()),
        Err(CmsProblem::ContentTypeMismatch.into())
    );
}

#[test]
fn time_stamping_profile_has_a_critical_time_stamping_eku_only() {
    let pki = sm2_pki();
    let tsa = Cert::issue(
        &template(
            CertProfile::TimeStamping,
            ca_subject("TSA", "Bidkey").expect("name"),
            &key(),
        ),
        &pki.ca,
        &pki.ca_key,
    )
    .expect("tsa");
    assert!(tsa.is_time_stamping_only());
    assert_eq!(
        tsa.extended_key_usage(),
        Some(&[crate::x509::oids::KP_TIME_STAMPING][..])
    );
    assert!(!tsa.has_unknown_critical_extension());
    let ku = tsa.key_usage().expect("ku");
    assert!(ku.digital_signature && !ku.key_cert_sign);
    assert!(!pki.sign.is_time_stamping_only());
    assert_eq!(pki.sign.extended_key_usage(), None);
}

#[test]
fn signed_attributes_are_a_der_set_with_the_four_attributes() {
    let pki = sm2_pki();
    let md = HashAlgorithm::Sm3.digest(BID);
    let der = signed_attributes_der(oids::GM_DATA, HashAlgorithm::Sm3, &md, Some(T0), &pki.sign)
        .expect("attrs");
    assert_eq!(der[0], 0x31);
    let v = SignedAttributeValues::parse(&der).expect("parse");
    assert_eq!(v.content_type, oids::GM_DATA);
    assert_eq!(v.message_digest, md);
    assert_eq!(v.signing_time, Some(T0));
    v.signing_certificate_v2
        .expect("ESS")
        .check(&pki.sign)
        .expect("names the signer");
    // Deterministic: the same inputs give the same bytes (a phone can rebuild and compare).
    assert_eq!(
        signed_attributes_der(oids::GM_DATA, HashAlgorithm::Sm3, &md, Some(T0), &pki.sign)
            .expect("again"),
        der
    );
    assert!(
        signed_attributes_der(
            oids::GM_DATA,
            HashAlgorithm::Sm3,
            &md[..31],
            Some(T0),
            &pki.sign
        )
        .is_err()
    );
    fuzz_parser(&der, SignedAttributeValues::parse);
}

#[test]
fn parsers_of_untrusted_input_do_not_panic() {
    let pki = sm2_pki();
    let der = sign_data(
        BID,
        true,
        ContentTypes::GbT35275,
        &pki.sign_key,
        &pki.sign,
        &[],
        Some(T0),
    )
    .expect("sign");
    fuzz_parser(&der, |d| verify_signed_data(d, Content::Attached, &[]));
    let req = TimeStampRequest::new(HashAlgorithm::Sm3, &[7u8; 32]).expect("req");
    fuzz_parser(&req.to_der().expect("der"), TimeStampRequest::from_der);
}

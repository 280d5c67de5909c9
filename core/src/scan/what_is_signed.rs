//! What the phone signs for a document: the CMS signed attributes (RFC 5652 §5.3) it builds
//! itself from the fields it showed, never bytes chosen by the platform.
//!
//! - contentType `id-data` (the document is external data; PKCS#7 spelling, ADR 0009);
//! - messageDigest: the document's SM3 digest from the request, as shown;
//! - signingTime: the server's trusted time from the co-signing session (the phone's own
//!   clock can be set; the platform's timestamp then proves the time);
//! - signingCertificateV2: the signing certificate.
//!
//! The two-party signature over these bytes (SM2 with the default ID over the DER `SET`)
//! becomes a SignerInfo, checked before it leaves, in a detached SignedData with the chain.

use super::view::DocumentRefusal;
use crate::error::{CoreError, Result};
use bidkey_crypto::cms::{ContentTypes, HashAlgorithm, SignedDataBuilder, SignerInfo};
use bidkey_crypto::cms::{digest_for, signed_attributes_der};
use bidkey_crypto::x509::Cert;
use bidkey_protocol::scan::{DigestAlg, DocumentToSign, SealPlacement};

/// Bidkey writes the PKCS#7 content types (what most relying parties and PDF readers
/// expect); verifiers accept the GB/T 35275 ones too.
const TYPES: ContentTypes = ContentTypes::Pkcs7;

/// The DER `SET OF Attribute` the phone co-signs for `doc` with `signer`'s key at
/// `server_time` (Unix seconds from the co-signing session).
pub fn signed_attributes(doc: &DocumentToSign, server_time: i64, signer: &Cert) -> Result<Vec<u8>> {
    doc.check()
        .map_err(|p| CoreError::from(DocumentRefusal::Invalid(p)))?;
    if doc.digest_alg != DigestAlg::Sm3
        || digest_for(signer.public_key().signature_algorithm()) != HashAlgorithm::Sm3
    {
        return Err(DocumentRefusal::DigestAlgorithm.into());
    }
    let time =
        u64::try_from(server_time)
            .ok()
            .filter(|t| *t > 0)
            .ok_or(CoreError::InvalidInput {
                field: "server time",
            })?;
    Ok(signed_attributes_der(
        TYPES.data(),
        HashAlgorithm::Sm3,
        &doc.digest,
        Some(time),
        signer,
    )?)
}

/// The detached SignedData (DER) for one document: the SignerInfo assembled from
/// `signed_attrs` and the co-signature over them (verified under `signer` first), with the
/// signer's certificate and its issuing CA. What a PDF's `/Contents` carries.
pub fn signed_document(
    signer: &Cert,
    issuing: &Cert,
    signed_attrs: &[u8],
    signature_der: &[u8],
) -> Result<Vec<u8>> {
    let info = SignerInfo::assemble(signer, TYPES, signed_attrs, signature_der)?;
    // A cached issuing CA that has since rolled over is not the signer's: leave it out
    // rather than ship a wrong chain (relying parties fetch it from /v1/ca/chain).
    let chain: Vec<&Cert> = if issuing.subject() == signer.issuer() {
        vec![signer, issuing]
    } else {
        vec![signer]
    };
    Ok(SignedDataBuilder::new(TYPES, TYPES.data())
        .signer(info)
        .certificates(chain)
        .build()?)
}

/// The `propertyInfo` (IA5String) of a seal signature: the document's name percent-encoded
/// (UTF-8), its page count, and where the seal sits, e.g.
/// `bidkey-pdf;name=%E6%8A%95%E6%A0%87.pdf;pages=3;page=1;x_mm=120;y_mm=200;w_mm=40;h_mm=40`.
pub fn seal_property_info(doc: &DocumentToSign, place: &SealPlacement) -> String {
    let mut name = String::new();
    for b in doc.name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    format!(
        "bidkey-pdf;name={name};pages={};page={};x_mm={};y_mm={};w_mm={};h_mm={}",
        doc.page_count, place.page, place.x_mm, place.y_mm, place.width_mm, place.height_mm
    )
}

impl From<DocumentRefusal> for CoreError {
    fn from(r: DocumentRefusal) -> Self {
        use bidkey_protocol::scan::DocumentProblem as P;
        CoreError::InvalidInput {
            field: match r {
                DocumentRefusal::Invalid(P::Name) => "document name",
                DocumentRefusal::Invalid(P::Digest) => "document digest",
                DocumentRefusal::Invalid(P::PageCount) => "page count",
                DocumentRefusal::Invalid(P::Placement) => "seal position",
                DocumentRefusal::Invalid(P::SealId) | DocumentRefusal::SealNotUsable(_) => "seal",
                DocumentRefusal::DigestAlgorithm => "digest algorithm",
                DocumentRefusal::DuplicateName => "document name",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidkey_crypto::cms::{Content, SignedAttributeValues, verify_signed_data};
    use bidkey_crypto::sm2::{DEFAULT_ID, Sm2PrivateKey};
    use bidkey_crypto::x509::{CertProfile, CertTemplate, ca_subject, enterprise_subject};

    const T0: u64 = 1_767_225_600;

    struct Pki {
        ca: Cert,
        sign_key: Sm2PrivateKey,
        sign: Cert,
    }

    fn pki() -> Pki {
        let key = || Sm2PrivateKey::make_random().expect("key");
        let root_key = key();
        let root = Cert::self_signed_root(
            ca_subject("根", "Bidkey").expect("name"),
            &root_key,
            T0,
            T0 + 1000 * 86_400,
        )
        .expect("root");
        let template = |profile, subject, k: &Sm2PrivateKey| CertTemplate {
            profile,
            subject,
            public_key_spki: bidkey_crypto::x509::TbsSigner::public_key_spki(k).expect("spki"),
            not_before: T0,
            not_after: T0 + 365 * 86_400,
        };
        let ca_key = key();
        let ca = Cert::issue(
            &template(
                CertProfile::IssuingCa,
                ca_subject("签发", "Bidkey").expect("name"),
                &ca_key,
            ),
            &root,
            &root_key,
        )
        .expect("ca");
        let sign_key = key();
        let sign = Cert::issue(
            &template(
                CertProfile::Signing,
                enterprise_subject("测试建设有限公司", "91350100M000100Y43").expect("name"),
                &sign_key,
            ),
            &ca,
            &ca_key,
        )
        .expect("sign");
        Pki { ca, sign_key, sign }
    }

    fn doc() -> DocumentToSign {
        DocumentToSign {
            name: "投标文件.pdf".into(),
            digest_alg: DigestAlg::Sm3,
            digest: HashAlgorithm::Sm3.digest(b"bid"),
            page_count: 3,
            seal: None,
        }
    }

    #[test]
    fn attributes_say_what_was_shown_at_the_server_time() {
        let p = pki();
        let der = signed_attributes(&doc(), T0 as i64 + 5, &p.sign).expect("attrs");
        assert_eq!(der[0], 0x31, "a DER SET");
        let v = SignedAttributeValues::parse(&der).expect("parse");
        assert_eq!(v.content_type, TYPES.data());
        assert_eq!(v.message_digest, doc().digest);
        assert_eq!(v.signing_time, Some(T0 + 5));
        v.signing_certificate_v2
            .expect("signingCertificateV2")
            .check(&p.sign)
            .expect("names the signer");
    }

    #[test]
    fn refuses_what_it_cannot_show_truthfully() {
        let p = pki();
        let mut d = doc();
        d.digest = vec![1; 100];
        assert_eq!(
            signed_attributes(&d, T0 as i64, &p.sign),
            Err(CoreError::InvalidInput {
                field: "document digest"
            })
        );
        let mut d = doc();
        d.digest_alg = DigestAlg::Sha256;
        assert!(signed_attributes(&d, T0 as i64, &p.sign).is_err());
        assert!(signed_attributes(&doc(), 0, &p.sign).is_err());
    }

    #[test]
    fn signed_document_verifies_over_the_digest_and_nothing_else() {
        let p = pki();
        let attrs = signed_attributes(&doc(), T0 as i64, &p.sign).expect("attrs");
        let sig = p.sign_key.sign(DEFAULT_ID, &attrs).expect("sign").to_der();
        let der = signed_document(&p.sign, &p.ca, &attrs, &sig).expect("cms");
        let ok = verify_signed_data(
            &der,
            Content::DetachedDigest {
                algorithm: HashAlgorithm::Sm3,
                digest: &doc().digest,
            },
            &[],
        )
        .expect("verifies");
        assert_eq!(ok.signers.len(), 1);
        assert_eq!(ok.certificates.len(), 2, "the signer and its issuing CA");
        // An issuing CA that is not the signer's is left out.
        let alone = signed_document(&p.sign, &p.sign, &attrs, &sig).expect("cms");
        let parsed = verify_signed_data(
            &alone,
            Content::DetachedDigest {
                algorithm: HashAlgorithm::Sm3,
                digest: &doc().digest,
            },
            &[],
        )
        .expect("verifies");
        assert_eq!(parsed.certificates.len(), 1);
        assert!(
            verify_signed_data(
                &der,
                Content::DetachedDigest {
                    algorithm: HashAlgorithm::Sm3,
                    digest: &[9; 32],
                },
                &[],
            )
            .is_err()
        );
        // A signature over other attributes is refused before a SignerInfo exists.
        let mut other = doc();
        other.digest = vec![9; 32];
        let other_attrs = signed_attributes(&other, T0 as i64, &p.sign).expect("attrs");
        assert!(signed_document(&p.sign, &p.ca, &other_attrs, &sig).is_err());
    }
}

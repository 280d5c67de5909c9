//! `SignedData` (RFC 5652 §5; GB/T 35275 §8): building from SignerInfos, and verifying.

use super::algorithms::{ContentTypes, HashAlgorithm, digest_for, signature_algorithm_from};
use super::attributes::SignedAttributeValues;
use super::oids;
use super::signer_info::{SignerInfo, verify_signature};
use super::tsp::{VerifiedTimestamp, verify_token};
use crate::error::{CmsProblem, Error, Result};
use crate::x509::{Cert, SignatureAlgorithm, TbsSigner};
use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData as RawSignedData,
    SignerInfo as RawSignerInfo, SignerInfos,
};
use der::Tagged;
use der::asn1::{Any, AnyRef, ObjectIdentifier as Oid, OctetString, SetOfVec};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber};

/// Builds a `ContentInfo` holding a `SignedData`: content attached or detached, any number of
/// SignerInfos, and certificates (each signer's chain).
#[derive(Debug, Clone)]
pub struct SignedDataBuilder {
    types: ContentTypes,
    econtent_type: Oid,
    content: Option<Vec<u8>>,
    signers: Vec<SignerInfo>,
    certs: Vec<Cert>,
    outside_certs: Vec<Cert>,
}

impl SignedDataBuilder {
    /// A message of `econtent_type` (e.g. [`ContentTypes::data`]) in the `types` spelling.
    pub fn new(types: ContentTypes, econtent_type: Oid) -> Self {
        Self {
            types,
            econtent_type,
            content: None,
            signers: Vec::new(),
            certs: Vec::new(),
            outside_certs: Vec::new(),
        }
    }

    /// Carry the content inside the message (attached); without this it is detached.
    pub fn attach(mut self, content: &[u8]) -> Self {
        self.content = Some(content.to_vec());
        self
    }

    /// Add a signer.
    pub fn signer(mut self, signer: SignerInfo) -> Self {
        self.signers.push(signer);
        self
    }

    /// Add certificates (the signer's certificate and its chain); duplicates are dropped.
    pub fn certificates<'a>(mut self, certs: impl IntoIterator<Item = &'a Cert>) -> Self {
        for c in certs {
            if !self.certs.contains(c) {
                self.certs.push(c.clone());
            }
        }
        self
    }

    /// Signer certificates left out of the message (a verifier has them from elsewhere);
    /// used only to check the signatures before the message is returned.
    pub fn certificates_left_out<'a>(mut self, certs: impl IntoIterator<Item = &'a Cert>) -> Self {
        self.outside_certs.extend(certs.into_iter().cloned());
        self
    }

    /// DER of the `ContentInfo`. Each signer's certificate must be among the certificates
    /// (or [`Self::certificates_left_out`]), and with attached content each messageDigest
    /// must match it: nothing leaves here that its own verifier would refuse.
    pub fn build(self) -> Result<Vec<u8>> {
        if self.signers.is_empty() {
            return Err(CmsProblem::NoSigners.into());
        }
        let mut digest_algorithms = SetOfVec::new();
        for s in &self.signers {
            let alg = s.digest_algorithm()?;
            if !digest_algorithms
                .iter()
                .any(|a: &spki::AlgorithmIdentifierOwned| a.oid == alg.oid())
            {
                digest_algorithms.insert(alg.identifier())?;
            }
        }
        let mut certificates = SetOfVec::new();
        for c in &self.certs {
            certificates.insert(CertificateChoices::Certificate(c.certificate().clone()))?;
        }
        let econtent = self
            .content
            .as_deref()
            .map(|c| Any::encode_from(&OctetString::new(c)?))
            .transpose()?;
        // RFC 5652 §5.1: version 1 for id-data content with v1 SignerInfos, 3 otherwise.
        let is_data = self.econtent_type == oids::PKCS7_DATA || self.econtent_type == oids::GM_DATA;
        let version = if is_data {
            CmsVersion::V1
        } else {
            CmsVersion::V3
        };
        let signed = RawSignedData {
            version,
            digest_algorithms,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: self.econtent_type,
                econtent,
            },
            certificates: if self.certs.is_empty() {
                None
            } else {
                Some(CertificateSet(certificates))
            },
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(
                self.signers
                    .iter()
                    .map(|s| s.inner.clone())
                    .collect::<Vec<_>>(),
            )?),
        };
        let der = ContentInfo {
            content_type: self.types.signed_data(),
            content: Any::encode_from(&signed)?,
        }
        .to_der()?;
        // A detached message is checked for its signatures only: the content is not here.
        let content = self.content.as_ref().map(|_| Content::Attached);
        verify_inner(&der, content, &self.outside_certs, false)?;
        Ok(der)
    }
}

/// Sign `content` with a key held here and return the DER `ContentInfo`: one signer, the
/// signer's chain (`chain`, leaf excluded) included, `data` content type of `types`.
pub fn sign_data(
    content: &[u8],
    attached: bool,
    types: ContentTypes,
    signer: &dyn TbsSigner,
    cert: &Cert,
    chain: &[Cert],
    signing_time: Option<u64>,
) -> Result<Vec<u8>> {
    let digest = digest_for(cert.public_key().signature_algorithm());
    let info = SignerInfo::sign(
        signer,
        cert,
        types,
        types.data(),
        &digest.digest(content),
        signing_time,
    )?;
    let mut b = SignedDataBuilder::new(types, types.data())
        .signer(info)
        .certificates(std::iter::once(cert).chain(chain));
    if attached {
        b = b.attach(content);
    }
    b.build()
}

/// What a verifier compares the messageDigest with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content<'a> {
    /// The content is inside the message.
    Attached,
    /// Detached: the content itself.
    Detached(&'a [u8]),
    /// Detached: its digest, computed by the caller (e.g. streamed over a large file).
    DetachedDigest {
        algorithm: HashAlgorithm,
        digest: &'a [u8],
    },
}

/// A verified signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSigner {
    /// The certificate whose key made the signature. Its chain, validity and revocation are
    /// the caller's to check ([`crate::x509::verify_chain`]) at a trusted time, e.g. the
    /// timestamp's.
    pub cert: Cert,
    pub signature_algorithm: SignatureAlgorithm,
    pub digest_algorithm: HashAlgorithm,
    /// The signed attributes; `None` when the signature is over the content itself.
    pub attributes: Option<SignedAttributeValues>,
    /// Verified `signatureTimeStampToken`s over this signature.
    pub timestamps: Vec<VerifiedTimestamp>,
    pub signer_info: SignerInfo,
}

/// A verified SignedData.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignedData {
    /// Which content-type spelling the message used.
    pub content_types: ContentTypes,
    pub econtent_type: Oid,
    /// The attached content, if any.
    pub content: Option<Vec<u8>>,
    /// Every certificate in the message (ones of unsupported algorithms skipped).
    pub certificates: Vec<Cert>,
    pub signers: Vec<VerifiedSigner>,
}

/// Verify a `ContentInfo` with a `SignedData` (PKCS#7 or GB/T 35275 content types): every
/// signer's signature (over the DER `SET` of its signed attributes, or over the content when
/// there are none), contentType and messageDigest against the content, signingCertificateV2,
/// and each signatureTimeStampToken (token signature, TSA certificate, imprint = hash of the
/// signature value). `extra_certs` may supply signer certificates the message leaves out.
pub fn verify_signed_data(
    der: &[u8],
    content: Content<'_>,
    extra_certs: &[Cert],
) -> Result<VerifiedSignedData> {
    verify_inner(der, Some(content), extra_certs, true)
}

/// `content` `None`: signatures only (the builder's self-check of a detached message).
pub(crate) fn verify_inner(
    der: &[u8],
    content: Option<Content<'_>>,
    extra_certs: &[Cert],
    check_timestamps: bool,
) -> Result<VerifiedSignedData> {
    let ci = ContentInfo::from_der(der)?;
    let content_types =
        ContentTypes::of_signed_data(ci.content_type).ok_or(CmsProblem::NotSignedData)?;
    let signed_der = ci.content.to_der()?;
    let sd: RawSignedData = ci.content.decode_as()?;
    let econtent_type = sd.encap_content_info.econtent_type;
    let attached = sd
        .encap_content_info
        .econtent
        .as_ref()
        .map(|e| {
            e.decode_as::<OctetString>()
                .map(|o| o.into_bytes().into_vec())
                .map_err(|_| Error::malformed("eContent (OCTET STRING expected)"))
        })
        .transpose()?;
    let source = match (content, &attached) {
        (Some(Content::Attached) | None, Some(c)) => Source::Data(c),
        (Some(Content::Attached), None) => return Err(CmsProblem::ContentMissing.into()),
        (None, None) => Source::None,
        (Some(_), Some(_)) => return Err(CmsProblem::ContentGivenTwice.into()),
        (Some(Content::Detached(c)), None) => Source::Data(c),
        (Some(Content::DetachedDigest { algorithm, digest }), None) => {
            Source::Digest(algorithm, digest)
        }
    };
    let mut certificates = Vec::new();
    for choice in sd.certificates.iter().flat_map(|c| c.0.iter()) {
        if let CertificateChoices::Certificate(c) = choice {
            match Cert::from_der(&c.to_der()?) {
                Ok(cert) => certificates.push(cert),
                // A certificate we could never accept a signature from (RSA, other curves).
                Err(Error::UnsupportedAlgorithm(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let raw_signers = raw_signer_infos(&signed_der)?;
    if raw_signers.is_empty() {
        return Err(CmsProblem::NoSigners.into());
    }
    let mut signers = Vec::with_capacity(raw_signers.len());
    for raw in raw_signers {
        signers.push(verify_signer(
            raw,
            econtent_type,
            &source,
            certificates.iter().chain(extra_certs),
            extra_certs,
            check_timestamps,
        )?);
    }
    Ok(VerifiedSignedData {
        content_types,
        econtent_type,
        content: attached,
        certificates,
        signers,
    })
}

enum Source<'a> {
    Data(&'a [u8]),
    Digest(HashAlgorithm, &'a [u8]),
    None,
}

fn verify_signer<'c>(
    raw: &[u8],
    econtent_type: Oid,
    source: &Source<'_>,
    mut certs: impl Iterator<Item = &'c Cert>,
    extra_certs: &[Cert],
    check_timestamps: bool,
) -> Result<VerifiedSigner> {
    let info = SignerInfo {
        inner: RawSignerInfo::from_der(raw)?,
    };
    let cert = certs
        .find(|c| info.names(c))
        .ok_or(CmsProblem::SignerCertificateMissing)?
        .clone();
    let signature_algorithm = signature_algorithm_from(&info.inner.signature_algorithm)?;
    let digest_algorithm = info.digest_algorithm()?;
    if digest_algorithm != digest_for(signature_algorithm)
        || cert.public_key().signature_algorithm() != signature_algorithm
    {
        return Err(CmsProblem::DigestAlgorithmMismatch.into());
    }
    let signature = info.signature();
    let attributes = match signed_attrs_set_der(raw)? {
        Some(set_der) => {
            let attrs = SignedAttributeValues::parse(&set_der)?;
            if attrs.content_type != econtent_type {
                return Err(CmsProblem::ContentTypeMismatch.into());
            }
            let expected = match source {
                Source::Data(c) => Some(digest_algorithm.digest(c)),
                Source::Digest(alg, d) if *alg == digest_algorithm => Some(d.to_vec()),
                Source::Digest(..) => return Err(CmsProblem::DigestAlgorithmMismatch.into()),
                Source::None => None,
            };
            if expected.is_some_and(|d| d != attrs.message_digest) {
                return Err(CmsProblem::MessageDigestMismatch.into());
            }
            if let Some(sc) = &attrs.signing_certificate_v2 {
                sc.check(&cert)?;
            }
            verify_signature(cert.public_key(), signature_algorithm, &set_der, signature)?;
            Some(attrs)
        }
        None => {
            // RFC 5652 §5.3: without signed attributes the content must be plain data, and
            // the signature is over the content octets.
            if econtent_type != oids::PKCS7_DATA && econtent_type != oids::GM_DATA {
                return Err(CmsProblem::AttributeMissing("contentType").into());
            }
            match source {
                Source::Data(c) => {
                    verify_signature(cert.public_key(), signature_algorithm, c, signature)?
                }
                Source::Digest(..) => return Err(CmsProblem::ContentNeeded.into()),
                Source::None => {}
            }
            None
        }
    };
    let mut timestamps = Vec::new();
    if check_timestamps {
        for token in info.timestamp_tokens()? {
            let ts = verify_token(&token, extra_certs)?;
            ts.check_imprint_of(signature)?;
            timestamps.push(ts);
        }
    }
    Ok(VerifiedSigner {
        cert,
        signature_algorithm,
        digest_algorithm,
        attributes,
        timestamps,
        signer_info: info,
    })
}

/// The raw DER of each SignerInfo, in the order received.
fn raw_signer_infos(signed_data_der: &[u8]) -> Result<Vec<&[u8]>> {
    let seq = children(signed_data_der, Tag::Sequence)?;
    let set = seq
        .last()
        .filter(|tlv| tlv.first() == Some(&0x31))
        .ok_or(Error::malformed("SignedData signerInfos"))?;
    children(set, Tag::Set)
}

/// The signed attributes of a raw SignerInfo as the DER `SET` the signature covers: the
/// received `[0] IMPLICIT` bytes with the tag changed to SET (0x31), never a re-encoding,
/// so the bytes checked are the bytes signed.
fn signed_attrs_set_der(signer_info_der: &[u8]) -> Result<Option<Vec<u8>>> {
    let tagged = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(0),
    };
    for tlv in children(signer_info_der, Tag::Sequence)? {
        if AnyRef::from_der(tlv)?.tag() == tagged {
            let mut set = tlv.to_vec();
            set[0] = 0x31;
            return Ok(Some(set));
        }
    }
    Ok(None)
}

/// The raw TLVs inside a constructed TLV with tag `outer`.
fn children(der: &[u8], outer: Tag) -> Result<Vec<&[u8]>> {
    let any = AnyRef::from_der(der)?;
    if any.tag() != outer {
        return Err(Error::malformed("CMS structure"));
    }
    let value = any.value();
    let mut reader = SliceReader::new(value)?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        let start =
            usize::try_from(reader.position()).map_err(|_| Error::malformed("CMS structure"))?;
        AnyRef::decode(&mut reader)?;
        let end =
            usize::try_from(reader.position()).map_err(|_| Error::malformed("CMS structure"))?;
        out.push(&value[start..end]);
    }
    Ok(out)
}

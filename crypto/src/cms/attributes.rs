//! Signed attributes (RFC 5652 §5.3, §11; RFC 5035 `signingCertificateV2`).
//!
//! [`signed_attributes_der`] builds the exact bytes a signer signs: the DER `SET OF
//! Attribute` (tag `0x31`). A device that co-signs remotely builds or checks these bytes
//! itself, signs them, and hands back only the signature ([`super::SignerInfo::assemble`]).

use super::algorithms::HashAlgorithm;
use super::oids;
use crate::error::{CmsProblem, Error, Result};
use crate::x509::Cert;
use der::asn1::{Any, ObjectIdentifier as Oid, OctetString, SetOfVec};
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;

/// `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT {id-sha256},
/// certHash OCTET STRING, issuerSerial IssuerSerial OPTIONAL }` (RFC 5035 §4).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    /// Absent means SHA-256 (the DEFAULT, which DER leaves out).
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial_number: SerialNumber,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2,
/// policies SEQUENCE OF PolicyInformation OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    pub policies: Option<Vec<Any>>,
}

impl SigningCertificateV2 {
    /// The identifier of `cert`: its hash under `alg`, and issuer and serial.
    pub fn for_cert(cert: &Cert, alg: HashAlgorithm) -> Result<Self> {
        let issuer_serial = IssuerSerial {
            issuer: vec![GeneralName::DirectoryName(cert.issuer().clone())],
            serial_number: cert.certificate().tbs_certificate().serial_number().clone(),
        };
        Ok(Self {
            certs: vec![EssCertIdV2 {
                hash_algorithm: (alg != HashAlgorithm::Sha256).then(|| alg.identifier()),
                cert_hash: OctetString::new(alg.digest(cert.to_der()))?,
                issuer_serial: Some(issuer_serial),
            }],
            policies: None,
        })
    }

    /// RFC 5035 §5.4: the first identifier names the signer's certificate; check that it
    /// is `cert` (hash, and issuer and serial when given).
    pub fn check(&self, cert: &Cert) -> Result<()> {
        let first = self
            .certs
            .first()
            .ok_or(CmsProblem::SigningCertificateMismatch)?;
        let alg = match &first.hash_algorithm {
            Some(id) => HashAlgorithm::from_identifier(id)?,
            None => HashAlgorithm::Sha256,
        };
        if alg.digest(cert.to_der()) != first.cert_hash.as_bytes() {
            return Err(CmsProblem::SigningCertificateMismatch.into());
        }
        if let Some(is) = &first.issuer_serial {
            let issuer_matches = is
                .issuer
                .iter()
                .any(|n| matches!(n, GeneralName::DirectoryName(name) if name == cert.issuer()));
            if !issuer_matches || is.serial_number.as_bytes() != cert.serial_bytes() {
                return Err(CmsProblem::SigningCertificateMismatch.into());
            }
        }
        Ok(())
    }
}

/// The signed attributes Bidkey writes, DER `SET OF Attribute` (tag `0x31`): exactly the
/// bytes the SignerInfo signature covers.
///
/// - `content_type`: the eContentType (`id-data`, GB/T 35275 `data`, `id-ct-TSTInfo`, ...);
/// - `message_digest`: the digest of the content under `digest`, which must be the digest
///   that goes with the signer's key (SM3 for SM2, SHA-256 for P-256);
/// - `signing_time`: Unix seconds, the signer's claim (a timestamp proves it);
/// - `signingCertificateV2` naming `signer` by its `digest` hash, issuer and serial.
pub fn signed_attributes_der(
    content_type: Oid,
    digest: HashAlgorithm,
    message_digest: &[u8],
    signing_time: Option<u64>,
    signer: &Cert,
) -> Result<Vec<u8>> {
    if message_digest.len() != digest.output_len() {
        return Err(Error::InvalidLength("message digest"));
    }
    let mut attrs = SetOfVec::<Attribute>::new();
    attrs.insert(attribute(oids::ATTR_CONTENT_TYPE, &content_type)?)?;
    attrs.insert(attribute(
        oids::ATTR_MESSAGE_DIGEST,
        &OctetString::new(message_digest)?,
    )?)?;
    if let Some(t) = signing_time {
        attrs.insert(attribute(
            oids::ATTR_SIGNING_TIME,
            &crate::x509::time::from_unix(t)?,
        )?)?;
    }
    attrs.insert(attribute(
        oids::ATTR_SIGNING_CERTIFICATE_V2,
        &SigningCertificateV2::for_cert(signer, digest)?,
    )?)?;
    Ok(attrs.to_der()?)
}

pub(crate) fn attribute(oid: Oid, value: &impl Encode) -> Result<Attribute> {
    let mut values = SetOfVec::new();
    values.insert(Any::from_der(&value.to_der()?)?)?;
    Ok(Attribute { oid, values })
}

/// What a SignerInfo's signed attributes say, parsed from their DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAttributeValues {
    /// `contentType`: must equal the eContentType.
    pub content_type: Oid,
    /// `messageDigest`: the digest of the content.
    pub message_digest: Vec<u8>,
    /// `signingTime`, Unix seconds: the signer's own claim.
    pub signing_time: Option<u64>,
    /// `signingCertificateV2`, if present.
    pub signing_certificate_v2: Option<SigningCertificateV2>,
    /// The DER `SET OF Attribute` (tag `0x31`) the signature covers.
    pub der: Vec<u8>,
}

impl SignedAttributeValues {
    /// Parse the DER `SET OF Attribute`. contentType and messageDigest are required
    /// (RFC 5652 §5.3); no attribute type may appear twice, and these have one value each.
    pub fn parse(set_der: &[u8]) -> Result<Self> {
        let attrs = SetOfVec::<Attribute>::from_der(set_der)?;
        let list = attrs.as_slice();
        for (i, a) in list.iter().enumerate() {
            if list[..i].iter().any(|b| b.oid == a.oid) {
                return Err(CmsProblem::AttributeInvalid("duplicate attribute").into());
            }
        }
        let single = |oid: Oid, what: &'static str| -> Result<Option<&Any>> {
            match list.iter().find(|a| a.oid == oid) {
                None => Ok(None),
                Some(a) if a.values.len() == 1 => Ok(a.values.get(0)),
                Some(_) => Err(CmsProblem::AttributeInvalid(what).into()),
            }
        };
        let content_type = single(oids::ATTR_CONTENT_TYPE, "contentType")?
            .ok_or(CmsProblem::AttributeMissing("contentType"))?
            .decode_as::<Oid>()
            .map_err(|_| CmsProblem::AttributeInvalid("contentType"))?;
        let message_digest = single(oids::ATTR_MESSAGE_DIGEST, "messageDigest")?
            .ok_or(CmsProblem::AttributeMissing("messageDigest"))?
            .decode_as::<OctetString>()
            .map_err(|_| CmsProblem::AttributeInvalid("messageDigest"))?
            .into_bytes()
            .into_vec();
        let signing_time = single(oids::ATTR_SIGNING_TIME, "signingTime")?
            .map(|v| {
                v.decode_as::<Time>()
                    .map(|t| crate::x509::time::to_unix(&t))
                    .map_err(|_| CmsProblem::AttributeInvalid("signingTime"))
            })
            .transpose()?;
        let signing_certificate_v2 =
            single(oids::ATTR_SIGNING_CERTIFICATE_V2, "signingCertificateV2")?
                .map(|v| {
                    v.decode_as::<SigningCertificateV2>()
                        .map_err(|_| CmsProblem::AttributeInvalid("signingCertificateV2"))
                })
                .transpose()?;
        Ok(Self {
            content_type,
            message_digest,
            signing_time,
            signing_certificate_v2,
            der: set_der.to_vec(),
        })
    }
}

//! X.509 certificates: issuing them from a template and reading them back.

use super::csr::Csr;
use super::keys::SubjectKey;
use super::name::{self, PersonIdDigest};
use super::profile::{BuilderProfileImpl, CertProfile};
use super::signed::SignedParts;
use super::signer::{BuilderKey, TbsSigner, builder_error, signature_bits};
use super::{pem, time};
use crate::error::{Error, Result};
use crate::rng;
use crate::sm2::Sm2PublicKey;
use der::oid::AssociatedOid;
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use sm3::Sm3;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

const PEM_LABEL: &str = "CERTIFICATE";

/// Key usage bits of a certificate (RFC 5280 §4.2.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyUsageBits {
    pub digital_signature: bool,
    pub non_repudiation: bool,
    pub key_encipherment: bool,
    pub data_encipherment: bool,
    pub key_agreement: bool,
    pub key_cert_sign: bool,
    pub crl_sign: bool,
}

impl From<KeyUsage> for KeyUsageBits {
    fn from(ku: KeyUsage) -> Self {
        Self {
            digital_signature: ku.0.contains(KeyUsages::DigitalSignature),
            non_repudiation: ku.0.contains(KeyUsages::NonRepudiation),
            key_encipherment: ku.0.contains(KeyUsages::KeyEncipherment),
            data_encipherment: ku.0.contains(KeyUsages::DataEncipherment),
            key_agreement: ku.0.contains(KeyUsages::KeyAgreement),
            key_cert_sign: ku.0.contains(KeyUsages::KeyCertSign),
            crl_sign: ku.0.contains(KeyUsages::CRLSign),
        }
    }
}

/// The extensions this module understands, decoded once when the certificate is parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct KnownExtensions {
    key_usage: Option<KeyUsageBits>,
    basic_constraints: Option<BasicConstraints>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    /// extendedKeyUsage purposes and whether the extension is critical.
    extended_key_usage: Option<(Vec<der::asn1::ObjectIdentifier>, bool)>,
    unknown_critical: bool,
}

/// A parsed certificate with an allow-listed signature algorithm and key type.
///
/// The DER it was parsed from is kept, so the signed bytes and fingerprints are exactly those
/// received.
#[derive(Clone)]
pub struct Cert {
    der: Vec<u8>,
    inner: Certificate,
    signed: SignedParts,
    key: SubjectKey,
    ext: KnownExtensions,
}

impl PartialEq for Cert {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Cert {}

impl core::fmt::Debug for Cert {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cert")
            .field("subject", &self.subject_string())
            .field("serial", &self.serial_hex())
            .finish_non_exhaustive()
    }
}

/// What to put in a new certificate. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertTemplate {
    pub profile: CertProfile,
    pub subject: Name,
    /// `SubjectPublicKeyInfo` DER of the subject key (SM2 or P-256).
    pub public_key_spki: Vec<u8>,
    pub not_before: u64,
    pub not_after: u64,
}

impl CertTemplate {
    /// A template from a CSR whose self-signature verifies (proof of possession). The
    /// subject and key come from the CSR; requested extensions are ignored, the profile
    /// decides them.
    pub fn from_csr(
        profile: CertProfile,
        csr: &Csr,
        not_before: u64,
        not_after: u64,
    ) -> Result<Self> {
        csr.verify_self_signature()?;
        Ok(Self {
            profile,
            subject: csr.subject().clone(),
            public_key_spki: csr.public_key().to_spki_der()?,
            not_before,
            not_after,
        })
    }
}

impl Cert {
    /// Parse DER strictly: allow-listed algorithm (the same inside and outside the TBS), SM2
    /// or P-256 key, no duplicate extensions, and well-formed known extensions.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let inner = Certificate::from_der(der).map_err(|_| Error::malformed("certificate"))?;
        let signed = SignedParts::parse(der, "certificate")?;
        if inner.tbs_certificate().signature() != inner.signature_algorithm() {
            return Err(Error::malformed("certificate signature algorithm"));
        }
        let spki = inner
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|_| Error::malformed("certificate key"))?;
        let key = SubjectKey::from_spki_der(&spki)?;
        let ext = parse_extensions(&inner)?;
        Ok(Self {
            der: der.to_vec(),
            inner,
            signed,
            key,
            ext,
        })
    }

    /// Parse one PEM `CERTIFICATE` block.
    pub fn from_pem(text: &str) -> Result<Self> {
        Self::from_der(&pem::decode(text, PEM_LABEL, "certificate PEM")?)
    }

    /// A self-signed root CA certificate for `signer`'s key.
    pub fn self_signed_root(
        subject: Name,
        signer: &dyn TbsSigner,
        not_before: u64,
        not_after: u64,
    ) -> Result<Self> {
        let template = CertTemplate {
            profile: CertProfile::Root,
            public_key_spki: signer.public_key_spki()?,
            subject: subject.clone(),
            not_before,
            not_after,
        };
        let cert = build(&template, subject, signer)?;
        cert.verify_signature(&cert.key)?;
        Ok(cert)
    }

    /// Issue a certificate under `issuer`, signed by `signer`, which must hold the issuer's
    /// key. Use [`Cert::self_signed_root`] for roots.
    pub fn issue(template: &CertTemplate, issuer: &Cert, signer: &dyn TbsSigner) -> Result<Self> {
        if template.profile == CertProfile::Root {
            return Err(Error::UnsupportedAlgorithm(
                "root profile under an issuer".into(),
            ));
        }
        if !issuer.is_ca() || !issuer.key_usage().is_some_and(|ku| ku.key_cert_sign) {
            return Err(Error::Certificate(crate::CertProblem::NotCa));
        }
        if signer.public_key_spki()? != issuer.public_key_spki_der()? {
            return Err(Error::InvalidKey);
        }
        let cert = build(template, issuer.subject().clone(), signer)?;
        // A fault or a wrong external signature must not leave here as a certificate.
        cert.verify_signature(issuer.public_key())?;
        Ok(cert)
    }

    /// Check this certificate's signature with `issuer_key`.
    pub fn verify_signature(&self, issuer_key: &SubjectKey) -> Result<()> {
        self.signed.verify(issuer_key)
    }

    /// The DER encoding.
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// PEM `CERTIFICATE`.
    pub fn to_pem(&self) -> Result<String> {
        pem::encode(PEM_LABEL, &self.der)
    }

    /// The parsed `x509-cert` structure, for anything not covered here.
    pub fn certificate(&self) -> &Certificate {
        &self.inner
    }

    /// Serial number content octets as encoded (a leading 00 keeps it positive).
    pub fn serial_bytes(&self) -> &[u8] {
        self.inner.tbs_certificate().serial_number().as_bytes()
    }

    /// Serial number in upper-case hex without the sign byte, as `openssl x509 -serial` shows.
    pub fn serial_hex(&self) -> String {
        serial_hex(self.serial_bytes())
    }

    pub fn subject(&self) -> &Name {
        self.inner.tbs_certificate().subject()
    }

    pub fn issuer(&self) -> &Name {
        self.inner.tbs_certificate().issuer()
    }

    /// The subject as an RFC 4514 string (for logs and display).
    pub fn subject_string(&self) -> String {
        self.subject().to_string()
    }

    /// The subject common name (person or enterprise name).
    pub fn subject_common_name(&self) -> Result<Option<String>> {
        name::common_name(self.subject())
    }

    /// The subject organization name.
    pub fn subject_organization(&self) -> Result<Option<String>> {
        name::organization(self.subject())
    }

    /// The enterprise USCC, see [`super::name`].
    pub fn subject_uscc(&self) -> Result<Option<String>> {
        name::uscc(self.subject())
    }

    /// The keyed person-ID digest, see [`super::name`].
    pub fn subject_person_id(&self) -> Result<Option<PersonIdDigest>> {
        name::person_id_digest(self.subject())
    }

    /// The subject public key.
    pub fn public_key(&self) -> &SubjectKey {
        &self.key
    }

    /// The subject public key if it is SM2.
    pub fn sm2_public_key(&self) -> Result<Sm2PublicKey> {
        match &self.key {
            SubjectKey::Sm2(k) => Ok(*k),
            SubjectKey::P256(_) => Err(Error::UnsupportedAlgorithm(
                "P-256 key, SM2 expected".into(),
            )),
        }
    }

    /// `SubjectPublicKeyInfo` DER of the subject key, as it appears in the certificate.
    pub fn public_key_spki_der(&self) -> Result<Vec<u8>> {
        self.inner
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| Error::Encoding(e.to_string()))
    }

    /// Start of validity, Unix seconds.
    pub fn not_before(&self) -> u64 {
        time::to_unix(&self.inner.tbs_certificate().validity().not_before)
    }

    /// End of validity (inclusive, RFC 5280), Unix seconds.
    pub fn not_after(&self) -> u64 {
        time::to_unix(&self.inner.tbs_certificate().validity().not_after)
    }

    /// Key usage, if the extension is present.
    pub fn key_usage(&self) -> Option<KeyUsageBits> {
        self.ext.key_usage
    }

    /// basicConstraints cA.
    pub fn is_ca(&self) -> bool {
        self.ext.basic_constraints.as_ref().is_some_and(|bc| bc.ca)
    }

    /// basicConstraints pathLenConstraint (meaningful for CAs only).
    pub fn path_len(&self) -> Option<u8> {
        self.ext
            .basic_constraints
            .as_ref()
            .and_then(|bc| bc.path_len_constraint)
    }

    pub fn subject_key_id(&self) -> Option<&[u8]> {
        self.ext.subject_key_id.as_deref()
    }

    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.ext.authority_key_id.as_deref()
    }

    /// extendedKeyUsage purposes, if the extension is present.
    pub fn extended_key_usage(&self) -> Option<&[der::asn1::ObjectIdentifier]> {
        self.ext.extended_key_usage.as_ref().map(|(p, _)| &p[..])
    }

    /// Whether the certificate is for a time-stamping authority as RFC 3161 §2.3 requires:
    /// extendedKeyUsage is critical and holds exactly `id-kp-timeStamping`.
    pub fn is_time_stamping_only(&self) -> bool {
        matches!(&self.ext.extended_key_usage,
            Some((purposes, true)) if purposes[..] == [super::oids::KP_TIME_STAMPING])
    }

    /// Whether the CA issued this as a trading platform's certificate (ADR 0016): its
    /// extendedKeyUsage names Bidkey's platform purpose.
    pub fn is_platform(&self) -> bool {
        self.extended_key_usage()
            .is_some_and(|p| p.contains(&super::oids::KP_BIDKEY_PLATFORM))
    }

    /// Whether a critical extension this module does not understand is present; path
    /// validation refuses such certificates (RFC 5280 §4.2).
    pub fn has_unknown_critical_extension(&self) -> bool {
        self.ext.unknown_critical
    }

    /// SHA-256 of the DER.
    pub fn fingerprint_sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }

    /// SM3 of the DER.
    pub fn fingerprint_sm3(&self) -> [u8; 32] {
        Sm3::digest(&self.der).into()
    }
}

pub(crate) fn serial_hex(bytes: &[u8]) -> String {
    let trimmed = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => bytes,
    };
    trimmed.iter().map(|b| format!("{b:02X}")).collect()
}

/// A random positive 16-byte serial: 126 random bits, top bit clear (positive) and the next
/// bit set so the encoding is always exactly 16 bytes.
fn random_serial() -> Result<SerialNumber> {
    let mut bytes = rng::bytes::<16>()?;
    bytes[0] = (bytes[0] & 0x3f) | 0x40;
    SerialNumber::new(&bytes).map_err(|e| Error::Encoding(e.to_string()))
}

pub(crate) fn build(template: &CertTemplate, issuer: Name, signer: &dyn TbsSigner) -> Result<Cert> {
    if template.not_after <= template.not_before {
        return Err(Error::InvalidLength("validity"));
    }
    // The subject key must be one this module can later verify with.
    SubjectKey::from_spki_der(&template.public_key_spki)?;
    let spki = SubjectPublicKeyInfoOwned::from_der(&template.public_key_spki)
        .map_err(|_| Error::malformed("SubjectPublicKeyInfo"))?;
    let validity = Validity::new(
        time::from_unix(template.not_before)?,
        time::from_unix(template.not_after)?,
    );
    let profile = BuilderProfileImpl {
        profile: template.profile,
        subject: template.subject.clone(),
        issuer,
    };
    let mut builder = CertificateBuilder::new(profile, random_serial()?, validity, spki)
        .map_err(builder_error)?;
    let key = BuilderKey::new(signer.algorithm(), &signer.public_key_spki()?)?;
    let tbs = builder.finalize(&key).map_err(builder_error)?;
    let sig = signer.sign_tbs(&tbs)?;
    let cert = builder
        .assemble(signature_bits(&sig)?, &key)
        .map_err(builder_error)?;
    let der = cert.to_der().map_err(|e| Error::Encoding(e.to_string()))?;
    Cert::from_der(&der)
}

fn parse_extensions(cert: &Certificate) -> Result<KnownExtensions> {
    let mut out = KnownExtensions::default();
    let exts = cert
        .tbs_certificate()
        .extensions()
        .map_or(&[][..], |e| &e[..]);
    for (i, ext) in exts.iter().enumerate() {
        if exts[..i].iter().any(|e| e.extn_id == ext.extn_id) {
            return Err(Error::malformed("duplicate certificate extension"));
        }
        let value = ext.extn_value.as_bytes();
        let bad = |_| Error::malformed("certificate extension");
        match ext.extn_id {
            KeyUsage::OID => out.key_usage = Some(KeyUsage::from_der(value).map_err(bad)?.into()),
            BasicConstraints::OID => {
                out.basic_constraints = Some(BasicConstraints::from_der(value).map_err(bad)?)
            }
            SubjectKeyIdentifier::OID => {
                let ski = SubjectKeyIdentifier::from_der(value).map_err(bad)?;
                out.subject_key_id = Some(ski.0.as_bytes().to_vec());
            }
            AuthorityKeyIdentifier::OID => {
                let aki = AuthorityKeyIdentifier::from_der(value).map_err(bad)?;
                out.authority_key_id = aki.key_identifier.map(|k| k.as_bytes().to_vec());
            }
            ExtendedKeyUsage::OID => {
                let eku = ExtendedKeyUsage::from_der(value).map_err(bad)?;
                out.extended_key_usage = Some((eku.0, ext.critical));
            }
            _ => out.unknown_critical |= ext.critical,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;

    #[test]
    fn accessors_of_an_enterprise_signing_certificate() {
        let pki = sm2_pki();
        let c = &pki.sign;
        assert_eq!(c.serial_bytes().len(), 16);
        assert!(c.serial_bytes()[0] & 0x80 == 0 && c.serial_bytes()[0] != 0);
        assert_eq!(c.serial_hex().len(), 32);
        assert_ne!(pki.sign.serial_bytes(), pki.enc.serial_bytes());
        assert_eq!(
            c.subject_common_name().expect("cn").as_deref(),
            Some("测试建设有限公司")
        );
        assert_eq!(c.subject_uscc().expect("uscc").as_deref(), Some(USCC));
        assert_eq!(c.subject_person_id().expect("id"), None);
        assert_eq!(c.sm2_public_key().expect("sm2"), *pki.sign_key.public_key());
        assert_eq!((c.not_before(), c.not_after()), (T0, T0 + 365 * DAY));
        let ku = c.key_usage().expect("key usage");
        assert!(ku.digital_signature && ku.non_repudiation);
        assert!(!ku.key_encipherment && !ku.key_cert_sign);
        assert_eq!(
            pki.enc.sm2_public_key().expect("sm2"),
            *pki.enc_key.public_key()
        );
        let ku = pki.enc.key_usage().expect("key usage");
        assert!(ku.key_encipherment && ku.data_encipherment && !ku.digital_signature);
        assert!(!c.is_ca());
        assert!(pki.ca.is_ca() && pki.ca.path_len() == Some(0));
        assert!(pki.root.is_ca() && pki.root.path_len().is_none());
        assert_eq!(c.authority_key_id(), pki.ca.subject_key_id());
        assert_eq!(pki.root.authority_key_id(), pki.root.subject_key_id());
        assert_ne!(c.fingerprint_sha256(), c.fingerprint_sm3());
    }

    /// A second key object with the same scalar (private keys are not `Clone`).
    fn copy_of(key: &crate::sm2::Sm2PrivateKey) -> crate::sm2::Sm2PrivateKey {
        crate::sm2::Sm2PrivateKey::from_bytes(key.to_bytes().as_slice()).expect("same key")
    }

    #[test]
    fn both_accepted_sm2_ids_verify_and_others_do_not() {
        let pki = sm2_pki();
        let t = template(CertProfile::Signing, pki.sign.subject().clone(), &key());
        let empty_id = Sm2Signer::new(copy_of(&pki.ca_key), Sm2Id::OpenSsl3Empty);
        let cert = Cert::issue(&t, &pki.ca, &empty_id).expect("OpenSSL 3.0 style");
        cert.verify_signature(pki.ca.public_key())
            .expect("verifies");
        // Sign the same TBS under another ID: refused, and `issue` refuses to emit it.
        struct OtherId(crate::sm2::Sm2PrivateKey);
        impl TbsSigner for OtherId {
            fn algorithm(&self) -> SignatureAlgorithm {
                SignatureAlgorithm::Sm2WithSm3
            }
            fn public_key_spki(&self) -> crate::Result<Vec<u8>> {
                self.0.public_key().to_spki_der()
            }
            fn sign_tbs(&self, tbs: &[u8]) -> crate::Result<Vec<u8>> {
                Ok(self.0.sign(b"ALICE123@YAHOO.COM", tbs)?.to_der())
            }
        }
        assert_eq!(
            Cert::issue(&t, &pki.ca, &OtherId(copy_of(&pki.ca_key))).map(|_| ()),
            Err(crate::Error::BadSignature)
        );
    }

    #[test]
    fn pem_and_der_round_trip() {
        let pki = sm2_pki();
        let pem = pki.sign.to_pem().expect("pem");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(Cert::from_pem(&pem).expect("parse"), pki.sign);
        assert_eq!(Cert::from_der(pki.sign.to_der()).expect("parse"), pki.sign);
        let crl_pem = pem.replace("CERTIFICATE", "X509 CRL");
        assert!(Cert::from_pem(&crl_pem).is_err());
    }

    #[test]
    fn issuing_checks_the_signer_and_validity() {
        let pki = sm2_pki();
        let t = template(CertProfile::Signing, pki.sign.subject().clone(), &key());
        assert_eq!(
            Cert::issue(&t, &pki.ca, &pki.root_key).map(|_| ()),
            Err(crate::Error::InvalidKey),
            "signer does not hold the issuer key"
        );
        let mut backwards = t.clone();
        backwards.not_after = backwards.not_before;
        assert!(Cert::issue(&backwards, &pki.ca, &pki.ca_key).is_err());
        let mut root = t;
        root.profile = CertProfile::Root;
        assert!(Cert::issue(&root, &pki.ca, &pki.ca_key).is_err());
    }

    #[test]
    fn malformed_certificates_are_errors_not_panics() {
        let pki = sm2_pki();
        fuzz_parser(pki.sign.to_der(), Cert::from_der);
        assert!(
            Cert::from_pem("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----").is_err()
        );
        assert!(Cert::from_pem("").is_err());
    }
}

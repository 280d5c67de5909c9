//! PKCS#10 certificate signing requests.
//!
//! A one-party key makes a CSR with [`Csr::create`]. A device that signs through the
//! two-party SM2 protocol uses [`CsrDraft`]: it takes [`CsrDraft::to_be_signed`] (or the SM2
//! digest [`CsrDraft::sm2_digest`]), runs the protocol with the server, and passes the DER
//! signature to [`CsrDraft::assemble`], which refuses a signature that does not verify.

use super::keys::SubjectKey;
use super::signed::SignedParts;
use super::signer::{BuilderKey, TbsSigner, builder_error, signature_bits};
use super::{name, pem};
use crate::error::{Error, Result};
use crate::sm2::{DEFAULT_ID, Sm2PublicKey, message_digest};
use der::{Decode, Encode};
use x509_cert::builder::Builder;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, RequestBuilder};

const PEM_LABEL: &str = "CERTIFICATE REQUEST";

/// A parsed CSR with an allow-listed algorithm and key type. Its self-signature is not
/// checked by parsing; call [`Csr::verify_self_signature`].
#[derive(Clone)]
pub struct Csr {
    der: Vec<u8>,
    inner: CertReq,
    signed: SignedParts,
    key: SubjectKey,
}

impl core::fmt::Debug for Csr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Csr")
            .field("subject", &self.inner.info.subject.to_string())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Csr {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Csr {}

impl Csr {
    /// Parse DER strictly.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let inner = CertReq::from_der(der).map_err(|_| Error::malformed("CSR"))?;
        let signed = SignedParts::parse(der, "CSR")?;
        let spki = inner
            .info
            .public_key
            .to_der()
            .map_err(|_| Error::malformed("CSR key"))?;
        let key = SubjectKey::from_spki_der(&spki)?;
        Ok(Self {
            der: der.to_vec(),
            inner,
            signed,
            key,
        })
    }

    /// Parse one PEM `CERTIFICATE REQUEST` block.
    pub fn from_pem(text: &str) -> Result<Self> {
        Self::from_der(&pem::decode(text, PEM_LABEL, "CSR PEM")?)
    }

    /// A CSR for `subject`, signed by a one-party key.
    pub fn create(subject: Name, signer: &dyn TbsSigner) -> Result<Self> {
        let draft = CsrDraft::new(subject, &signer.public_key_spki()?)?;
        let sig = signer.sign_tbs(draft.to_be_signed())?;
        draft.assemble(&sig)
    }

    /// Check the self-signature (proof of possession of the subject key).
    pub fn verify_self_signature(&self) -> Result<()> {
        self.signed.verify(&self.key)
    }

    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    pub fn to_pem(&self) -> Result<String> {
        pem::encode(PEM_LABEL, &self.der)
    }

    pub fn subject(&self) -> &Name {
        &self.inner.info.subject
    }

    pub fn subject_common_name(&self) -> Result<Option<String>> {
        name::common_name(self.subject())
    }

    pub fn public_key(&self) -> &SubjectKey {
        &self.key
    }

    /// The subject key if it is SM2.
    pub fn sm2_public_key(&self) -> Result<Sm2PublicKey> {
        match &self.key {
            SubjectKey::Sm2(k) => Ok(*k),
            SubjectKey::P256(_) => Err(Error::UnsupportedAlgorithm(
                "P-256 key, SM2 expected".into(),
            )),
        }
    }

    /// The parsed `x509-cert` structure.
    pub fn request(&self) -> &CertReq {
        &self.inner
    }
}

/// A CSR waiting for its signature: step one of the external (two-party) signing flow.
pub struct CsrDraft {
    builder: RequestBuilder,
    key: BuilderKey,
    public: SubjectKey,
    tbs: Vec<u8>,
}

impl core::fmt::Debug for CsrDraft {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CsrDraft")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl CsrDraft {
    /// Prepare a CSR for `subject` and the key in `public_key_spki` (SM2 or P-256); the
    /// signature algorithm follows from the key type.
    pub fn new(subject: Name, public_key_spki: &[u8]) -> Result<Self> {
        let public = SubjectKey::from_spki_der(public_key_spki)?;
        let key = BuilderKey::new(public.signature_algorithm(), public_key_spki)?;
        let mut builder = RequestBuilder::new(subject).map_err(builder_error)?;
        let tbs = builder.finalize(&key).map_err(builder_error)?;
        Ok(Self {
            builder,
            key,
            public,
            tbs,
        })
    }

    /// The DER `CertificationRequestInfo`: the message to sign.
    pub fn to_be_signed(&self) -> &[u8] {
        &self.tbs
    }

    /// For SM2 keys, e = SM3(Z ‖ TBS) with the default ID: the digest a two-party SM2
    /// protocol signs. Errors for P-256 keys.
    pub fn sm2_digest(&self) -> Result<[u8; 32]> {
        match &self.public {
            SubjectKey::Sm2(k) => message_digest(k, DEFAULT_ID, &self.tbs),
            SubjectKey::P256(_) => Err(Error::UnsupportedAlgorithm(
                "P-256 key, SM2 expected".into(),
            )),
        }
    }

    /// Step two: attach the DER `(r, s)` signature. It must verify under the draft's key.
    pub fn assemble(self, signature_der: &[u8]) -> Result<Csr> {
        self.public
            .verify(self.public.signature_algorithm(), &self.tbs, signature_der)?;
        let req = self
            .builder
            .assemble(signature_bits(signature_der)?, &self.key)
            .map_err(builder_error)?;
        let der = req.to_der().map_err(|e| Error::Encoding(e.to_string()))?;
        Csr::from_der(&der)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use crate::sm2::Sm2Signature;

    #[test]
    fn one_party_sm2_and_p256_csrs_verify() {
        let k = key();
        let subject = enterprise_subject("测试建设有限公司", USCC).expect("name");
        let csr = Csr::create(subject.clone(), &k).expect("csr");
        csr.verify_self_signature().expect("self-signature");
        assert_eq!(csr.sm2_public_key().expect("sm2"), *k.public_key());
        assert_eq!(csr.subject(), &subject);
        let parsed = Csr::from_pem(&csr.to_pem().expect("pem")).expect("parse");
        assert_eq!(parsed, csr);

        use sm2::elliptic_curve::Generate;
        let p = p256::ecdsa::SigningKey::generate_from_rng(&mut crate::rng::os_rng());
        let csr = Csr::create(subject, &p).expect("csr");
        csr.verify_self_signature().expect("self-signature");
        assert!(csr.sm2_public_key().is_err());
    }

    /// The two-party flow: only the public key and a signature over the draft's bytes are
    /// needed; here a one-party key stands in for the protocol.
    #[test]
    fn external_signer_two_step_flow() {
        let k = key();
        let spki = k.public_key().to_spki_der().expect("spki");
        let draft =
            CsrDraft::new(ca_subject("设备", "Bidkey").expect("name"), &spki).expect("draft");
        let e = draft.sm2_digest().expect("digest");
        assert_eq!(
            e,
            crate::sm2::message_digest(
                k.public_key(),
                crate::sm2::DEFAULT_ID,
                draft.to_be_signed()
            )
            .expect("e")
        );
        let sig = k.sign_digest(&e).expect("sign");
        let csr = draft.assemble(&sig.to_der()).expect("assemble");
        csr.verify_self_signature().expect("self-signature");

        // A signature from the wrong key, a raw r‖s and garbage are refused at assembly.
        let draft =
            CsrDraft::new(ca_subject("设备", "Bidkey").expect("name"), &spki).expect("draft");
        let wrong: Sm2Signature = key()
            .sign_digest(&draft.sm2_digest().expect("e"))
            .expect("sig");
        for bad in [wrong.to_der(), sig.to_raw().to_vec(), vec![0x30, 0x00]] {
            let draft =
                CsrDraft::new(ca_subject("设备", "Bidkey").expect("name"), &spki).expect("draft");
            assert!(draft.assemble(&bad).is_err());
        }
    }

    #[test]
    fn certificate_from_csr_requires_a_valid_self_signature() {
        let pki = sm2_pki();
        let k = key();
        let csr = Csr::create(
            person_subject(
                "张三",
                &PersonIdDigest::compute(b"0123456789abcdef", "11010519491231002X").expect("id"),
            )
            .expect("name"),
            &k,
        )
        .expect("csr");
        let t = CertTemplate::from_csr(CertProfile::Signing, &csr, T0, T0 + DAY).expect("template");
        let cert = Cert::issue(&t, &pki.ca, &pki.ca_key).expect("cert");
        assert_eq!(cert.sm2_public_key().expect("key"), *k.public_key());
        assert!(cert.subject_person_id().expect("id").is_some());

        let mut der = csr.to_der().to_vec();
        let last = der.len() - 1;
        der[last] ^= 1;
        let tampered = Csr::from_der(&der).expect("well-formed");
        assert!(CertTemplate::from_csr(CertProfile::Signing, &tampered, T0, T0 + DAY).is_err());
    }

    #[test]
    fn malformed_csrs_are_errors_not_panics() {
        let csr = Csr::create(ca_subject("设备", "Bidkey").expect("name"), &key()).expect("csr");
        fuzz_parser(csr.to_der(), Csr::from_der);
    }
}

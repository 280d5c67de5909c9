//! Certificate profiles of the dual-certificate system (GM/T 0015 style): a root CA, issuing
//! CAs below it, and per subject one signing and one encryption certificate.

use der::asn1::OctetString;
use spki::SubjectPublicKeyInfoRef;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertProfile {
    /// Self-signed root: CA, no path length limit, keyCertSign + cRLSign.
    Root,
    /// Issuing CA under the root: CA with pathLen 0 (it issues only end-entity certificates),
    /// keyCertSign + cRLSign.
    IssuingCa,
    /// End-entity signing certificate: digitalSignature + nonRepudiation.
    Signing,
    /// End-entity encryption certificate: keyEncipherment + dataEncipherment, and
    /// keyAgreement when asked for.
    Encryption { key_agreement: bool },
    /// End-entity time-stamping authority (RFC 3161 §2.3): digitalSignature +
    /// nonRepudiation, and a critical extendedKeyUsage with only `id-kp-timeStamping`.
    TimeStamping,
    /// End-entity trading-platform certificate (ADR 0016): digitalSignature, and a critical
    /// extendedKeyUsage with only Bidkey's platform purpose, so it signs scan requests and
    /// nothing a relying party takes for a bidder's signature.
    Platform,
}

impl CertProfile {
    pub(crate) fn is_ca(self) -> bool {
        matches!(self, Self::Root | Self::IssuingCa)
    }

    fn basic_constraints(self) -> BasicConstraints {
        let path_len_constraint = match self {
            Self::IssuingCa => Some(0),
            _ => None,
        };
        BasicConstraints {
            ca: self.is_ca(),
            path_len_constraint,
        }
    }

    fn key_usage(self) -> KeyUsage {
        use KeyUsages::*;
        KeyUsage(match self {
            Self::Root | Self::IssuingCa => KeyCertSign | CRLSign,
            Self::Signing | Self::TimeStamping => DigitalSignature | NonRepudiation,
            Self::Platform => DigitalSignature.into(),
            Self::Encryption {
                key_agreement: false,
            } => KeyEncipherment | DataEncipherment,
            Self::Encryption {
                key_agreement: true,
            } => KeyEncipherment | DataEncipherment | KeyAgreement,
        })
    }
}

/// The profile handed to the `x509-cert` builder.
pub(crate) struct BuilderProfileImpl {
    pub profile: CertProfile,
    pub subject: Name,
    pub issuer: Name,
}

impl BuilderProfile for BuilderProfileImpl {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    /// basicConstraints (critical, also on end entities so they cannot act as CAs), keyUsage
    /// (critical), subject key identifier, and authority key identifier from the issuer key.
    /// Key identifiers are RFC 5280 method 1 (SHA-1 of the key bits): an identifier, not a
    /// security function, and what OpenSSL computes too.
    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        let issuer_ski = SubjectKeyIdentifier::try_from(issuer_spk)?;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(issuer_ski.0.as_bytes())?),
            ..Default::default()
        };
        // Criticality is given explicitly, so the builder needs no view of other extensions.
        let none: &[Extension] = &[];
        let subject = &self.subject;
        let mut exts = vec![
            (true, &self.profile.basic_constraints()).to_extension(subject, none)?,
            (true, &self.profile.key_usage()).to_extension(subject, none)?,
            (false, &ski).to_extension(subject, none)?,
            (false, &aki).to_extension(subject, none)?,
        ];
        if self.profile == CertProfile::TimeStamping {
            let eku = ExtendedKeyUsage(vec![super::oids::KP_TIME_STAMPING]);
            exts.push((true, &eku).to_extension(subject, none)?);
        }
        if self.profile == CertProfile::Platform {
            let eku = ExtendedKeyUsage(vec![super::oids::KP_BIDKEY_PLATFORM]);
            exts.push((true, &eku).to_extension(subject, none)?);
        }
        Ok(exts)
    }
}

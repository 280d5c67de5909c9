//! Certificate revocation lists (RFC 5280 §5), version 2 with CRL number, authority key
//! identifier and per-entry reason codes.

use super::cert::{Cert, serial_hex};
use super::signed::SignedParts;
use super::signer::{TbsSigner, signature_bits};
use super::{pem, time};
use crate::error::{Error, Result};
use der::asn1::{Int, OctetString};
use der::oid::AssociatedOid;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Version;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

pub use x509_cert::ext::pkix::CrlReason;

const PEM_LABEL: &str = "X509 CRL";

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial number content octets, as [`Cert::serial_bytes`] returns them.
    pub serial: Vec<u8>,
    /// Revocation time, Unix seconds.
    pub revoked_at: u64,
    /// Reason code; `None` (and `Unspecified`, which RFC 5280 says to omit) write no
    /// extension.
    pub reason: Option<CrlReason>,
}

/// What to put in a new CRL. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlTemplate {
    /// Monotonic CRL number.
    pub crl_number: u64,
    pub this_update: u64,
    /// Always written: relying parties treat a CRL past nextUpdate as stale.
    pub next_update: u64,
    pub revoked: Vec<RevokedEntry>,
}

/// A parsed CRL with an allow-listed signature algorithm.
#[derive(Clone)]
pub struct Crl {
    der: Vec<u8>,
    inner: CertificateList,
    signed: SignedParts,
    crl_number: Option<u64>,
}

impl core::fmt::Debug for Crl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Crl")
            .field("issuer", &self.issuer().to_string())
            .field("crl_number", &self.crl_number)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Crl {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Crl {}

impl Crl {
    /// Parse DER strictly. Version 2 is required when extensions are present, duplicate CRL
    /// extensions and unknown critical CRL extensions are refused.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let inner = CertificateList::from_der(der).map_err(|_| Error::malformed("CRL"))?;
        let signed = SignedParts::parse(der, "CRL")?;
        if inner.tbs_cert_list.signature != inner.signature_algorithm {
            return Err(Error::malformed("CRL signature algorithm"));
        }
        let crl_number = parse_crl_extensions(&inner.tbs_cert_list)?;
        Ok(Self {
            der: der.to_vec(),
            inner,
            signed,
            crl_number,
        })
    }

    /// Parse one PEM `X509 CRL` block.
    pub fn from_pem(text: &str) -> Result<Self> {
        Self::from_der(&pem::decode(text, PEM_LABEL, "CRL PEM")?)
    }

    /// Issue a CRL for `issuer`, signed by `signer` (which must hold the issuer's key).
    pub fn issue(template: &CrlTemplate, issuer: &Cert, signer: &dyn TbsSigner) -> Result<Self> {
        if template.next_update <= template.this_update {
            return Err(Error::InvalidLength("CRL validity"));
        }
        if signer.public_key_spki()? != issuer.public_key_spki_der()? {
            return Err(Error::InvalidKey);
        }
        let algorithm = signer.algorithm().identifier();
        let tbs = tbs_cert_list(template, issuer, algorithm.clone())?;
        let tbs_der = tbs.to_der().map_err(encoding)?;
        let sig = signer.sign_tbs(&tbs_der)?;
        let list = CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: algorithm,
            signature: signature_bits(&sig)?,
        };
        let crl = Self::from_der(&list.to_der().map_err(encoding)?)?;
        crl.verify_signature(issuer)?;
        Ok(crl)
    }

    /// Check the CRL signature with the issuer certificate's key and that the CRL names it
    /// as issuer.
    pub fn verify_signature(&self, issuer: &Cert) -> Result<()> {
        if self.issuer() != issuer.subject() {
            return Err(Error::BadSignature);
        }
        self.signed.verify(issuer.public_key())
    }

    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    pub fn to_pem(&self) -> Result<String> {
        pem::encode(PEM_LABEL, &self.der)
    }

    pub fn issuer(&self) -> &Name {
        &self.inner.tbs_cert_list.issuer
    }

    /// thisUpdate, Unix seconds.
    pub fn this_update(&self) -> u64 {
        time::to_unix(&self.inner.tbs_cert_list.this_update)
    }

    /// nextUpdate, Unix seconds, if present.
    pub fn next_update(&self) -> Option<u64> {
        self.inner
            .tbs_cert_list
            .next_update
            .as_ref()
            .map(time::to_unix)
    }

    /// The CRL number, if present and at most 64 bits.
    pub fn crl_number(&self) -> Option<u64> {
        self.crl_number
    }

    /// All revoked entries. An entry with a malformed reason code is an error.
    pub fn revoked(&self) -> Result<Vec<RevokedEntry>> {
        self.inner
            .tbs_cert_list
            .revoked_certificates
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(entry_from)
            .collect()
    }

    /// The entry for `serial` (content octets), if the CRL lists it.
    pub fn find(&self, serial: &[u8]) -> Result<Option<RevokedEntry>> {
        Ok(self.revoked()?.into_iter().find(|e| e.serial == serial))
    }

    /// Serials of all entries as upper-case hex.
    pub fn revoked_serials_hex(&self) -> Result<Vec<String>> {
        Ok(self
            .revoked()?
            .iter()
            .map(|e| serial_hex(&e.serial))
            .collect())
    }

    /// The parsed `x509-cert` structure.
    pub fn certificate_list(&self) -> &CertificateList {
        &self.inner
    }
}

fn encoding(e: der::Error) -> Error {
    Error::Encoding(e.to_string())
}

fn tbs_cert_list(
    template: &CrlTemplate,
    issuer: &Cert,
    signature: AlgorithmIdentifierOwned,
) -> Result<TbsCertList> {
    let issuer_name = issuer.subject().clone();
    let mut crl_extensions: Vec<Extension> = Vec::new();
    let number = CrlNumber::try_from(template.crl_number).map_err(encoding)?;
    crl_extensions.push(
        (false, &number)
            .to_extension(&issuer_name, &crl_extensions)
            .map_err(encoding)?,
    );
    // The AKI of a CRL is the issuer's own key identifier. (x509-cert's CrlBuilder copies
    // the issuer certificate's AKI instead, which names the issuer's issuer.)
    if let Some(ski) = issuer.subject_key_id() {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(ski).map_err(encoding)?),
            ..Default::default()
        };
        crl_extensions.push(
            (false, &aki)
                .to_extension(&issuer_name, &crl_extensions)
                .map_err(encoding)?,
        );
    }
    let revoked = template
        .revoked
        .iter()
        .map(entry_to)
        .collect::<Result<Vec<_>>>()?;
    Ok(TbsCertList {
        version: Version::V2,
        signature,
        issuer: issuer_name,
        this_update: time::from_unix(template.this_update)?,
        next_update: Some(time::from_unix(template.next_update)?),
        // RFC 5280: an empty list is omitted, not encoded as an empty SEQUENCE.
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(crl_extensions),
    })
}

fn entry_to(entry: &RevokedEntry) -> Result<RevokedCert> {
    // `SerialNumber` takes unsigned bytes; the entry holds the signed content octets of
    // the certificate, so go through the INTEGER encoding to keep them byte for byte.
    let int = Int::new(&entry.serial).map_err(|_| Error::malformed("serial number"))?;
    let serial_number = SerialNumber::from_der(&int.to_der().map_err(encoding)?)
        .map_err(|_| Error::malformed("serial number"))?;
    let crl_entry_extensions = match entry.reason {
        None | Some(CrlReason::Unspecified) => None,
        Some(reason) => {
            let ext = (false, &reason)
                .to_extension(&Name::default(), &[])
                .map_err(encoding)?;
            Some(vec![ext])
        }
    };
    Ok(RevokedCert {
        serial_number,
        revocation_date: time::from_unix(entry.revoked_at)?,
        crl_entry_extensions,
    })
}

fn entry_from(cert: &RevokedCert) -> Result<RevokedEntry> {
    let mut reason = None;
    for ext in cert.crl_entry_extensions.as_deref().unwrap_or(&[]) {
        if ext.extn_id == CrlReason::OID {
            reason = Some(
                CrlReason::from_der(ext.extn_value.as_bytes())
                    .map_err(|_| Error::malformed("CRL reason"))?,
            );
        }
    }
    Ok(RevokedEntry {
        serial: cert.serial_number.as_bytes().to_vec(),
        revoked_at: time::to_unix(&cert.revocation_date),
        reason,
    })
}

/// Checks the CRL extensions and returns the CRL number.
fn parse_crl_extensions(tbs: &TbsCertList) -> Result<Option<u64>> {
    let exts = tbs.crl_extensions.as_deref().unwrap_or(&[]);
    if !exts.is_empty() && tbs.version != Version::V2 {
        return Err(Error::malformed("CRL version"));
    }
    let mut number = None;
    for (i, ext) in exts.iter().enumerate() {
        if exts[..i].iter().any(|e| e.extn_id == ext.extn_id) {
            return Err(Error::malformed("duplicate CRL extension"));
        }
        match ext.extn_id {
            CrlNumber::OID => {
                let n = CrlNumber::from_der(ext.extn_value.as_bytes())
                    .map_err(|_| Error::malformed("CRL number"))?;
                number = uint_to_u64(n.0.as_bytes());
            }
            AuthorityKeyIdentifier::OID => {
                AuthorityKeyIdentifier::from_der(ext.extn_value.as_bytes())
                    .map_err(|_| Error::malformed("CRL authority key identifier"))?;
            }
            _ if ext.critical => return Err(Error::malformed("unknown critical CRL extension")),
            _ => {}
        }
    }
    Ok(number)
}

fn uint_to_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.len() > 8 {
        return None;
    }
    Some(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;

    #[test]
    fn crl_fields_round_trip() {
        let pki = sm2_pki();
        let crl = crl(&pki.ca, &pki.ca_key, &[&pki.sign], T0, T0 + 7 * DAY);
        let parsed = Crl::from_pem(&crl.to_pem().expect("pem")).expect("parse");
        assert_eq!(parsed, crl);
        assert_eq!(crl.crl_number(), Some(7));
        assert_eq!(crl.this_update(), T0);
        assert_eq!(crl.next_update(), Some(T0 + 7 * DAY));
        assert_eq!(crl.issuer(), pki.ca.subject());
        let entry = crl
            .find(pki.sign.serial_bytes())
            .expect("find")
            .expect("listed");
        assert_eq!(entry.reason, Some(CrlReason::KeyCompromise));
        assert_eq!(entry.revoked_at, T0);
        assert!(crl.find(pki.enc.serial_bytes()).expect("find").is_none());
        assert_eq!(
            crl.revoked_serials_hex().expect("hex"),
            vec![pki.sign.serial_hex()]
        );
        crl.verify_signature(&pki.ca).expect("signature");
        assert!(crl.verify_signature(&pki.root).is_err());
    }

    #[test]
    fn issuing_checks_signer_and_dates() {
        let pki = sm2_pki();
        let t = CrlTemplate {
            crl_number: 1,
            this_update: T0,
            next_update: T0,
            revoked: vec![],
        };
        assert!(Crl::issue(&t, &pki.ca, &pki.ca_key).is_err());
        let t = CrlTemplate {
            next_update: T0 + DAY,
            ..t
        };
        assert_eq!(
            Crl::issue(&t, &pki.ca, &pki.root_key).map(|_| ()),
            Err(crate::Error::InvalidKey)
        );
        let empty = Crl::issue(&t, &pki.ca, &pki.ca_key).expect("crl");
        assert!(empty.revoked().expect("entries").is_empty());
    }

    #[test]
    fn malformed_crls_are_errors_not_panics() {
        let pki = sm2_pki();
        let crl = crl(&pki.ca, &pki.ca_key, &[&pki.sign, &pki.enc], T0, T0 + DAY);
        fuzz_parser(crl.to_der(), Crl::from_der);
    }
}

//! The `SES_Signature` a sealing makes: `TBS_Sign` built here, signed wherever the signer's
//! key lives, assembled, timestamped, verified.

use super::asn1::{SeSeal, SesSignature, TbsSign};
use super::seal::{VerifiedSeal, verified};
use super::{VERSION, check_alg, octets, time, unix, verify_sm2};
use crate::cms::tsp::{VerifiedTimestamp, verify_token};
use crate::error::{Error, Result, SealProblem};
use crate::x509::oids::SM2_WITH_SM3;
use crate::x509::{Cert, SignatureAlgorithm, TbsSigner};
use der::asn1::{BitString, Ia5String, OctetString};
use der::{Decode, Encode};

/// Longest `propertyInfo` written or read.
const MAX_PROPERTY: usize = 4096;

/// A signer holding its key here (tests, tools); the phone co-signs [`tbs_sign_der`]'s bytes
/// instead and hands the signature to [`assemble_signature`].
pub struct SesSigner<'a> {
    pub cert: &'a Cert,
    pub key: &'a dyn TbsSigner,
}

impl std::fmt::Debug for SesSigner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SesSigner")
            .field("cert", &self.cert.serial_hex())
            .finish_non_exhaustive()
    }
}

/// The DER of `TBS_Sign` for sealing data whose SM3 hash is `data_hash` with the seal
/// `seal_der` (its maker signature is checked first) at Unix second `time_info`.
/// `property_info` describes the data (ASCII; e.g. the document's name, percent-encoded,
/// and the seal's place).
pub fn tbs_sign_der(
    seal_der: &[u8],
    time_info: u64,
    data_hash: &[u8],
    property_info: &str,
) -> Result<Vec<u8>> {
    let eseal = SeSeal::from_der(seal_der).map_err(|_| SealProblem::Malformed("SESeal"))?;
    verified(&eseal, seal_der.to_vec())?;
    if data_hash.len() != 32 {
        return Err(Error::InvalidLength("SM3 data hash"));
    }
    if property_info.len() > MAX_PROPERTY {
        return Err(SealProblem::Malformed("propertyInfo").into());
    }
    let tbs = TbsSign {
        version: VERSION,
        eseal,
        time_info: time(time_info)?,
        data_hash: BitString::from_bytes(data_hash)?,
        property_info: Ia5String::new(property_info)
            .map_err(|_| SealProblem::Malformed("propertyInfo"))?,
        ext_datas: None,
    };
    Ok(tbs.to_der()?)
}

/// The `SES_Signature` (no timestamp yet) from `tbs_der` and the signer's SM2 signature
/// (DER) over exactly those bytes, checked here under `signer`'s key.
pub fn assemble_signature(tbs_der: &[u8], signer: &Cert, signature_der: &[u8]) -> Result<Vec<u8>> {
    let to_sign = TbsSign::from_der(tbs_der).map_err(|_| SealProblem::Malformed("TBS_Sign"))?;
    if signer.public_key().signature_algorithm() != SignatureAlgorithm::Sm2WithSm3 {
        return Err(Error::UnsupportedAlgorithm("signer key".into()));
    }
    verify_sm2(signer, tbs_der, signature_der)?;
    let out = SesSignature {
        to_sign,
        cert: OctetString::new(signer.to_der())?,
        signature_alg_id: SM2_WITH_SM3,
        signature: BitString::from_bytes(signature_der)?,
        time_stamp: None,
    }
    .to_der()?;
    verify_signature(&out, None, &[])?;
    Ok(out)
}

/// Make `TBS_Sign` and sign it with a key held here.
pub fn sign(
    seal_der: &[u8],
    time_info: u64,
    data_hash: &[u8],
    property_info: &str,
    signer: SesSigner<'_>,
) -> Result<Vec<u8>> {
    let tbs = tbs_sign_der(seal_der, time_info, data_hash, property_info)?;
    let sig = signer.key.sign_tbs(&tbs)?;
    assemble_signature(&tbs, signer.cert, &sig)
}

/// Put an RFC 3161 token (`ContentInfo` DER) over the signature value into `timeStamp`.
/// The token must verify and its imprint must be the hash of the signature value.
pub fn add_timestamp(ses_der: &[u8], token_der: &[u8], extra_certs: &[Cert]) -> Result<Vec<u8>> {
    let mut ses =
        SesSignature::from_der(ses_der).map_err(|_| SealProblem::Malformed("SES_Signature"))?;
    let ts = verify_token(token_der, extra_certs)?;
    ts.check_imprint_of(octets(&ses.signature)?)?;
    ses.time_stamp = Some(BitString::from_bytes(token_der)?);
    let out = ses.to_der()?;
    verify_signature(&out, None, extra_certs)?;
    Ok(out)
}

/// A `SES_Signature` whose signatures (signer's, seal maker's, the timestamp's) verified.
#[derive(Clone, Debug)]
pub struct VerifiedSesSignature {
    pub seal: VerifiedSeal,
    pub signer: Cert,
    /// `timeInfo`: the time the signer claims, Unix seconds.
    pub time_info: u64,
    pub data_hash: Vec<u8>,
    pub property_info: String,
    /// The signature value (DER), what a timestamp covers.
    pub signature: Vec<u8>,
    pub timestamp: Option<VerifiedTimestamp>,
    /// Whether the signer's certificate is in the seal's list.
    pub signer_listed: bool,
}

impl VerifiedSesSignature {
    /// When the seal was used: the timestamp's time if there is one, else `timeInfo`.
    pub fn used_at(&self) -> u64 {
        self.timestamp
            .as_ref()
            .map_or(self.time_info, |t| t.gen_time)
    }

    /// Whether the seal was within its validity when it was used.
    pub fn seal_valid_when_used(&self) -> bool {
        self.seal.valid_at(self.used_at())
    }

    /// Refuse a signature by someone the seal does not list, or made outside the seal's
    /// validity. Chains and revocation are the caller's.
    pub fn check(&self) -> Result<()> {
        if !self.signer_listed {
            return Err(SealProblem::SignerNotListed.into());
        }
        if !self.seal_valid_when_used() {
            return Err(SealProblem::OutsideValidity.into());
        }
        Ok(())
    }
}

/// Verify a `SES_Signature`: the signer's signature over the received `TBS_Sign`, the seal
/// maker's over the seal, `dataHash` against `data_hash` when given, and the timestamp (its
/// signature, TSA certificate and imprint over the signature value). `extra_certs` are TSA
/// certificates a token may leave out.
pub fn verify_signature(
    der: &[u8],
    data_hash: Option<&[u8]>,
    extra_certs: &[Cert],
) -> Result<VerifiedSesSignature> {
    let ses = SesSignature::from_der(der).map_err(|_| SealProblem::Malformed("SES_Signature"))?;
    let tbs = &ses.to_sign;
    if tbs.version != VERSION {
        return Err(SealProblem::UnsupportedVersion.into());
    }
    check_alg(&ses.signature_alg_id)?;
    let signer = Cert::from_der(ses.cert.as_bytes())?;
    let signature = octets(&ses.signature)?.to_vec();
    verify_sm2(&signer, &tbs.to_der()?, &signature)?;
    let seal = verified(&tbs.eseal, tbs.eseal.to_der()?)?;
    let hash = octets(&tbs.data_hash)?.to_vec();
    if data_hash.is_some_and(|h| h != hash.as_slice()) {
        return Err(SealProblem::DataHashMismatch.into());
    }
    let timestamp = match &ses.time_stamp {
        None => None,
        Some(bits) => {
            let ts = verify_token(octets(bits)?, extra_certs)?;
            ts.check_imprint_of(&signature)?;
            Some(ts)
        }
    };
    Ok(VerifiedSesSignature {
        signer_listed: seal.lists(&signer),
        seal,
        signer,
        time_info: unix(&tbs.time_info),
        data_hash: hash,
        property_info: tbs.property_info.to_string(),
        signature,
        timestamp,
    })
}

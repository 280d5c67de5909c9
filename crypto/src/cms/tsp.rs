//! RFC 3161 time-stamp protocol: `TimeStampReq`, `TimeStampResp`, `TSTInfo`; issuing a
//! token (the TSA side) and verifying one (relying parties, and the client that adds it to a
//! SignerInfo as `signatureTimeStampToken`).

use super::algorithms::{ContentTypes, HashAlgorithm, digest_for};
use super::oids;
use super::signed_data::{Content, SignedDataBuilder, verify_inner};
use super::signer_info::SignerInfo;
use crate::error::{CmsProblem, Error, Result};
use crate::x509::{Cert, TbsSigner};
use cms::content_info::ContentInfo;
use der::asn1::{BitString, Int, ObjectIdentifier as Oid, OctetString, Uint};
use der::{
    DateTime, Decode, DecodeValue, Encode, EncodeValue, FixedTag, Header, Length, Reader, Sequence,
    Tag, Writer,
};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET
/// STRING }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161 §2.4.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampReqAsn1 {
    version: u8,
    message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    req_policy: Option<Oid>,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(default = "Default::default")]
    cert_req: bool,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    extensions: Option<Vec<Extension>>,
}

/// `PKIStatusInfo` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct PkiStatusInfo {
    status: u8,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<BitString>,
}

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken
/// OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampRespAsn1 {
    status: PkiStatusInfo,
    #[asn1(optional = "true")]
    time_stamp_token: Option<ContentInfo>,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER (1..999)
/// OPTIONAL, micros [1] INTEGER (1..999) OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Accuracy {
    #[asn1(optional = "true")]
    pub seconds: Option<u32>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

/// `TSTInfo` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TstInfoAsn1 {
    version: u8,
    policy: Oid,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: GenTime,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    extensions: Option<Vec<Extension>>,
}

/// `genTime GeneralizedTime`. RFC 3161 allows fractions of a second (`YYYYMMDDhhmmss[.s+]Z`),
/// which the `der` crate's GeneralizedTime refuses; read them (kept to the millisecond),
/// write whole seconds.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
struct GenTime {
    unix: u64,
    millis: u16,
}

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for GenTime {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let bytes = reader.read_vec(header.length())?;
        parse_generalized_time(&bytes).ok_or_else(|| Tag::GeneralizedTime.value_error().into())
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        Ok(Length::new(15))
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        let dt = DateTime::from_unix_duration(core::time::Duration::from_secs(self.unix))?;
        let text = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minutes(),
            dt.seconds()
        );
        writer.write(text.as_bytes())
    }
}

fn parse_generalized_time(b: &[u8]) -> Option<GenTime> {
    let (body, rest) = (b.get(..14)?, b.get(14..)?);
    if !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |r: core::ops::Range<usize>| -> Option<u16> {
        core::str::from_utf8(body.get(r)?).ok()?.parse().ok()
    };
    let millis = match rest {
        [b'Z'] => 0,
        [b'.', frac @ .., b'Z'] => {
            // DER: at least one digit, no trailing zero.
            if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) || frac.last() == Some(&b'0')
            {
                return None;
            }
            let mut ms = 0u16;
            for (i, d) in frac.iter().take(3).enumerate() {
                ms += u16::from(d - b'0') * [100, 10, 1][i];
            }
            ms
        }
        _ => return None,
    };
    let to_u8 = |v: u16| u8::try_from(v).ok();
    let dt = DateTime::new(
        num(0..4)?,
        to_u8(num(4..6)?)?,
        to_u8(num(6..8)?)?,
        to_u8(num(8..10)?)?,
        to_u8(num(10..12)?)?,
        to_u8(num(12..14)?)?,
    )
    .ok()?;
    Some(GenTime {
        unix: dt.unix_duration().as_secs(),
        millis,
    })
}

fn int_from_unsigned(bytes: &[u8]) -> Result<Int> {
    Ok(Int::from(Uint::new(bytes)?))
}

/// A time-stamp request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeStampRequest {
    algorithm: HashAlgorithm,
    imprint: MessageImprint,
    policy: Option<Oid>,
    nonce: Option<Int>,
    cert_req: bool,
}

impl TimeStampRequest {
    /// A request for `digest` (under `algorithm`) with a fresh random 64-bit nonce, asking for
    /// the TSA certificate.
    pub fn new(algorithm: HashAlgorithm, digest: &[u8]) -> Result<Self> {
        if digest.len() != algorithm.output_len() {
            return Err(Error::InvalidLength("message imprint"));
        }
        let mut nonce = crate::rng::bytes::<8>()?;
        nonce[0] |= 0x01 << 6; // never a short encoding, still positive
        nonce[0] &= 0x7f;
        Ok(Self {
            algorithm,
            imprint: MessageImprint {
                hash_algorithm: algorithm.identifier(),
                hashed_message: OctetString::new(digest)?,
            },
            policy: None,
            nonce: Some(int_from_unsigned(&nonce)?),
            cert_req: true,
        })
    }

    /// Parse DER. Unknown hash algorithms are [`Error::UnsupportedAlgorithm`] (a TSA answers
    /// `badAlg`); a wrong imprint length, another version or any extension is malformed
    /// (`badDataFormat` / `unacceptedExtension`).
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let req = TimeStampReqAsn1::from_der(der)?;
        if req.version != 1 {
            return Err(Error::malformed("TimeStampReq version"));
        }
        let algorithm = HashAlgorithm::from_identifier(&req.message_imprint.hash_algorithm)?;
        if req.message_imprint.hashed_message.as_bytes().len() != algorithm.output_len() {
            return Err(Error::InvalidLength("message imprint"));
        }
        if req.extensions.is_some() {
            return Err(Error::UnsupportedAlgorithm(
                "TimeStampReq extensions".into(),
            ));
        }
        Ok(Self {
            algorithm,
            imprint: req.message_imprint,
            policy: req.req_policy,
            nonce: req.nonce,
            cert_req: req.cert_req,
        })
    }

    /// DER.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        Ok(TimeStampReqAsn1 {
            version: 1,
            message_imprint: self.imprint.clone(),
            req_policy: self.policy,
            nonce: self.nonce.clone(),
            cert_req: self.cert_req,
            extensions: None,
        }
        .to_der()?)
    }

    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    pub fn imprint(&self) -> &[u8] {
        self.imprint.hashed_message.as_bytes()
    }

    /// The requested policy, if any.
    pub fn policy(&self) -> Option<Oid> {
        self.policy
    }

    /// The nonce's INTEGER content octets, if any.
    pub fn nonce(&self) -> Option<&[u8]> {
        self.nonce.as_ref().map(|n| n.as_bytes())
    }

    pub fn cert_req(&self) -> bool {
        self.cert_req
    }

    /// Ask for a policy (`reqPolicy`); a TSA under another policy refuses.
    pub fn with_policy(mut self, policy: Oid) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Ask for the TSA certificate in the token (or not).
    pub fn with_cert_req(mut self, cert_req: bool) -> Self {
        self.cert_req = cert_req;
        self
    }
}

/// The TSA's key, certificate (critical EKU `id-kp-timeStamping`) and chain, and policy.
#[derive(Clone, Copy)]
pub struct TsaSigner<'a> {
    pub key: &'a dyn TbsSigner,
    pub cert: &'a Cert,
    /// The chain above `cert` (issuing CA, root), included when a request asks for
    /// certificates.
    pub chain: &'a [Cert],
    pub policy: Oid,
}

impl core::fmt::Debug for TsaSigner<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TsaSigner")
            .field("cert", self.cert)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// `PKIFailureInfo` bits a TSA answers with (RFC 3161 §2.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureInfo {
    BadAlg = 0,
    BadRequest = 2,
    BadDataFormat = 5,
    TimeNotAvailable = 14,
    UnacceptedPolicy = 15,
    UnacceptedExtension = 16,
    SystemFailure = 25,
}

/// Issue a token for `req`: the TSTInfo (version 1, the TSA's policy, the request's imprint
/// exactly as sent, `serial`, `gen_time` in whole seconds with an accuracy of one second, the
/// nonce echoed, the TSA's name), signed by the TSA with signed attributes contentType,
/// messageDigest, signingTime and signingCertificateV2; the TSA certificate and its chain
/// included when the request asks. `serial` is a positive big-endian integer the caller keeps
/// unique. A request for another policy is [`FailureInfo::UnacceptedPolicy`] territory: it
/// returns [`Error::UnsupportedAlgorithm`].
pub fn issue_token(
    req: &TimeStampRequest,
    serial: &[u8],
    gen_time: u64,
    tsa: &TsaSigner<'_>,
) -> Result<Vec<u8>> {
    if req.policy.is_some_and(|p| p != tsa.policy) {
        return Err(Error::UnsupportedAlgorithm("time-stamp policy".into()));
    }
    if !tsa.cert.is_time_stamping_only() {
        return Err(CmsProblem::NotTsaCertificate.into());
    }
    let tst = TstInfoAsn1 {
        version: 1,
        policy: tsa.policy,
        message_imprint: req.imprint.clone(),
        serial_number: int_from_unsigned(serial)?,
        gen_time: GenTime {
            unix: gen_time,
            millis: 0,
        },
        accuracy: Some(Accuracy {
            seconds: Some(1),
            millis: None,
            micros: None,
        }),
        ordering: false,
        nonce: req.nonce.clone(),
        tsa: Some(GeneralName::DirectoryName(tsa.cert.subject().clone())),
        extensions: None,
    }
    .to_der()?;
    let digest = digest_for(tsa.cert.public_key().signature_algorithm());
    let info = SignerInfo::sign(
        tsa.key,
        tsa.cert,
        ContentTypes::Pkcs7,
        oids::CT_TST_INFO,
        &digest.digest(&tst),
        Some(gen_time),
    )?;
    let mut b = SignedDataBuilder::new(ContentTypes::Pkcs7, oids::CT_TST_INFO)
        .attach(&tst)
        .signer(info);
    if req.cert_req {
        b = b.certificates(std::iter::once(tsa.cert).chain(tsa.chain));
    } else {
        b = b.certificates_left_out([tsa.cert]);
    }
    b.build()
}

/// A `TimeStampResp` granting `token`.
pub fn response_granted(token_der: &[u8]) -> Result<Vec<u8>> {
    Ok(TimeStampRespAsn1 {
        status: PkiStatusInfo {
            status: 0,
            status_string: None,
            fail_info: None,
        },
        time_stamp_token: Some(ContentInfo::from_der(token_der)?),
    }
    .to_der()?)
}

/// A `TimeStampResp` rejecting a request (status 2) with one failure bit and a text.
pub fn response_rejected(fail: FailureInfo, text: &str) -> Result<Vec<u8>> {
    let bit = fail as usize;
    let mut bytes = vec![0u8; bit / 8 + 1];
    bytes[bit / 8] = 0x80 >> (bit % 8);
    // DER named bit string: no trailing zero bits.
    let unused = u8::try_from(7 - bit % 8).map_err(|_| Error::Encoding("bit".into()))?;
    Ok(TimeStampRespAsn1 {
        status: PkiStatusInfo {
            status: 2,
            status_string: Some(vec![text.to_owned()]),
            fail_info: Some(BitString::new(unused, bytes)?),
        },
        time_stamp_token: None,
    }
    .to_der()?)
}

/// A parsed `TimeStampResp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeStampResponse {
    /// PKIStatus: 0 granted, 1 granted with modifications, 2 rejection, ...
    pub status: u8,
    pub status_text: Vec<String>,
    /// The failure bits (BIT STRING bytes), if any.
    pub fail_info: Option<Vec<u8>>,
    /// The token (`ContentInfo` DER), if granted.
    pub token: Option<Vec<u8>>,
}

impl TimeStampResponse {
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let r = TimeStampRespAsn1::from_der(der)?;
        Ok(Self {
            status: r.status.status,
            status_text: r.status.status_string.unwrap_or_default(),
            fail_info: r.status.fail_info.map(|b| b.raw_bytes().to_vec()),
            token: r.time_stamp_token.map(|t| t.to_der()).transpose()?,
        })
    }

    /// Accept this response for `req`: granted, the token verifies, and its imprint and
    /// nonce are the request's; the TSA certificate is in the token if the request asked.
    pub fn check(&self, req: &TimeStampRequest, extra_certs: &[Cert]) -> Result<VerifiedTimestamp> {
        if self.status > 1 {
            return Err(CmsProblem::TimestampRejected {
                status: self.status,
            }
            .into());
        }
        let token = self
            .token
            .as_deref()
            .ok_or(Error::malformed("TimeStampResp without token"))?;
        let ts = verify_token(token, extra_certs)?;
        ts.check_imprint(req.algorithm, req.imprint())?;
        if ts.nonce.as_deref() != req.nonce() {
            return Err(CmsProblem::TimestampNonceMismatch.into());
        }
        if req.cert_req && !ts.cert_included {
            return Err(CmsProblem::TimestampCertificateMissing.into());
        }
        Ok(ts)
    }
}

/// A timestamp token whose signature verifies under a time-stamping certificate. Whether that
/// certificate chains to a TSA the caller trusts is the caller's check
/// ([`crate::x509::verify_chain`] at [`VerifiedTimestamp::gen_time`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// genTime, Unix seconds (fractions dropped).
    pub gen_time: u64,
    /// The fraction of genTime, milliseconds.
    pub gen_time_millis: u16,
    /// serialNumber INTEGER content octets.
    pub serial: Vec<u8>,
    pub policy: Oid,
    pub imprint_algorithm: HashAlgorithm,
    pub imprint: Vec<u8>,
    /// nonce INTEGER content octets.
    pub nonce: Option<Vec<u8>>,
    /// accuracy, if the TSA stated one.
    pub accuracy: Option<Accuracy>,
    pub tsa_cert: Cert,
    /// Whether the token itself carries the TSA certificate.
    pub cert_included: bool,
    /// The token, `ContentInfo` DER.
    pub token_der: Vec<u8>,
}

impl VerifiedTimestamp {
    /// The imprint must be `digest` under `algorithm`.
    pub fn check_imprint(&self, algorithm: HashAlgorithm, digest: &[u8]) -> Result<()> {
        if self.imprint_algorithm != algorithm || self.imprint != digest {
            return Err(CmsProblem::TimestampImprintMismatch.into());
        }
        Ok(())
    }

    /// The imprint must be the hash (under the token's own algorithm) of `data`, e.g. a
    /// SignerInfo's signature value.
    pub fn check_imprint_of(&self, data: &[u8]) -> Result<()> {
        if self.imprint_algorithm.digest(data) != self.imprint {
            return Err(CmsProblem::TimestampImprintMismatch.into());
        }
        Ok(())
    }
}

/// Verify a timestamp token (`ContentInfo` DER): a SignedData over a TSTInfo with one signer
/// whose certificate is a TSA's (critical EKU with only `id-kp-timeStamping`), with the ESS
/// signing-certificate attribute RFC 3161 §2.4.1 requires.
pub fn verify_token(token_der: &[u8], extra_certs: &[Cert]) -> Result<VerifiedTimestamp> {
    let v = verify_inner(token_der, Some(Content::Attached), extra_certs, false)?;
    if v.econtent_type != oids::CT_TST_INFO {
        return Err(CmsProblem::NotTimestampToken.into());
    }
    let [signer] = &v.signers[..] else {
        return Err(Error::malformed(
            "timestamp token with other than one signer",
        ));
    };
    let attrs = signer
        .attributes
        .as_ref()
        .ok_or(CmsProblem::AttributeMissing("signingCertificate"))?;
    if attrs.signing_certificate_v2.is_none() && !has_ess_v1(&signer.signer_info)? {
        return Err(CmsProblem::AttributeMissing("signingCertificate").into());
    }
    if !signer.cert.is_time_stamping_only() {
        return Err(CmsProblem::NotTsaCertificate.into());
    }
    let content = v.content.as_deref().ok_or(CmsProblem::ContentMissing)?;
    let tst = TstInfoAsn1::from_der(content)?;
    if tst.version != 1 {
        return Err(Error::malformed("TSTInfo version"));
    }
    let imprint_algorithm = HashAlgorithm::from_identifier(&tst.message_imprint.hash_algorithm)?;
    Ok(VerifiedTimestamp {
        gen_time: tst.gen_time.unix,
        gen_time_millis: tst.gen_time.millis,
        serial: tst.serial_number.as_bytes().to_vec(),
        policy: tst.policy,
        imprint_algorithm,
        imprint: tst.message_imprint.hashed_message.as_bytes().to_vec(),
        nonce: tst.nonce.map(|n| n.as_bytes().to_vec()),
        accuracy: tst.accuracy,
        cert_included: v.certificates.contains(&signer.cert),
        tsa_cert: signer.cert.clone(),
        token_der: token_der.to_vec(),
    })
}

/// ESS v1 (`signingCertificate`, SHA-1) is what OpenSSL's TSA writes by default. SHA-1 is not
/// in this crate, so its hash is not compared; the signer is still found by issuer and serial
/// and its key verified the signature.
fn has_ess_v1(info: &SignerInfo) -> Result<bool> {
    let Some(set) = info.signed_attributes_der()? else {
        return Ok(false);
    };
    let attrs = der::asn1::SetOfVec::<x509_cert::attr::Attribute>::from_der(&set)?;
    Ok(attrs
        .iter()
        .any(|a| a.oid == oids::ATTR_SIGNING_CERTIFICATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_time_reads_fractions_and_writes_whole_seconds() {
        let t = |s: &str| parse_generalized_time(s.as_bytes());
        assert_eq!(
            t("20241008154032Z").map(|g| (g.unix, g.millis)),
            Some((1_728_402_032, 0))
        );
        assert_eq!(t("20241008154032.5Z").map(|g| g.millis), Some(500));
        assert_eq!(t("20241008154032.123456Z").map(|g| g.millis), Some(123));
        for bad in [
            "20241008154032",
            "20241008154032.Z",
            "20241008154032.50Z",
            "2024100815403Z",
            "20241308154032Z",
            "20241008154032+0800",
            "2024-10-08T15:40:32Z",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
        let g = GenTime {
            unix: 1_728_402_032,
            millis: 0,
        };
        let der = g.to_der().expect("der");
        assert_eq!(&der[2..], b"20241008154032Z");
        assert_eq!(GenTime::from_der(&der).expect("back"), g);
    }
}

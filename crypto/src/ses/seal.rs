//! The seal maker's `SESeal`: making one and reading one back.

use super::asn1::{
    CertDigestObj, SeSeal, SesEsPictureInfo, SesEsPropertyInfo, SesHeader, SesSealInfo,
};
use super::{CERT_LIST_CERTS, CERT_LIST_DIGESTS, HEADER_ID, MAX_PICTURE, VERSION};
use super::{check_alg, octets, time, unix, verify_sm2};
use crate::error::{Error, Result, SealProblem};
use crate::x509::oids::SM2_WITH_SM3;
use crate::x509::{Cert, SignatureAlgorithm, TbsSigner};
use der::asn1::{Any, BitString, Ia5String, OctetString};
use der::{Decode, Encode};

/// The seal's picture: PNG bytes and its printed size in millimetres.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealPicture {
    /// `SES_ESPictrueInfo.type`, e.g. `PNG`.
    pub kind: String,
    pub data: Vec<u8>,
    pub width_mm: u32,
    pub height_mm: u32,
}

/// What the seal maker puts in a seal.
#[derive(Clone, Debug)]
pub struct SealContent {
    /// `esID`: the seal's unique code (ASCII).
    pub es_id: String,
    /// `SES_Header.vid`: the maker's product identifier.
    pub vid: String,
    /// `type`: 1 official seal (公章), 2 contract seal, … as the operator numbers them.
    pub seal_type: u32,
    pub name: String,
    /// The certificates of the people allowed to use the seal (`certListType` 1).
    pub signer_certs: Vec<Cert>,
    /// Unix seconds.
    pub create_date: u64,
    pub valid_start: u64,
    pub valid_end: u64,
    pub picture: SealPicture,
}

/// A seal whose maker signature verified.
#[derive(Clone, Debug)]
pub struct VerifiedSeal {
    pub es_id: String,
    pub vid: String,
    pub version: u32,
    pub seal_type: u32,
    pub name: String,
    /// `certListType`.
    pub cert_list_type: u32,
    /// The list's entries: certificate DER (type 1) or hashes (type 2).
    pub cert_list: Vec<Vec<u8>>,
    pub create_date: u64,
    pub valid_start: u64,
    pub valid_end: u64,
    pub picture: SealPicture,
    /// The seal maker's certificate.
    pub maker: Cert,
    /// The `SESeal` DER.
    pub der: Vec<u8>,
}

impl VerifiedSeal {
    /// Whether `cert` is in the seal's list: its DER in a type 1 list, its SM3 or SHA-256
    /// hash in a type 2 list.
    pub fn lists(&self, cert: &Cert) -> bool {
        match self.cert_list_type {
            CERT_LIST_CERTS => self.cert_list.iter().any(|c| c == cert.to_der()),
            _ => self.cert_list.iter().any(|d| {
                d.as_slice() == cert.fingerprint_sm3() || d.as_slice() == cert.fingerprint_sha256()
            }),
        }
    }

    /// Whether Unix second `at` is within the seal's validity.
    pub fn valid_at(&self, at: u64) -> bool {
        self.valid_start <= at && at <= self.valid_end
    }
}

fn ia5(s: &str, what: &'static str) -> Result<Ia5String> {
    Ia5String::new(s).map_err(|_| SealProblem::Malformed(what).into())
}

/// Make a seal: `maker` (whose certificate is `maker_cert`) signs the DER of
/// `SES_SealInfo`. The result is checked with [`verify_seal`] before it is returned.
pub fn make_seal(
    content: &SealContent,
    maker_cert: &Cert,
    maker: &dyn TbsSigner,
) -> Result<Vec<u8>> {
    if maker.algorithm() != SignatureAlgorithm::Sm2WithSm3 {
        return Err(Error::UnsupportedAlgorithm("seal maker key".into()));
    }
    if maker.public_key_spki()? != maker_cert.public_key_spki_der()? {
        return Err(Error::InvalidKey);
    }
    if content.signer_certs.is_empty() {
        return Err(SealProblem::EmptyCertList.into());
    }
    if content.valid_end < content.valid_start || content.picture.data.len() > MAX_PICTURE {
        return Err(SealProblem::Malformed("seal content").into());
    }
    let certs: Vec<OctetString> = content
        .signer_certs
        .iter()
        .map(|c| OctetString::new(c.to_der()))
        .collect::<der::Result<_>>()?;
    let info = SesSealInfo {
        header: SesHeader {
            id: ia5(HEADER_ID, "header")?,
            version: VERSION,
            vid: ia5(&content.vid, "vid")?,
        },
        es_id: ia5(&content.es_id, "esID")?,
        property: SesEsPropertyInfo {
            seal_type: content.seal_type,
            name: content.name.clone(),
            cert_list_type: CERT_LIST_CERTS,
            cert_list: Any::encode_from(&certs)?,
            create_date: time(content.create_date)?,
            valid_start: time(content.valid_start)?,
            valid_end: time(content.valid_end)?,
        },
        picture: SesEsPictureInfo {
            picture_type: ia5(&content.picture.kind, "picture type")?,
            data: OctetString::new(content.picture.data.clone())?,
            width: content.picture.width_mm,
            height: content.picture.height_mm,
        },
        ext_datas: None,
    };
    let tbs = info.to_der()?;
    let sig = maker.sign_tbs(&tbs)?;
    let seal = SeSeal {
        seal_info: info,
        cert: OctetString::new(maker_cert.to_der())?,
        sign_alg_id: SM2_WITH_SM3,
        signed_value: BitString::from_bytes(&sig)?,
    };
    let der = seal.to_der()?;
    verify_seal(&der)?;
    Ok(der)
}

/// Read a `SESeal` and verify the seal maker's signature over its `SES_SealInfo`.
pub fn verify_seal(der: &[u8]) -> Result<VerifiedSeal> {
    let seal = SeSeal::from_der(der).map_err(|_| SealProblem::Malformed("SESeal"))?;
    verified(&seal, der.to_vec())
}

pub(super) fn verified(seal: &SeSeal, der: Vec<u8>) -> Result<VerifiedSeal> {
    let info = &seal.seal_info;
    if info.header.id.as_str() != HEADER_ID || info.header.version != VERSION {
        return Err(SealProblem::UnsupportedVersion.into());
    }
    check_alg(&seal.sign_alg_id)?;
    let maker = Cert::from_der(seal.cert.as_bytes())?;
    // Strict DER parsing means re-encoding gives back the received bytes.
    verify_sm2(&maker, &info.to_der()?, octets(&seal.signed_value)?)
        .map_err(|_| SealProblem::MakerSignatureInvalid)?;
    let p = &info.property;
    let cert_list = match p.cert_list_type {
        CERT_LIST_CERTS => p
            .cert_list
            .decode_as::<Vec<OctetString>>()?
            .into_iter()
            .map(|o| o.as_bytes().to_vec())
            .collect(),
        CERT_LIST_DIGESTS => p
            .cert_list
            .decode_as::<Vec<CertDigestObj>>()?
            .into_iter()
            .map(|o| o.value.as_bytes().to_vec())
            .collect(),
        _ => return Err(SealProblem::Malformed("certListType").into()),
    };
    Ok(VerifiedSeal {
        es_id: info.es_id.to_string(),
        vid: info.header.vid.to_string(),
        version: info.header.version,
        seal_type: p.seal_type,
        name: p.name.clone(),
        cert_list_type: p.cert_list_type,
        cert_list,
        create_date: unix(&p.create_date),
        valid_start: unix(&p.valid_start),
        valid_end: unix(&p.valid_end),
        picture: SealPicture {
            kind: info.picture.picture_type.to_string(),
            data: info.picture.data.as_bytes().to_vec(),
            width_mm: info.picture.width,
            height_mm: info.picture.height,
        },
        maker,
        der,
    })
}

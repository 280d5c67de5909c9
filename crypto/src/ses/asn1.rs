//! The GB/T 38540-2020 version 4 structures, as DER (field order and tags as the standard
//! gives them; checked against ofdrw's `org.ofdrw.gm.ses.v4` and GmSSL-based verifiers).
//!
//! ```text
//! SESeal        ::= SEQUENCE { eSealInfo SES_SealInfo, cert OCTET STRING,
//!                              signAlgID OBJECT IDENTIFIER, signedValue BIT STRING }
//! SES_SealInfo  ::= SEQUENCE { header SES_Header, esID IA5String,
//!                              property SES_ESPropertyInfo, picture SES_ESPictrueInfo,
//!                              extDatas ExtensionDatas OPTIONAL }
//! SES_Header    ::= SEQUENCE { id IA5String ("ES"), version INTEGER (4), vid IA5String }
//! SES_ESPropertyInfo ::= SEQUENCE { type INTEGER, name UTF8String, certListType INTEGER,
//!                              certList SES_CertList, createDate GeneralizedTime,
//!                              validStart GeneralizedTime, validEnd GeneralizedTime }
//! SES_CertList  ::= CHOICE { certs SEQUENCE OF OCTET STRING,          -- certListType 1
//!                            certDigestList SEQUENCE OF CertDigestObj } -- certListType 2
//! SES_ESPictrueInfo ::= SEQUENCE { type IA5String, data OCTET STRING,
//!                              width INTEGER, height INTEGER }         -- millimetres
//! SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING,
//!                              signatureAlgID OBJECT IDENTIFIER, signature BIT STRING,
//!                              timeStamp [0] EXPLICIT BIT STRING OPTIONAL }
//! TBS_Sign      ::= SEQUENCE { version INTEGER, eseal SESeal, timeInfo GeneralizedTime,
//!                              dataHash BIT STRING, propertyInfo IA5String,
//!                              extDatas ExtensionDatas OPTIONAL }
//! ```
//! The two CHOICE alternatives of `SES_CertList` are both SEQUENCEs, told apart only by
//! `certListType`, so `certList` is kept as [`Any`] and read by that type.

use der::Sequence;
use der::asn1::{Any, BitString, GeneralizedTime, Ia5String, ObjectIdentifier, OctetString};

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SesHeader {
    pub id: Ia5String,
    pub version: u32,
    pub vid: Ia5String,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SesEsPropertyInfo {
    pub seal_type: u32,
    pub name: String,
    pub cert_list_type: u32,
    pub cert_list: Any,
    pub create_date: GeneralizedTime,
    pub valid_start: GeneralizedTime,
    pub valid_end: GeneralizedTime,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct CertDigestObj {
    pub digest_type: der::asn1::PrintableString,
    pub value: OctetString,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SesEsPictureInfo {
    pub picture_type: Ia5String,
    pub data: OctetString,
    pub width: u32,
    pub height: u32,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SesSealInfo {
    pub header: SesHeader,
    pub es_id: Ia5String,
    pub property: SesEsPropertyInfo,
    pub picture: SesEsPictureInfo,
    #[asn1(optional = "true")]
    pub ext_datas: Option<Any>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SeSeal {
    pub seal_info: SesSealInfo,
    pub cert: OctetString,
    pub sign_alg_id: ObjectIdentifier,
    pub signed_value: BitString,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TbsSign {
    pub version: u32,
    pub eseal: SeSeal,
    pub time_info: GeneralizedTime,
    pub data_hash: BitString,
    pub property_info: Ia5String,
    #[asn1(optional = "true")]
    pub ext_datas: Option<Any>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SesSignature {
    pub to_sign: TbsSign,
    pub cert: OctetString,
    pub signature_alg_id: ObjectIdentifier,
    pub signature: BitString,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub time_stamp: Option<BitString>,
}

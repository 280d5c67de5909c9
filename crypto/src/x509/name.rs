//! Subject names for Bidkey certificates.
//!
//! Every name starts with `C=CN`. Free text (person, enterprise and CA names) is UTF8String so
//! that Chinese names survive and OpenSSL prints them (`-nameopt utf8`).
//!
//! **Enterprise USCC.** The 18-character unified social credit code (统一社会信用代码,
//! GB 32100-2015) goes into `organizationIdentifier` (2.5.4.97, X.520) in the ETSI
//! EN 319 412-1 §5.1.4 form `NTRCN-<USCC>` ("national trade register", country CN), as a
//! PrintableString. Why this attribute: it is the standard X.520 attribute for a legal
//! person's registration number, OpenSSL and other toolkits know and print it, and it keeps
//! `OU` and `serialNumber` free for their usual meaning. `2.5.4.45` (x500UniqueIdentifier)
//! was not used: its syntax is a BIT STRING, not text, and tools print it as hex.
//!
//! **Person ID.** A raw resident ID number must not appear in a certificate, which is public.
//! An unkeyed hash does not help either: there are only ~10¹¹ valid ID numbers (region, birth
//! date, sequence), so any SHA-256/SM3 of one is reversed by enumeration. `serialNumber`
//! (2.5.4.5) therefore holds `IDH1-` followed by the first 16 bytes (hex, upper case) of
//! HMAC-SM3(key, ID number), where the key is held by the CA / platform operator. Whoever holds
//! the key (the server, a platform matching a bidder account) recomputes the value from an ID
//! number it already knows and compares; anyone else learns nothing from the certificate. The
//! `1` in the prefix versions the scheme.

use super::oids::{
    AT_COMMON_NAME, AT_COUNTRY, AT_ORGANIZATION, AT_ORGANIZATION_IDENTIFIER, AT_SERIAL_NUMBER,
};
use crate::error::{Error, Result};
use der::asn1::{Any, ObjectIdentifier};
use der::{Decode, Encode, Tag};
use sm3::Sm3;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::pkix::name::DirectoryString;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

/// The prefix of the USCC inside `organizationIdentifier` (ETSI EN 319 412-1).
const USCC_PREFIX: &str = "NTRCN-";
/// The prefix of the keyed person-ID digest inside `serialNumber`.
const PERSON_ID_PREFIX: &str = "IDH1-";
/// RFC 5280 upper bound for common and organization names, in characters.
const MAX_NAME_CHARS: usize = 64;
/// A shorter HMAC key would make the ID digest guessable by whoever guesses the key.
const MIN_ID_KEY_LEN: usize = 16;

/// Subject of an enterprise certificate: `C=CN, O=<name>, organizationIdentifier=NTRCN-<USCC>,
/// CN=<name>`.
pub fn enterprise_subject(enterprise_name: &str, uscc: &str) -> Result<Name> {
    check_text(enterprise_name)?;
    validate_uscc(uscc)?;
    build(&[
        (AT_COUNTRY, Tag::PrintableString, "CN"),
        (AT_ORGANIZATION, Tag::Utf8String, enterprise_name),
        (
            AT_ORGANIZATION_IDENTIFIER,
            Tag::PrintableString,
            &format!("{USCC_PREFIX}{uscc}"),
        ),
        (AT_COMMON_NAME, Tag::Utf8String, enterprise_name),
    ])
}

/// Subject of a person certificate: `C=CN, serialNumber=IDH1-<keyed digest>, CN=<name>`.
pub fn person_subject(person_name: &str, id: &PersonIdDigest) -> Result<Name> {
    check_text(person_name)?;
    build(&[
        (AT_COUNTRY, Tag::PrintableString, "CN"),
        (AT_SERIAL_NUMBER, Tag::PrintableString, id.as_str()),
        (AT_COMMON_NAME, Tag::Utf8String, person_name),
    ])
}

/// Subject of a CA certificate: `C=CN, O=<organization>, CN=<common name>`.
pub fn ca_subject(common_name: &str, organization: &str) -> Result<Name> {
    check_text(common_name)?;
    check_text(organization)?;
    build(&[
        (AT_COUNTRY, Tag::PrintableString, "CN"),
        (AT_ORGANIZATION, Tag::Utf8String, organization),
        (AT_COMMON_NAME, Tag::Utf8String, common_name),
    ])
}

/// The keyed digest of a resident ID number that stands for it in a certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonIdDigest(String);

impl core::fmt::Debug for PersonIdDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The digest is public (it is in the certificate); the ID number never reaches here.
        write!(f, "PersonIdDigest({})", self.0)
    }
}

impl PersonIdDigest {
    /// HMAC-SM3 of the 18-character ID number (upper-case `X`) under `key`, which must be at
    /// least 16 bytes. The ID number's GB 11643 check digit is verified first, so typos do
    /// not produce a digest that silently matches nobody.
    pub fn compute(key: &[u8], id_number: &str) -> Result<Self> {
        if key.len() < MIN_ID_KEY_LEN {
            return Err(Error::InvalidLength("person ID key"));
        }
        let id = id_number.to_ascii_uppercase();
        validate_resident_id(&id)?;
        // HKDF-Extract(salt = key, ikm = id) is exactly HMAC(key, id).
        let (mac, _) = hkdf::SimpleHkdf::<Sm3>::extract(Some(key), id.as_bytes());
        let hex: String = mac[..16].iter().map(|b| format!("{b:02X}")).collect();
        Ok(Self(format!("{PERSON_ID_PREFIX}{hex}")))
    }

    /// The same digest from the full HMAC-SM3 output `HMAC-SM3(key, ID number)` (32 bytes),
    /// for a holder of the key that stored only that MAC and no longer has the ID number
    /// (the Bidkey server keeps `id_number_hash`, never the number). Equal to
    /// [`PersonIdDigest::compute`] with the same key and number.
    pub fn from_keyed_mac(mac: &[u8]) -> Result<Self> {
        if mac.len() != 32 {
            return Err(Error::InvalidLength("person ID MAC"));
        }
        let hex: String = mac[..16].iter().map(|b| format!("{b:02X}")).collect();
        Ok(Self(format!("{PERSON_ID_PREFIX}{hex}")))
    }

    /// The `serialNumber` attribute value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Check a USCC: 18 characters from the GB 32100 alphabet with a correct check character.
pub fn validate_uscc(uscc: &str) -> Result<()> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let bytes = uscc.as_bytes();
    if bytes.len() != 18 {
        return Err(Error::malformed("USCC"));
    }
    let value = |c: u8| {
        ALPHABET
            .iter()
            .position(|&a| a == c)
            .and_then(|p| u32::try_from(p).ok())
            .ok_or(Error::malformed("USCC"))
    };
    let mut sum = 0u32;
    for (c, w) in bytes.iter().zip(WEIGHTS) {
        sum += value(*c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    if value(bytes[17])? == check {
        Ok(())
    } else {
        Err(Error::malformed("USCC"))
    }
}

/// Check an 18-character resident ID number (GB 11643, ISO 7064 MOD 11-2 check digit).
fn validate_resident_id(id: &str) -> Result<()> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err(Error::malformed("resident ID number"));
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    if CHECK[(sum % 11) as usize] == bytes[17] {
        Ok(())
    } else {
        Err(Error::malformed("resident ID number"))
    }
}

/// The first common name, as text.
pub fn common_name(name: &Name) -> Result<Option<String>> {
    text_attribute(name, AT_COMMON_NAME)
}

/// The first organization name, as text.
pub fn organization(name: &Name) -> Result<Option<String>> {
    text_attribute(name, AT_ORGANIZATION)
}

/// The USCC from `organizationIdentifier` (without the `NTRCN-` prefix), if present; a value
/// that is present but not a valid USCC is an error.
pub fn uscc(name: &Name) -> Result<Option<String>> {
    let Some(value) = text_attribute(name, AT_ORGANIZATION_IDENTIFIER)? else {
        return Ok(None);
    };
    let code = value
        .strip_prefix(USCC_PREFIX)
        .ok_or(Error::malformed("organizationIdentifier"))?;
    validate_uscc(code)?;
    Ok(Some(code.to_owned()))
}

/// The keyed person-ID digest from `serialNumber`, if present and in the `IDH1-` form.
pub fn person_id_digest(name: &Name) -> Result<Option<PersonIdDigest>> {
    let Some(value) = text_attribute(name, AT_SERIAL_NUMBER)? else {
        return Ok(None);
    };
    Ok(value
        .starts_with(PERSON_ID_PREFIX)
        .then_some(PersonIdDigest(value)))
}

fn text_attribute(name: &Name, oid: ObjectIdentifier) -> Result<Option<String>> {
    let value: Option<DirectoryString> = name
        .by_oid(oid)
        .map_err(|_| Error::malformed("name attribute"))?;
    Ok(value.map(String::from))
}

/// Names are short, non-empty, and free of control characters (which terminals and log
/// viewers would interpret).
fn check_text(s: &str) -> Result<()> {
    let chars = s.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || s.chars().any(char::is_control) {
        return Err(Error::InvalidLength("name"));
    }
    Ok(())
}

/// One attribute per RDN, in the given order (most general first).
fn build(attributes: &[(ObjectIdentifier, Tag, &str)]) -> Result<Name> {
    let mut rdns = RdnSequence::default();
    for (oid, tag, value) in attributes {
        let mut rdn = RelativeDistinguishedName::default();
        let value = Any::new(*tag, value.as_bytes()).map_err(|_| Error::malformed("name"))?;
        rdn.insert(AttributeTypeAndValue { oid: *oid, value })
            .map_err(|_| Error::malformed("name"))?;
        rdns.push(rdn);
    }
    // `Name` has no public constructor from an RDN sequence; the two share one DER encoding.
    let der = rdns.to_der().map_err(|e| Error::Encoding(e.to_string()))?;
    Name::from_der(&der).map_err(|_| Error::malformed("name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Widely published sample code with a valid check character.
    const USCC: &str = "91350100M000100Y43";
    // The GB 11643 standard's own example number.
    const ID: &str = "11010519491231002X";
    const KEY: &[u8] = b"0123456789abcdef-platform-key";

    #[test]
    fn digest_from_stored_mac_equals_digest_from_number() {
        let mac = crate::sm3::hmac_sm3(KEY, ID.as_bytes());
        let a = PersonIdDigest::from_keyed_mac(&mac).expect("from mac");
        assert_eq!(a, PersonIdDigest::compute(KEY, ID).expect("compute"));
        assert!(PersonIdDigest::from_keyed_mac(&mac[..16]).is_err());
    }

    #[test]
    fn uscc_check_character() {
        validate_uscc(USCC).expect("valid");
        assert!(validate_uscc("91350100M000100Y44").is_err());
        assert!(validate_uscc("91350100M000100Y4").is_err());
        assert!(
            validate_uscc("91350100M00010OY43").is_err(),
            "O is not in the alphabet"
        );
        assert!(validate_uscc("９1350100M000100Y43").is_err());
    }

    #[test]
    fn enterprise_subject_round_trips_chinese_and_uscc() {
        let name = enterprise_subject("北京某某建设工程有限公司", USCC).expect("name");
        assert_eq!(
            common_name(&name).expect("cn").as_deref(),
            Some("北京某某建设工程有限公司")
        );
        assert_eq!(
            organization(&name).expect("o").as_deref(),
            Some("北京某某建设工程有限公司")
        );
        assert_eq!(uscc(&name).expect("uscc").as_deref(), Some(USCC));
        assert!(enterprise_subject("x", "123").is_err());
        assert!(enterprise_subject("", USCC).is_err());
        assert!(enterprise_subject("a\nb", USCC).is_err());
    }

    #[test]
    fn person_subject_holds_a_keyed_digest_not_the_id() {
        let digest = PersonIdDigest::compute(KEY, ID).expect("digest");
        let lower = PersonIdDigest::compute(KEY, &ID.to_lowercase()).expect("digest");
        assert_eq!(digest, lower);
        let other_key = PersonIdDigest::compute(b"another-key-of-16+bytes", ID).expect("digest");
        assert_ne!(digest, other_key);
        let name = person_subject("张三", &digest).expect("name");
        let der = name.to_der().expect("der");
        assert!(!der.windows(ID.len()).any(|w| w == ID.as_bytes()));
        assert_eq!(person_id_digest(&name).expect("sn"), Some(digest.clone()));
        assert_eq!(digest.as_str().len(), 5 + 32);
        assert!(PersonIdDigest::compute(b"short", ID).is_err());
        assert!(PersonIdDigest::compute(KEY, "110105194912310021").is_err());
    }
}

//! Object identifiers of CMS (RFC 5652), GB/T 35275, ESS (RFC 5035) and RFC 3161.

use der::asn1::ObjectIdentifier as Oid;

/// PKCS#7 `id-data` (RFC 5652 §4).
pub const PKCS7_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
/// PKCS#7 `id-signedData` (RFC 5652 §5).
pub const PKCS7_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// GB/T 35275 (GM/T 0010) `data`.
pub const GM_DATA: Oid = Oid::new_unwrap("1.2.156.10197.6.1.4.2.1");
/// GB/T 35275 (GM/T 0010) `signedData`.
pub const GM_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.156.10197.6.1.4.2.2");
/// `id-ct-TSTInfo` (RFC 3161 §2.4.2): the content of a timestamp token.
pub const CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// `id-contentType` signed attribute (RFC 5652 §11.1).
pub const ATTR_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// `id-messageDigest` signed attribute (RFC 5652 §11.2).
pub const ATTR_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// `id-signingTime` signed attribute (RFC 5652 §11.3).
pub const ATTR_SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
/// `id-aa-signingCertificate` (ESS v1, RFC 2634, SHA-1): read, never written.
pub const ATTR_SIGNING_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
/// `id-aa-signingCertificateV2` (RFC 5035).
pub const ATTR_SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// `id-aa-signatureTimeStampToken` unsigned attribute (RFC 3161 appendix A).
pub const ATTR_SIGNATURE_TIME_STAMP_TOKEN: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.14");

/// SHA-256 (RFC 5754).
pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
/// SHA-384 (RFC 5754).
pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
/// SHA-512 (RFC 5754).
pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
/// SM3 (GM/T 0006).
pub const SM3: Oid = crate::x509::oids::SM3;

/// ECDSA with SHA-256 (RFC 5758), the SignerInfo signature algorithm for P-256.
pub const ECDSA_WITH_SHA256: Oid = crate::x509::oids::ECDSA_WITH_SHA256;
/// SM2 with SM3 (GM/T 0006 `1.2.156.10197.1.501`): what Bidkey writes with PKCS#7 types.
pub const SM2_WITH_SM3: Oid = crate::x509::oids::SM2_WITH_SM3;
/// SM2-1 signature (GM/T 0006 `1.2.156.10197.1.301.1`): what GB/T 35275 names, and what
/// Bidkey writes with the GB/T 35275 content types.
pub const SM2_SIGN: Oid = Oid::new_unwrap("1.2.156.10197.1.301.1");
/// The SM2 curve / key OID, which some producers put in SignerInfo; accepted when reading.
pub const SM2_KEY: Oid = crate::x509::oids::SM2_CURVE;

/// The time-stamp policy (RFC 3161 `TSAPolicyId`) a TSA uses unless its operator sets its
/// own: `1.3.6.1.4.1.32473.3161.1`, under IANA's enterprise number 32473, which RFC 5612
/// reserves for documentation and examples, so it collides with no real policy. A production
/// TSA names the policy it publishes, under its operator's registered arc
/// (`bidkey-server --tsa-policy`; ADR 0009).
pub const DEFAULT_TSA_POLICY: Oid = Oid::new_unwrap("1.3.6.1.4.1.32473.3161.1");

/// Bidkey's unsigned attribute carrying the GB/T 38540 `SES_Signature` of the same sealing
/// (`1.3.6.1.4.1.32473.38540.1`, under the documentation arc like
/// [`DEFAULT_TSA_POLICY`]: GB/T 38540 names no CMS attribute, and an unsigned attribute is
/// the one place inside a PDF signature that the ByteRange does not cover). The
/// `SES_Signature` is self-authenticating; verifiers that do not know the attribute ignore
/// it (ADR 0021).
pub const ATTR_SES_SIGNATURE: Oid = Oid::new_unwrap("1.3.6.1.4.1.32473.38540.1");

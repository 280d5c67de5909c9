//! SM2 signatures (GB/T 32918.2) with a distinguishing ID, in DER and raw `r ‖ s` forms.

use super::key::{Sm2PrivateKey, Sm2PublicKey, random_nonzero_scalar, scalar_from_bytes};
use crate::error::{Error, Result};
use der::{Decode, Encode, asn1::UintRef};
use sm2::elliptic_curve::PrimeField;
use sm2::elliptic_curve::ops::Reduce;
use sm2::{FieldBytes, Scalar};
use sm3::{Digest, Sm3};

/// The default distinguishing ID of GM/T 0009, used when a party names none.
pub const DEFAULT_ID: &[u8] = b"1234567812345678";

// Curve parameters a, b, Gx, Gy of the recommended curve, hashed into Z (GB/T 32918.2 §5.5).
const CURVE_A: [u8; 32] = hex32("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC");
const CURVE_B: [u8; 32] = hex32("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93");
const GEN_X: [u8; 32] = hex32("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7");
const GEN_Y: [u8; 32] = hex32("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0");

const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("bad hex constant"),
        }
    }
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// An SM2 signature `(r, s)`, both in [1, n − 1].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sm2Signature {
    r: Scalar,
    s: Scalar,
}

impl core::fmt::Debug for Sm2Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Sm2Signature({})", hex_lower(&self.to_raw()))
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sm2Signature {
    /// From scalars; zero is refused.
    pub fn from_scalars(r: Scalar, s: Scalar) -> Result<Self> {
        if bool::from(r.is_zero() | s.is_zero()) {
            return Err(Error::InvalidScalar);
        }
        Ok(Self { r, s })
    }

    /// Parse the raw 64-byte `r ‖ s` form.
    pub fn from_raw(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 64 {
            return Err(Error::InvalidLength("SM2 signature"));
        }
        let r = scalar_from_bytes(&bytes[..32])?;
        let s = scalar_from_bytes(&bytes[32..])?;
        Self::from_scalars(r, s)
    }

    /// Parse the GM/T 0009 DER form `SEQUENCE { r INTEGER, s INTEGER }`, strictly.
    pub fn from_der(bytes: &[u8]) -> Result<Self> {
        let parsed = DerSig::from_der(bytes).map_err(|_| Error::malformed("SM2 signature"))?;
        let r = scalar_from_uint(parsed.r)?;
        let s = scalar_from_uint(parsed.s)?;
        Self::from_scalars(r, s)
    }

    /// Raw 64-byte `r ‖ s`.
    pub fn to_raw(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.r.to_repr());
        out[32..].copy_from_slice(&self.s.to_repr());
        out
    }

    /// DER `SEQUENCE { r INTEGER, s INTEGER }`.
    pub fn to_der(&self) -> Vec<u8> {
        let r = self.r.to_repr();
        let s = self.s.to_repr();
        let (Ok(r), Ok(s)) = (UintRef::new(&r), UintRef::new(&s)) else {
            unreachable!("32-byte integers always encode")
        };
        DerSig { r, s }
            .to_der()
            .unwrap_or_else(|_| unreachable!("two small integers always encode"))
    }

    pub fn r(&self) -> &Scalar {
        &self.r
    }

    pub fn s(&self) -> &Scalar {
        &self.s
    }
}

#[derive(der::Sequence)]
struct DerSig<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

fn scalar_from_uint(u: UintRef<'_>) -> Result<Scalar> {
    let bytes = u.as_bytes();
    if bytes.len() > 32 {
        return Err(Error::InvalidScalar);
    }
    let mut buf = [0u8; 32];
    buf[32 - bytes.len()..].copy_from_slice(bytes);
    scalar_from_bytes(&buf)
}

/// Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA).
pub fn z_value(public: &Sm2PublicKey, id: &[u8]) -> Result<[u8; 32]> {
    let bits = id
        .len()
        .checked_mul(8)
        .and_then(|b| u16::try_from(b).ok())
        .ok_or(Error::InvalidLength("SM2 distinguishing ID"))?;
    let sec1 = public.to_sec1();
    let mut h = Sm3::new();
    h.update(bits.to_be_bytes());
    h.update(id);
    h.update(CURVE_A);
    h.update(CURVE_B);
    h.update(GEN_X);
    h.update(GEN_Y);
    h.update(&sec1[1..]);
    Ok(h.finalize().into())
}

/// e = SM3(Z ‖ M): the digest that is actually signed.
pub fn message_digest(public: &Sm2PublicKey, id: &[u8], msg: &[u8]) -> Result<[u8; 32]> {
    Ok(digest_with_z(&z_value(public, id)?, msg))
}

fn digest_with_z(z: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut h = Sm3::new();
    h.update(z);
    h.update(msg);
    h.finalize().into()
}

pub(crate) fn digest_scalar(e: &[u8; 32]) -> Scalar {
    <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(*e))
}

impl Sm2PrivateKey {
    /// Sign `msg` under distinguishing ID `id` with a fresh random nonce.
    pub fn sign(&self, id: &[u8], msg: &[u8]) -> Result<Sm2Signature> {
        let e = if id == DEFAULT_ID {
            digest_with_z(self.z_default(), msg)
        } else {
            message_digest(self.public_key(), id, msg)?
        };
        self.sign_digest(&e)
    }

    /// Sign a digest `e` already computed by [`message_digest`].
    pub fn sign_digest(&self, e: &[u8; 32]) -> Result<Sm2Signature> {
        loop {
            let k = random_nonzero_scalar();
            if let Some(sig) = sign_digest_with_nonce(self, e, &k) {
                return Ok(sig);
            }
        }
    }
}

/// One signing attempt with nonce `k`; `None` when the standard says to pick another `k`.
///
/// s = (1 + d)⁻¹·(k − r·d) = (1 + d)⁻¹·(k + r) − r, which needs no inversion per signature.
pub(crate) fn sign_digest_with_nonce(
    key: &Sm2PrivateKey,
    e: &[u8; 32],
    k: &Scalar,
) -> Option<Sm2Signature> {
    let x = FieldBytes::from(super::curve::mul_base_x(k)?);
    let r = digest_scalar(e) + <Scalar as Reduce<FieldBytes>>::reduce(&x);
    if bool::from(r.is_zero() | (r + k).is_zero()) {
        return None;
    }
    let s = *key.d_plus_one_inv() * (*k + r) - r;
    Sm2Signature::from_scalars(r, s).ok()
}

/// Verify `sig` over `msg` under `id` and `public`.
pub fn verify(public: &Sm2PublicKey, id: &[u8], msg: &[u8], sig: &Sm2Signature) -> Result<()> {
    let e = message_digest(public, id, msg)?;
    verify_digest(public, &e, sig)
}

/// Verify `sig` over a digest `e` from [`message_digest`].
pub fn verify_digest(public: &Sm2PublicKey, e: &[u8; 32], sig: &Sm2Signature) -> Result<()> {
    let t = sig.r + sig.s;
    if bool::from(t.is_zero()) {
        return Err(Error::BadSignature);
    }
    // Everything here is public: variable time is fine. r = e + x mod n is checked as
    // x ≡ r − e against the projective X/Z², with no inversion.
    if super::curve::verify_x_vartime(&sig.s, &t, public.as_affine(), &(sig.r - digest_scalar(e))) {
        Ok(())
    } else {
        Err(Error::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test hex")
    }

    // GB/T 32918.5 annex example on the recommended curve, as listed in OpenSSL's
    // test/sm2_internal_test.c (default ID, message "message digest").
    const D: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    const K: &str = "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21";
    const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
    const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";

    #[test]
    fn annex_signature_with_fixed_nonce() {
        let key = Sm2PrivateKey::from_bytes(&h(D)).expect("key");
        let e = message_digest(key.public_key(), DEFAULT_ID, b"message digest").expect("e");
        let k = scalar_from_bytes(&h(K)).expect("k");
        let sig = sign_digest_with_nonce(&key, &e, &k).expect("sig");
        assert_eq!(sig.to_raw().to_vec(), [h(R), h(S)].concat());
        verify(key.public_key(), DEFAULT_ID, b"message digest", &sig).expect("verifies");
    }

    #[test]
    fn random_signatures_verify_and_differ() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let a = key.sign(DEFAULT_ID, b"bid").expect("sign");
        let b = key.sign(DEFAULT_ID, b"bid").expect("sign");
        assert_ne!(a, b, "nonces must be fresh");
        verify(key.public_key(), DEFAULT_ID, b"bid", &a).expect("verifies");
        assert_eq!(
            verify(key.public_key(), DEFAULT_ID, b"bid!", &a),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify(key.public_key(), b"other id", b"bid", &a),
            Err(Error::BadSignature)
        );
    }

    #[test]
    fn der_and_raw_round_trip_and_reject_junk() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let sig = key.sign(DEFAULT_ID, b"x").expect("sign");
        assert_eq!(Sm2Signature::from_der(&sig.to_der()), Ok(sig));
        assert_eq!(Sm2Signature::from_raw(&sig.to_raw()), Ok(sig));
        assert!(Sm2Signature::from_raw(&[0u8; 64]).is_err());
        assert!(Sm2Signature::from_raw(&[0xffu8; 64]).is_err());
        assert!(Sm2Signature::from_der(&[0x30, 0x02, 0x02, 0x00]).is_err());
        let mut der = sig.to_der();
        der.push(0);
        assert!(Sm2Signature::from_der(&der).is_err(), "trailing bytes");
    }
}

//! The two key shares and re-sharing of an existing key.
//!
//! Shares satisfy `(1 + d)⁻¹ = d1·d2`, so the joint public key is
//! `P = d·G = (d1·d2)⁻¹·G − G`, and `d` itself exists nowhere after re-sharing.

use super::wire::{POINT_LEN, SCALAR_LEN, invert, read_key, read_scalar, split, write_affine};
use crate::error::{Error, Result};
use crate::sm2::{Sm2PrivateKey, Sm2PublicKey, curve, random_nonzero_scalar};
use sm2::{AffinePoint, ProjectivePoint, Scalar};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The device's share `d1`.
///
/// Its storage form is the bare 32-byte scalar on purpose: every 32-byte value in `[1, n−1]`
/// is a plausible share, so a share unmasked with a wrong PIN looks like any other and can
/// only be tested by asking the server (see `docs/two-party-sm2.md`). For the same reason the
/// device must not keep `P1 = d1⁻¹·G` or `P2 = d2⁻¹·G` anywhere.
pub struct DeviceShare {
    d1: Scalar,
}

impl DeviceShare {
    pub(crate) fn from_scalar(d1: Scalar) -> Self {
        Self { d1 }
    }

    /// Parse the 32-byte big-endian storage form; zero and values ≥ n are refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(Self::from_scalar(read_scalar(bytes)?))
    }

    /// The 32-byte big-endian storage form, wiped when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; SCALAR_LEN]> {
        Zeroizing::new(super::wire::write_scalar(&self.d1))
    }

    pub(crate) fn d1(&self) -> &Scalar {
        &self.d1
    }

    /// `d1⁻¹`, the witness of the device's proofs; the caller wipes it.
    pub(crate) fn d1_inv(&self) -> Result<Scalar> {
        invert(&self.d1)
    }
}

impl Zeroize for DeviceShare {
    fn zeroize(&mut self) {
        self.d1.zeroize();
    }
}

impl Drop for DeviceShare {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for DeviceShare {}

impl core::fmt::Debug for DeviceShare {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DeviceShare(..)")
    }
}

/// Encoded length of a [`ServerShare`]: `d2 ‖ P1 ‖ P`.
pub const SERVER_SHARE_LEN: usize = SCALAR_LEN + 2 * POINT_LEN;

/// The co-signing service's share `d2`, with the device's verification point
/// `P1 = d1⁻¹·G` and the joint public key `P`.
///
/// `P1` is what lets the server check the device's proof on every request, i.e. check the
/// PIN online. Anyone holding `P1` and a stolen phone can test PINs offline, so `P1` is
/// stored and protected exactly like `d2`.
pub struct ServerShare {
    d2: Scalar,
    /// `d2⁻¹`, computed once here instead of on every co-decryption and key generation.
    d2_inv: Scalar,
    device_point: AffinePoint,
    public: Sm2PublicKey,
}

impl ServerShare {
    /// From `d2` and `P1`; computes `P = d2⁻¹·P1 − G` and refuses `P` = identity.
    pub(crate) fn from_parts(d2: Scalar, device_point: AffinePoint) -> Result<Self> {
        let d2_inv = invert(&d2)?;
        let joint = curve::mul_affine(&device_point, &d2_inv) - ProjectivePoint::GENERATOR;
        let public = Sm2PublicKey::from_point(&joint).map_err(|_| Error::InvalidKey)?;
        Ok(Self {
            d2,
            d2_inv,
            device_point,
            public,
        })
    }

    /// Parse `d2 ‖ P1 ‖ P` (162 bytes) and check that they belong together.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let [d2, p1, p] = split(bytes, [SCALAR_LEN, POINT_LEN, POINT_LEN], "server share")?;
        let (d2, p1, p) = (read_scalar(d2)?, *read_key(p1)?.as_affine(), read_key(p)?);
        let share = Self::from_parts(d2, p1)?;
        if share.public != p {
            return Err(Error::InvalidKey);
        }
        Ok(share)
    }

    /// `d2 ‖ P1 ‖ P`, wiped when dropped.
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::with_capacity(SERVER_SHARE_LEN));
        out.extend_from_slice(&super::wire::write_scalar(&self.d2));
        out.extend_from_slice(&write_affine(&self.device_point)?);
        out.extend_from_slice(&self.public.to_sec1());
        Ok(out)
    }

    /// The joint public key `P`, which goes into the certificate.
    pub fn public_key(&self) -> &Sm2PublicKey {
        &self.public
    }

    pub(crate) fn d2(&self) -> &Scalar {
        &self.d2
    }

    pub(crate) fn d2_inv(&self) -> &Scalar {
        &self.d2_inv
    }

    pub(crate) fn device_point(&self) -> &AffinePoint {
        &self.device_point
    }
}

impl Zeroize for ServerShare {
    fn zeroize(&mut self) {
        self.d2.zeroize();
        self.d2_inv.zeroize();
        // P1 is a PIN-verification value: wiped with volatile writes like d2.
        self.device_point.zeroize();
    }
}

impl Drop for ServerShare {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for ServerShare {}

impl core::fmt::Debug for ServerShare {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerShare")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Split an existing whole key `d` into a fresh random `d1` and `d2 = (1 + d)⁻¹·d1⁻¹`.
///
/// Run by the key management centre when it restores an escrowed encryption key: `d2` (as a
/// [`ServerShare`]) goes to the co-signing service, `d1` to the device inside a digital
/// envelope, and the KMC then forgets both shares. The joint public key is unchanged, so the
/// existing certificate stays valid.
pub fn make_shares_for_key(key: &Sm2PrivateKey) -> Result<(DeviceShare, ServerShare)> {
    let device = DeviceShare::from_scalar(random_nonzero_scalar());
    let mut d1_inv = device.d1_inv()?;
    let d2 = *key.d_plus_one_inv() * d1_inv;
    let device_point = curve::mul_base(&d1_inv).ok_or(Error::InvalidScalar);
    d1_inv.zeroize();
    let server = ServerShare::from_parts(d2, device_point?)?;
    // Guards against a broken key object rather than an attacker: the algebra makes it equal.
    if server.public_key() != key.public_key() {
        return Err(Error::InvalidKey);
    }
    Ok((device, server))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshare_keeps_the_public_key_and_shares_round_trip() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let (device, server) = make_shares_for_key(&key).expect("reshare");
        assert_eq!(server.public_key(), key.public_key());
        let product = *device.d1() * server.d2();
        assert_eq!(product, *key.d_plus_one_inv());

        let device2 = DeviceShare::from_bytes(device.to_bytes().as_slice()).expect("device");
        assert_eq!(device2.d1(), device.d1());
        let bytes = server.to_bytes().expect("encode");
        assert_eq!(bytes.len(), SERVER_SHARE_LEN);
        let server2 = ServerShare::from_bytes(&bytes).expect("server");
        assert_eq!(server2.public_key(), key.public_key());
    }

    #[test]
    fn inconsistent_or_invalid_server_shares_are_rejected() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let (_, server) = make_shares_for_key(&key).expect("reshare");
        let bytes = server.to_bytes().expect("encode");
        let mut wrong_d2 = bytes.to_vec();
        wrong_d2[31] ^= 1;
        assert_eq!(
            ServerShare::from_bytes(&wrong_d2).err(),
            Some(Error::InvalidKey)
        );
        let mut zero_d2 = bytes.to_vec();
        zero_d2[..32].fill(0);
        assert_eq!(
            ServerShare::from_bytes(&zero_d2).err(),
            Some(Error::InvalidScalar)
        );
        let mut off_curve = bytes.to_vec();
        off_curve[96] ^= 1;
        assert_eq!(
            ServerShare::from_bytes(&off_curve).err(),
            Some(Error::InvalidPoint)
        );
        assert!(ServerShare::from_bytes(&bytes[..100]).is_err());
        assert_eq!(
            DeviceShare::from_bytes(&[0u8; 32]).err(),
            Some(Error::InvalidScalar)
        );
        assert!(DeviceShare::from_bytes(&[0xffu8; 32]).is_err());
    }

    #[test]
    fn debug_shows_no_secret() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let (device, server) = make_shares_for_key(&key).expect("reshare");
        assert_eq!(format!("{device:?}"), "DeviceShare(..)");
        let hex_d2: String = super::super::wire::write_scalar(server.d2())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!format!("{server:?}").contains(&hex_d2[..8]));
    }
}

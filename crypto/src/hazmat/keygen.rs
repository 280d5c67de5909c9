//! Distributed key generation with proofs of knowledge.
//!
//! ```text
//! device                                         server
//! d1 ← [1, n−1], P1 = d1⁻¹·G
//! π1 = PoK{d1⁻¹ : P1} (tag …/keygen/device, ctx sid)
//!                 ── DeviceKeygenMsg (P1, π1) ──▶
//!                                                check P1, π1
//!                                                d2 ← [1, n−1], P2 = d2⁻¹·G
//!                                                P = d2⁻¹·P1 − G ≠ O
//!                                                π2 = PoK{d2⁻¹ : P2} (tag …/keygen/server,
//!                                                                      ctx sid ‖ P1)
//!                 ◀── ServerKeygenMsg (P2, π2, P) ──
//! check P2, π2, P = d1⁻¹·P2 − G
//! ```
//!
//! The proofs stop either side from choosing its point as a function of the other's (a
//! rogue-key attack, which would let it fix the joint key `P` without a share of it).
//! Binding `π2` to `P1` ties the server's answer to this device's message.

use super::proof::{PROOF_LEN, Proof, prove, verify};
use super::share::{DeviceShare, ServerShare};
use super::wire::{POINT_LEN, check_session_id, join, read_key, split};
use crate::error::{Error, Result};
use crate::sm2::{Sm2PublicKey, curve, random_nonzero_scalar};
use sm2::{AffinePoint, ProjectivePoint};
use zeroize::Zeroize;

const DEVICE_TAG: &[u8] = b"bidkey/2p-sm2/v1/keygen/device";
const SERVER_TAG: &[u8] = b"bidkey/2p-sm2/v1/keygen/server";

/// Encoded length of a [`DeviceKeygenMsg`]: `P1 ‖ π1`.
pub const DEVICE_KEYGEN_MSG_LEN: usize = POINT_LEN + PROOF_LEN;
/// Encoded length of a [`ServerKeygenMsg`]: `P2 ‖ π2 ‖ P`.
pub const SERVER_KEYGEN_MSG_LEN: usize = 2 * POINT_LEN + PROOF_LEN;

/// Device → server: `P1 = d1⁻¹·G` and a proof of knowledge of `d1⁻¹`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceKeygenMsg {
    p1: Sm2PublicKey,
    proof: Proof,
}

/// Server → device: `P2 = d2⁻¹·G`, a proof of knowledge of `d2⁻¹`, and the joint key `P`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerKeygenMsg {
    p2: Sm2PublicKey,
    proof: Proof,
    public: Sm2PublicKey,
}

/// The device's share between its two keygen steps; consumed by [`device_keygen_finish`].
#[derive(Debug)]
pub struct DeviceKeygenState {
    share: DeviceShare,
    p1: Sm2PublicKey,
}

impl DeviceKeygenMsg {
    pub fn to_bytes(&self) -> [u8; DEVICE_KEYGEN_MSG_LEN] {
        join(&[&self.p1.to_sec1(), &self.proof.to_bytes()])
    }

    /// Parse and check the point; the proof is checked by [`make_server_keygen`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let [p1, proof] = split(bytes, [POINT_LEN, PROOF_LEN], "keygen message")?;
        Ok(Self {
            p1: read_key(p1)?,
            proof: Proof::from_bytes(proof)?,
        })
    }
}

impl ServerKeygenMsg {
    pub fn to_bytes(&self) -> [u8; SERVER_KEYGEN_MSG_LEN] {
        join(&[
            &self.p2.to_sec1(),
            &self.proof.to_bytes(),
            &self.public.to_sec1(),
        ])
    }

    /// Parse and check the points; the proof is checked by [`device_keygen_finish`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let [p2, proof, public] =
            split(bytes, [POINT_LEN, PROOF_LEN, POINT_LEN], "keygen message")?;
        Ok(Self {
            p2: read_key(p2)?,
            proof: Proof::from_bytes(proof)?,
            public: read_key(public)?,
        })
    }

    /// The joint public key the server computed (checked by the device before use).
    pub fn public_key(&self) -> &Sm2PublicKey {
        &self.public
    }
}

/// Device, step 1: draw `d1` and prove knowledge of `d1⁻¹` for `P1`.
///
/// `session_id` is chosen by the server at random for this key generation (16 to 256 bytes).
pub fn make_device_keygen(session_id: &[u8]) -> Result<(DeviceKeygenState, DeviceKeygenMsg)> {
    check_session_id(session_id)?;
    let share = DeviceShare::from_scalar(random_nonzero_scalar());
    let mut x = share.d1_inv()?;
    let p1 = curve::mul_base(&x).ok_or(Error::InvalidScalar);
    let g = AffinePoint::GENERATOR;
    let proof = p1
        .clone()
        .and_then(|p1| prove(DEVICE_TAG, &x, &[(&g, &p1)], &[session_id]));
    x.zeroize();
    let p1 = Sm2PublicKey::from_affine(p1?)?;
    let msg = DeviceKeygenMsg { p1, proof: proof? };
    Ok((DeviceKeygenState { share, p1 }, msg))
}

/// Server: check the device's proof, draw `d2`, compute `P`, prove knowledge of `d2⁻¹`.
///
/// `BadProof` means the device's message is not from this session or not honest.
pub fn make_server_keygen(
    msg: &DeviceKeygenMsg,
    session_id: &[u8],
) -> Result<(ServerShare, ServerKeygenMsg)> {
    check_session_id(session_id)?;
    let g = AffinePoint::GENERATOR;
    let p1 = *msg.p1.as_affine();
    verify(DEVICE_TAG, &[(&g, &p1)], &[session_id], &msg.proof)?;
    let share = ServerShare::from_parts(random_nonzero_scalar(), p1)?;
    let mut x = *share.d2_inv();
    let p2 = curve::mul_base(&x).ok_or(Error::InvalidScalar);
    let p1_bytes = msg.p1.to_sec1();
    let proof = p2
        .clone()
        .and_then(|p2| prove(SERVER_TAG, &x, &[(&g, &p2)], &[session_id, &p1_bytes]));
    x.zeroize();
    let reply = ServerKeygenMsg {
        p2: Sm2PublicKey::from_affine(p2?)?,
        proof: proof?,
        public: *share.public_key(),
    };
    Ok((share, reply))
}

/// Device, step 2: check the server's proof and that `P = d1⁻¹·P2 − G`.
///
/// Returns the share to store (masked under the PIN by the caller) and the joint public key
/// for the certificate request. `P2` must be forgotten afterwards: with it and `P`, a wrong
/// PIN could be recognised offline.
pub fn device_keygen_finish(
    state: DeviceKeygenState,
    msg: &ServerKeygenMsg,
    session_id: &[u8],
) -> Result<(DeviceShare, Sm2PublicKey)> {
    check_session_id(session_id)?;
    let g = AffinePoint::GENERATOR;
    let p2 = *msg.p2.as_affine();
    let p1_bytes = state.p1.to_sec1();
    verify(
        SERVER_TAG,
        &[(&g, &p2)],
        &[session_id, &p1_bytes],
        &msg.proof,
    )?;
    let mut x = state.share.d1_inv()?;
    let joint = curve::mul_affine(&p2, &x) - ProjectivePoint::GENERATOR;
    x.zeroize();
    let public = Sm2PublicKey::from_point(&joint).map_err(|_| Error::InvalidKey)?;
    if public != msg.public {
        return Err(Error::InvalidKey);
    }
    Ok((state.share, public))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hazmat::wire::invert;
    use sm2::elliptic_curve::Group;

    const SID: &[u8] = b"keygen-session-0001";

    #[test]
    fn keygen_agrees_on_the_joint_key() {
        let (state, m1) = make_device_keygen(SID).expect("device");
        let m1 = DeviceKeygenMsg::from_bytes(&m1.to_bytes()).expect("parse");
        let (server, m2) = make_server_keygen(&m1, SID).expect("server");
        let m2 = ServerKeygenMsg::from_bytes(&m2.to_bytes()).expect("parse");
        let (device, public) = device_keygen_finish(state, &m2, SID).expect("finish");
        assert_eq!(&public, server.public_key());
        // (d1·d2)⁻¹·G − G is the joint key.
        let prod_inv = invert(&(*device.d1() * server.d2())).expect("invertible");
        let expected = ProjectivePoint::mul_by_generator(&prod_inv) - ProjectivePoint::GENERATOR;
        assert_eq!(public.to_projective(), expected);
    }

    #[test]
    fn proofs_are_bound_to_the_session_and_role() {
        let (state, m1) = make_device_keygen(SID).expect("device");
        assert_eq!(
            make_server_keygen(&m1, b"keygen-session-0002").err(),
            Some(Error::BadProof)
        );
        let (_, m2) = make_server_keygen(&m1, SID).expect("server");
        // A device proof reflected back as the server's is refused (different tag).
        let reflected = ServerKeygenMsg {
            p2: m1.p1,
            proof: m1.proof,
            public: m2.public,
        };
        let (state2, _) = make_device_keygen(SID).expect("device");
        assert_eq!(
            device_keygen_finish(state2, &reflected, SID).err(),
            Some(Error::BadProof)
        );
        assert_eq!(
            device_keygen_finish(state, &m2, b"keygen-session-0002").err(),
            Some(Error::BadProof)
        );
    }

    #[test]
    fn a_wrong_joint_key_is_refused() {
        let (state, m1) = make_device_keygen(SID).expect("device");
        let (_, mut m2) = make_server_keygen(&m1, SID).expect("server");
        m2.public = Sm2PublicKey::from_point(&ProjectivePoint::GENERATOR).expect("G");
        assert_eq!(
            device_keygen_finish(state, &m2, SID).err(),
            Some(Error::InvalidKey)
        );
    }

    #[test]
    fn short_session_ids_are_refused() {
        assert_eq!(
            make_device_keygen(b"short").err(),
            Some(Error::InvalidLength("session id"))
        );
    }
}

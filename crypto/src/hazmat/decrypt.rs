//! Two-party SM2 decryption with blinding.
//!
//! ```text
//! device (d1)                                     server (d2, P1)
//! check C1 (parsed ciphertext), β ← CSPRNG
//! B = β·C1, T1 = d1⁻¹·B
//! π = DLEQ{d1⁻¹ : P1 = d1⁻¹·G ∧ T1 = d1⁻¹·B} (tag …/decrypt, ctx sid)
//!                ── DecryptRequest (B, T1, π) ──▶
//!                                                 check B, T1, π (BadProof ⇒ PIN failure)
//!                                                 T2 = d2⁻¹·T1
//!                ◀── DecryptResponse (T2) ──
//! d·C1 = β⁻¹·T2 − C1, then KDF and the C3 check
//! ```
//!
//! `(d1·d2)⁻¹ = 1 + d`, so `β⁻¹·T2 = (1 + d)·C1` and `β⁻¹·T2 − C1 = d·C1`.
//!
//! Why the blinding factor `β`: without it the server returns `T2 = (1 + d)·C1`, so a server
//! that ever sees the ciphertext (it is stored on the trading platform) gets `d·C1 = T2 − C1`
//! and decrypts it alone. With `β` fresh per request the server sees a random pair
//! `(B, T1)` it cannot link to any ciphertext.
//!
//! Why the proof: a server answering any `T1` is an oracle for `d2⁻¹·X`; a phone thief would
//! send `X = G`, get `P2 = d2⁻¹·G`, and test PINs offline against `P = d1⁻¹·P2 − G`. The
//! Chaum–Pedersen proof shows `T1` was made with the `d1` whose `P1` the server stored.

use super::proof::{PROOF_LEN, Proof, prove_with_nonce, verify};
use super::share::{DeviceShare, ServerShare};
use super::wire::{POINT_LEN, check_session_id, invert, join, read_key, split};
use crate::error::{Error, Result};
use crate::sm2::{
    Sm2Ciphertext, Sm2PublicKey, curve, finish_decrypt_affine, random_nonzero_scalar,
};
use sm2::{AffinePoint, Scalar};
use zeroize::{Zeroize, Zeroizing};

const DECRYPT_TAG: &[u8] = b"bidkey/2p-sm2/v1/decrypt";

/// Encoded length of a [`DecryptRequest`]: `B ‖ T1 ‖ π`.
pub const DECRYPT_REQUEST_LEN: usize = 2 * POINT_LEN + PROOF_LEN;
/// Encoded length of a [`DecryptResponse`]: `T2`.
pub const DECRYPT_RESPONSE_LEN: usize = POINT_LEN;

/// Device → server: the blinded ephemeral point, `T1` and the proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptRequest {
    blinded: Sm2PublicKey,
    t1: Sm2PublicKey,
    proof: Proof,
}

/// Server → device: `T2 = d2⁻¹·T1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptResponse {
    t2: Sm2PublicKey,
}

/// The inverse of the blinding factor and `C1` between request and response; wiped on drop.
pub struct DeviceDecryptState {
    beta_inv: Scalar,
    c1: Sm2PublicKey,
}

impl Drop for DeviceDecryptState {
    fn drop(&mut self) {
        self.beta_inv.zeroize();
    }
}

impl core::fmt::Debug for DeviceDecryptState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DeviceDecryptState(..)")
    }
}

impl DecryptRequest {
    pub fn to_bytes(&self) -> [u8; DECRYPT_REQUEST_LEN] {
        join(&[
            &self.blinded.to_sec1(),
            &self.t1.to_sec1(),
            &self.proof.to_bytes(),
        ])
    }

    /// Parse and check both points; the proof is checked by [`server_decrypt`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let [b, t1, proof] = split(bytes, [POINT_LEN, POINT_LEN, PROOF_LEN], "decrypt request")?;
        Ok(Self {
            blinded: read_key(b)?,
            t1: read_key(t1)?,
            proof: Proof::from_bytes(proof)?,
        })
    }
}

impl DecryptResponse {
    pub fn to_bytes(&self) -> [u8; DECRYPT_RESPONSE_LEN] {
        join(&[&self.t2.to_sec1()])
    }

    /// Parse and check `T2`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            t2: read_key(bytes)?,
        })
    }
}

/// Device, step 1: blind `C1` of `ct` and apply `d1⁻¹`, with the proof.
pub fn device_decrypt_start(
    share: &DeviceShare,
    ct: &Sm2Ciphertext,
    session_id: &[u8],
) -> Result<(DeviceDecryptState, DecryptRequest)> {
    check_session_id(session_id)?;
    // C1 was checked on parsing (on the curve, not the identity; the SM2 cofactor is 1).
    let c1 = *ct.c1();
    let mut beta = random_nonzero_scalar();
    // d1⁻¹ and β⁻¹ from one inversion of d1·β.
    let mut both_inv = invert(&(*share.d1() * beta))?;
    let mut x = beta * both_inv;
    let state = DeviceDecryptState {
        beta_inv: *share.d1() * both_inv,
        c1,
    };
    both_inv.zeroize();
    // B = β·C1, T1 = d1⁻¹·B = (β·d1⁻¹)·C1 and the commitment a·B = (a·β)·C1 from one comb of
    // C1 (a third of the doublings each); P1 = d1⁻¹·G and a·G from the fixed-base table; all
    // five made affine with one inversion.
    let comb = curve::Comb::new(c1.as_affine()).ok_or(Error::InvalidPoint)?;
    let mut a = random_nonzero_scalar();
    let (mut beta_x, mut a_beta) = (beta * x, a * beta);
    let pending = [
        comb.mul(&beta),
        comb.mul(&beta_x),
        curve::mul_base_pending(&x),
        curve::mul_base_pending(&a),
        comb.mul(&a_beta),
    ];
    beta.zeroize();
    beta_x.zeroize();
    a_beta.zeroize();
    let points = curve::to_affine_batch([
        &pending[0],
        &pending[1],
        &pending[2],
        &pending[3],
        &pending[4],
    ]);
    drop(pending);
    let g = AffinePoint::GENERATOR;
    let proof = points
        .ok_or(Error::InvalidPoint)
        .and_then(|[blinded, t1, p1, a1, a2]| {
            let pairs = [(&g, &p1), (&blinded, &t1)];
            let proof = prove_with_nonce(DECRYPT_TAG, &x, &a, &pairs, &[a1, a2], &[session_id])?;
            Ok((blinded, t1, proof))
        });
    x.zeroize();
    a.zeroize();
    let (blinded, t1, proof) = proof?;
    let request = DecryptRequest {
        blinded: Sm2PublicKey::from_affine(blinded)?,
        t1: Sm2PublicKey::from_affine(t1)?,
        proof,
    };
    Ok((state, request))
}

/// Server: check the proof against the stored `P1`, answer `T2 = d2⁻¹·T1`.
///
/// `Err(BadProof)` is a wrong PIN (or a forged/replayed request): count it.
pub fn server_decrypt(
    share: &ServerShare,
    request: &DecryptRequest,
    session_id: &[u8],
) -> Result<DecryptResponse> {
    check_session_id(session_id)?;
    let g = AffinePoint::GENERATOR;
    let pairs = [
        (&g, share.device_point()),
        (request.blinded.as_affine(), request.t1.as_affine()),
    ];
    verify(DECRYPT_TAG, &pairs, &[session_id], &request.proof)?;
    // d2⁻¹ is kept in the share: no inversion per request.
    let t2 = curve::mul_point(request.t1.as_affine(), share.d2_inv()).ok_or(Error::InvalidPoint)?;
    Ok(DecryptResponse {
        t2: Sm2PublicKey::from_affine(t2)?,
    })
}

/// Server, for a caller that counts the attempt after judging it and decides in that count
/// whether the answer leaves (the co-signing service, ADR 0034): check the proof **and**
/// compute `T2` whatever the check says, so that neither the work nor the time it takes
/// tells a right PIN from a wrong one for an attempt whose verdict is then withheld.
/// `Ok(None)` is a wrong PIN (count it); `T2` of a request whose proof failed is dropped
/// here and never returned.
pub fn server_decrypt_judged(
    share: &ServerShare,
    request: &DecryptRequest,
    session_id: &[u8],
) -> Result<Option<DecryptResponse>> {
    check_session_id(session_id)?;
    let g = AffinePoint::GENERATOR;
    let pairs = [
        (&g, share.device_point()),
        (request.blinded.as_affine(), request.t1.as_affine()),
    ];
    let proof = verify(DECRYPT_TAG, &pairs, &[session_id], &request.proof);
    let t2 = curve::mul_point(request.t1.as_affine(), share.d2_inv()).ok_or(Error::InvalidPoint)?;
    let response = DecryptResponse {
        t2: Sm2PublicKey::from_affine(t2)?,
    };
    match proof {
        Ok(()) => Ok(Some(response)),
        Err(Error::BadProof) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Device, step 2: unblind, form `d·C1 = β⁻¹·T2 − C1` and finish SM2 decryption of `ct`.
///
/// `ct` must be the ciphertext given to [`device_decrypt_start`]; any mismatch, a wrong
/// `T2` or a tampered ciphertext gives `DecryptionFailed`.
pub fn device_decrypt_finish(
    state: DeviceDecryptState,
    ct: &Sm2Ciphertext,
    response: &DecryptResponse,
) -> Result<Zeroizing<Vec<u8>>> {
    if ct.c1() != &state.c1 {
        return Err(Error::DecryptionFailed);
    }
    let shared = curve::mul_sub(
        response.t2.as_affine(),
        &state.beta_inv,
        state.c1.as_affine(),
    );
    drop(state);
    finish_decrypt_affine(&shared.ok_or(Error::DecryptionFailed)?, ct)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hazmat::share::make_shares_for_key;
    use crate::sm2::{Sm2PrivateKey, decrypt, encrypt};

    const SID: &[u8] = b"decrypt-session-0001";

    #[test]
    fn co_decryption_equals_decryption() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let (device, server) = make_shares_for_key(&key).expect("shares");
        let ct = encrypt(key.public_key(), b"tender envelope key").expect("enc");
        let (state, req) = device_decrypt_start(&device, &ct, SID).expect("start");
        let req = DecryptRequest::from_bytes(&req.to_bytes()).expect("parse");
        let resp = server_decrypt(&server, &req, SID).expect("server");
        let resp = DecryptResponse::from_bytes(&resp.to_bytes()).expect("parse");
        let pt = device_decrypt_finish(state, &ct, &resp).expect("finish");
        assert_eq!(pt, decrypt(&key, &ct).expect("plain"));
    }

    #[test]
    fn the_judged_answer_is_the_answer_and_only_for_the_right_share() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let (device, server) = make_shares_for_key(&key).expect("shares");
        let (wrong, _) = make_shares_for_key(&key).expect("shares");
        let ct = encrypt(key.public_key(), b"tender envelope key").expect("enc");
        let (state, req) = device_decrypt_start(&device, &ct, SID).expect("start");
        let resp = server_decrypt_judged(&server, &req, SID)
            .expect("judged")
            .expect("right");
        let pt = device_decrypt_finish(state, &ct, &resp).expect("finish");
        assert_eq!(pt, decrypt(&key, &ct).expect("plain"));
        let (_, req) = device_decrypt_start(&wrong, &ct, SID).expect("start");
        assert_eq!(server_decrypt_judged(&server, &req, SID), Ok(None));
        assert_eq!(
            server_decrypt_judged(&server, &req, b"short"),
            Err(Error::InvalidLength("session id"))
        );
    }

    #[test]
    fn requests_are_blinded() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let (device, _) = make_shares_for_key(&key).expect("shares");
        let ct = encrypt(key.public_key(), b"x").expect("enc");
        let (_, a) = device_decrypt_start(&device, &ct, SID).expect("start");
        let (_, b) = device_decrypt_start(&device, &ct, SID).expect("start");
        assert_ne!(a.blinded, *ct.c1());
        assert_ne!(a.t1, b.t1);
    }

    #[test]
    fn proof_binds_share_session_and_points() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let (device, server) = make_shares_for_key(&key).expect("shares");
        let (wrong, _) = make_shares_for_key(&key).expect("shares");
        let ct = encrypt(key.public_key(), b"x").expect("enc");
        let (_, req) = device_decrypt_start(&wrong, &ct, SID).expect("start");
        assert_eq!(server_decrypt(&server, &req, SID), Err(Error::BadProof));
        let (_, req) = device_decrypt_start(&device, &ct, SID).expect("start");
        assert_eq!(
            server_decrypt(&server, &req, b"decrypt-session-0002"),
            Err(Error::BadProof)
        );
        // Swapping in an unblinded C1 (to make the server an oracle on it) breaks the proof.
        let mut swapped = req.clone();
        swapped.blinded = *ct.c1();
        assert_eq!(server_decrypt(&server, &swapped, SID), Err(Error::BadProof));
    }
}

//! Two-party SM2 signing.
//!
//! ```text
//! device (d1)                                     server (d2, P1, P)
//! e = SM3(Z ‖ M), k1 ← CSPRNG, Q1 = k1·G
//! π = PoK{d1⁻¹ : P1} (tag …/sign, ctx sid ‖ e ‖ Q1)
//!                  ── SignRequest (e, Q1, π) ──▶
//!                                                 check Q1; check π against stored P1
//!                                                 (BadProof ⇒ count a PIN failure)
//!                                                 k2, k3 ← CSPRNG
//!                                                 (x1, ·) = k3·Q1 + k2·G
//!                                                 r = e + x1 mod n (≠ 0, else redraw)
//!                                                 s2 = d2·k3, s3 = d2·(r + k2)
//!                  ◀── SignResponse (r, s2, s3) ──
//! s = d1·k1·s2 + d1·s3 − r  (≠ 0, ≠ n − r)
//! (r, s) must verify under P for the device's own e, else BadCoSignature, nothing sent
//!                  ── signature (r, s) ──▶        server_check_final(P, e, (r, s))
//! ```
//!
//! With `k = k1·k3 + k2`, `s = d1·d2·(k + r) − r = (1 + d)⁻¹·(k + r) − r`: an ordinary SM2
//! signature under `P`.
//!
//! The proof `π` is the online PIN check. The final signature can be checked by anyone
//! holding `P` (which is public), so a response `(r, s2, s3)` handed to a device with a wrong
//! share would let that device test every PIN offline. The server therefore answers only a
//! device that proves it holds the right `d1`.
//!
//! Why the device verifies before it lets `s` go: nothing in the algebra binds the
//! server's `r` to the device's `e`. A hostile server that answers with `r = e' + x1` for a
//! digest `e'` of its choosing gets from an unchecking device a valid signature on `e'`, a
//! chosen-message forgery per approved signing. [`device_sign_finish`] therefore checks
//! `(r, s)` under `P` against the `e` fixed at [`device_sign_start_digest`] and returns
//! [`Error::BadCoSignature`] (and no signature) otherwise.

use super::proof::{PROOF_LEN, Proof, prove_with_nonce, verify};
use super::share::{DeviceShare, ServerShare};
use super::wire::{
    POINT_LEN, SCALAR_LEN, check_session_id, join, read_key, read_scalar, split, write_scalar,
};
use crate::error::{Error, Result};
use crate::sm2::{
    Sm2PublicKey, Sm2Signature, curve, digest_scalar, message_digest, random_nonzero_scalar,
    verify_digest,
};
use sm2::elliptic_curve::ops::Reduce;
use sm2::{AffinePoint, FieldBytes, Scalar};
use subtle::Choice;
use zeroize::Zeroize;

const SIGN_TAG: &[u8] = b"bidkey/2p-sm2/v1/sign";

/// Encoded length of a [`SignRequest`]: `e ‖ Q1 ‖ π`.
pub const SIGN_REQUEST_LEN: usize = 32 + POINT_LEN + PROOF_LEN;
/// Encoded length of a [`SignResponse`]: `r ‖ s2 ‖ s3`.
pub const SIGN_RESPONSE_LEN: usize = 3 * SCALAR_LEN;

/// Device → server: the digest to sign, the device's nonce point and its PIN proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignRequest {
    e: [u8; 32],
    q1: Sm2PublicKey,
    proof: Proof,
}

/// Server → device: `r` and the server's two partial values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignResponse {
    r: Scalar,
    s2: Scalar,
    s3: Scalar,
}

/// The device's nonce `k1` between request and response.
///
/// Not `Clone`, consumed by [`device_sign_finish`] and wiped on drop: answering two
/// responses with one `k1` would hand the server two equations in `d1` and `k1`. It also
/// fixes the digest `e` and the joint key `P` the final signature must verify against.
pub struct DeviceSignState {
    k1: Scalar,
    e: [u8; 32],
    public: Sm2PublicKey,
}

impl Drop for DeviceSignState {
    fn drop(&mut self) {
        self.k1.zeroize();
    }
}

impl core::fmt::Debug for DeviceSignState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DeviceSignState(..)")
    }
}

impl SignRequest {
    pub fn to_bytes(&self) -> [u8; SIGN_REQUEST_LEN] {
        join(&[&self.e, &self.q1.to_sec1(), &self.proof.to_bytes()])
    }

    /// Parse and check `Q1`; the proof is checked by [`server_sign`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let [e, q1, proof] = split(bytes, [32, POINT_LEN, PROOF_LEN], "sign request")?;
        let mut digest = [0u8; 32];
        digest.copy_from_slice(e);
        Ok(Self {
            e: digest,
            q1: read_key(q1)?,
            proof: Proof::from_bytes(proof)?,
        })
    }

    /// The digest `e` to be signed; the server keeps it for [`server_check_final`].
    pub fn digest(&self) -> &[u8; 32] {
        &self.e
    }
}

impl SignResponse {
    pub fn to_bytes(&self) -> [u8; SIGN_RESPONSE_LEN] {
        join(&[
            &write_scalar(&self.r),
            &write_scalar(&self.s2),
            &write_scalar(&self.s3),
        ])
    }

    /// Parse; every scalar must be canonical and non-zero.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let [r, s2, s3] = split(bytes, [SCALAR_LEN; 3], "sign response")?;
        Ok(Self {
            r: read_scalar(r)?,
            s2: read_scalar(s2)?,
            s3: read_scalar(s3)?,
        })
    }
}

fn proof_context<'a>(session_id: &'a [u8], e: &'a [u8; 32], q1: &'a [u8]) -> [&'a [u8]; 3] {
    [session_id, e, q1]
}

/// Device, step 1: sign `msg` under `id` for the joint key `public`.
pub fn device_sign_start(
    share: &DeviceShare,
    public: &Sm2PublicKey,
    id: &[u8],
    msg: &[u8],
    session_id: &[u8],
) -> Result<(DeviceSignState, SignRequest)> {
    let e = message_digest(public, id, msg)?;
    device_sign_start_digest(share, public, &e, session_id)
}

/// Device, step 1, for a digest `e = SM3(Z ‖ M)` computed elsewhere under the joint key
/// `public`.
///
/// `k1` comes from the OS CSPRNG every time and never from `e`: a retry that reused it
/// would give the server enough equations to solve for `d1`.
pub fn device_sign_start_digest(
    share: &DeviceShare,
    public: &Sm2PublicKey,
    e: &[u8; 32],
    session_id: &[u8],
) -> Result<(DeviceSignState, SignRequest)> {
    check_session_id(session_id)?;
    let state = DeviceSignState {
        k1: random_nonzero_scalar(),
        e: *e,
        public: *public,
    };
    // Q1 = k1·G, P1 = d1⁻¹·G and the proof's commitment a·G: three fixed-base
    // multiplications made affine with one inversion.
    let mut x = share.d1_inv()?;
    let mut a = random_nonzero_scalar();
    let pending = [
        curve::mul_base_pending(&state.k1),
        curve::mul_base_pending(&x),
        curve::mul_base_pending(&a),
    ];
    let [q1, p1, commitment] = curve::to_affine_batch([&pending[0], &pending[1], &pending[2]])
        .ok_or(Error::InvalidScalar)?;
    drop(pending);
    let q1 = Sm2PublicKey::from_affine(q1)?;
    let q1_bytes = q1.to_sec1();
    let g = AffinePoint::GENERATOR;
    let ctx = proof_context(session_id, e, &q1_bytes);
    let proof = prove_with_nonce(SIGN_TAG, &x, &a, &[(&g, &p1)], &[commitment], &ctx);
    x.zeroize();
    a.zeroize();
    let request = SignRequest {
        e: *e,
        q1,
        proof: proof?,
    };
    Ok((state, request))
}

/// Server: check the device's PIN proof, then compute its half of the signature.
///
/// `Err(BadProof)` is a wrong PIN (or a forged/replayed request): count it against the
/// account and lock after the allowed number. `session_id` is the server's fresh random
/// id for this signing, accepted once.
pub fn server_sign(
    share: &ServerShare,
    request: &SignRequest,
    session_id: &[u8],
) -> Result<SignResponse> {
    check_session_id(session_id)?;
    let g = AffinePoint::GENERATOR;
    let q1_bytes = request.q1.to_sec1();
    let ctx = proof_context(session_id, &request.e, &q1_bytes);
    verify(
        SIGN_TAG,
        &[(&g, share.device_point())],
        &ctx,
        &request.proof,
    )?;
    let q1 = *request.q1.as_affine();
    loop {
        if let Some(response) = server_sign_attempt(share.d2(), &request.e, &q1) {
            return Ok(response);
        }
    }
}

/// Server, for a caller that counts the attempt after judging it and decides in that count
/// whether the answer leaves (the co-signing service, ADR 0034): check the proof **and**
/// compute the half signature whatever the check says, so that neither the work nor the
/// time it takes tells a right PIN from a wrong one for an attempt whose verdict is then
/// withheld. `Ok(None)` is a wrong PIN (count it); the answer to a request whose proof
/// failed is dropped here and never returned.
pub fn server_sign_judged(
    share: &ServerShare,
    request: &SignRequest,
    session_id: &[u8],
) -> Result<Option<SignResponse>> {
    check_session_id(session_id)?;
    let g = AffinePoint::GENERATOR;
    let q1_bytes = request.q1.to_sec1();
    let ctx = proof_context(session_id, &request.e, &q1_bytes);
    let proof = verify(
        SIGN_TAG,
        &[(&g, share.device_point())],
        &ctx,
        &request.proof,
    );
    let q1 = *request.q1.as_affine();
    let response = loop {
        if let Some(response) = server_sign_attempt(share.d2(), &request.e, &q1) {
            break response;
        }
    };
    match proof {
        Ok(()) => Ok(Some(response)),
        Err(Error::BadProof) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One attempt with fresh `k2`, `k3`; `None` when SM2 says to draw again.
fn server_sign_attempt(d2: &Scalar, e: &[u8; 32], q1: &AffinePoint) -> Option<SignResponse> {
    let mut k2 = random_nonzero_scalar();
    let mut k3 = random_nonzero_scalar();
    // x of k3·Q1 + k2·G in constant time; None is the identity.
    let point_x = curve::lincomb_x(q1, &k3, &k2);
    let x = point_x.map(FieldBytes::from).unwrap_or_default();
    let r = digest_scalar(e) + <Scalar as Reduce<FieldBytes>>::reduce(&x);
    let s2 = *d2 * k3;
    let s3 = *d2 * (r + k2);
    k2.zeroize();
    k3.zeroize();
    let retry = Choice::from(u8::from(point_x.is_none())) | r.is_zero() | s3.is_zero();
    (!bool::from(retry)).then_some(SignResponse { r, s2, s3 })
}

/// Device, step 2: combine the server's values into the signature `(r, s)` and verify it.
///
/// The signature is returned only if it verifies under `P` for the digest `e` this
/// signing started with; otherwise [`Error::BadCoSignature`]: the server (or something
/// between) answered for another digest or sent garbage, and `s` must not leave the
/// device. The device then returns the signature to the server, which checks it with
/// [`server_check_final`] before it is used anywhere.
pub fn device_sign_finish(
    state: DeviceSignState,
    share: &DeviceShare,
    response: &SignResponse,
) -> Result<Sm2Signature> {
    let (r, s2, s3) = (response.r, response.s2, response.s3);
    let s = *share.d1() * (state.k1 * s2 + s3) - r;
    let (e, public) = (state.e, state.public);
    drop(state);
    // s = 0 or s + r = 0 (i.e. k + r = 0) is excluded by GB/T 32918.2; sign again.
    if bool::from(s.is_zero() | (s + r).is_zero()) {
        return Err(Error::InvalidScalar);
    }
    let sig = Sm2Signature::from_scalars(r, s)?;
    verify_digest(&public, &e, &sig).map_err(|_| Error::BadCoSignature)?;
    Ok(sig)
}

/// Server, after the device returns the signature: it must verify under `P` and `e`.
///
/// A failure here is not a PIN failure (those stop at [`server_sign`]) but a faulty or
/// hostile device; count it the same way and do not release the signature.
pub fn server_check_final(public: &Sm2PublicKey, e: &[u8; 32], sig: &Sm2Signature) -> Result<()> {
    verify_digest(public, e, sig)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::hazmat::share::make_shares_for_key;
    use crate::sm2::{DEFAULT_ID, Sm2PrivateKey, verify};

    /// A hostile co-signing server: it checks the device's proof as usual, then answers
    /// with `r = e' + x1` for a digest `e'` of its own choosing.
    pub(crate) fn hostile_server_sign(
        share: &ServerShare,
        request: &SignRequest,
        other_e: &[u8; 32],
    ) -> SignResponse {
        let q1 = *request.q1.as_affine();
        loop {
            if let Some(response) = server_sign_attempt(share.d2(), other_e, &q1) {
                return response;
            }
        }
    }

    const SID: &[u8] = b"sign-session-0001";

    fn shares() -> (DeviceShare, ServerShare) {
        let key = Sm2PrivateKey::make_random().expect("key");
        make_shares_for_key(&key).expect("shares")
    }

    #[test]
    fn the_judged_half_signature_is_the_answer_and_only_for_the_right_share() {
        let (device, server) = shares();
        let (wrong, _) = shares();
        let public = *server.public_key();
        let (state, req) =
            device_sign_start(&device, &public, DEFAULT_ID, b"bid", SID).expect("start");
        let resp = server_sign_judged(&server, &req, SID)
            .expect("judged")
            .expect("right");
        let sig = device_sign_finish(state, &device, &resp).expect("finish");
        verify(&public, DEFAULT_ID, b"bid", &sig).expect("verifies");
        let (_, req) = device_sign_start(&wrong, &public, DEFAULT_ID, b"bid", SID).expect("start");
        assert_eq!(server_sign_judged(&server, &req, SID), Ok(None));
    }

    #[test]
    fn co_signature_verifies() {
        let (device, server) = shares();
        let public = *server.public_key();
        let (state, req) =
            device_sign_start(&device, &public, DEFAULT_ID, b"bid", SID).expect("start");
        let req = SignRequest::from_bytes(&req.to_bytes()).expect("parse");
        let resp = server_sign(&server, &req, SID).expect("server");
        let resp = SignResponse::from_bytes(&resp.to_bytes()).expect("parse");
        let sig = device_sign_finish(state, &device, &resp).expect("finish");
        server_check_final(&public, req.digest(), &sig).expect("final");
        verify(&public, DEFAULT_ID, b"bid", &sig).expect("verifies");
    }

    #[test]
    fn device_refuses_an_answer_for_another_digest() {
        let (device, server) = shares();
        let public = *server.public_key();
        let e = message_digest(&public, DEFAULT_ID, b"bid for tender A").expect("e");
        let other_e = message_digest(&public, DEFAULT_ID, b"withdraw every bid").expect("e'");
        let (state, req) = device_sign_start_digest(&device, &public, &e, SID).expect("start");
        let k1 = state.k1;
        let resp = hostile_server_sign(&server, &req, &other_e);
        // The attack is real: the unchecked combination is a valid signature on e'.
        let s = *device.d1() * (k1 * resp.s2 + resp.s3) - resp.r;
        let forged = Sm2Signature::from_scalars(resp.r, s).expect("scalars");
        verify_digest(&public, &other_e, &forged).expect("an unchecking device would forge");
        // The device checks against its own e and lets nothing go.
        assert_eq!(
            device_sign_finish(state, &device, &resp),
            Err(Error::BadCoSignature)
        );
    }

    #[test]
    fn device_refuses_a_tampered_r() {
        let (device, server) = shares();
        let public = *server.public_key();
        let (state, req) =
            device_sign_start(&device, &public, DEFAULT_ID, b"bid", SID).expect("start");
        let mut resp = server_sign(&server, &req, SID).expect("server");
        resp.r += Scalar::ONE;
        assert_eq!(
            device_sign_finish(state, &device, &resp),
            Err(Error::BadCoSignature)
        );
    }

    #[test]
    fn wrong_device_share_is_stopped_by_the_proof() {
        let (_, server) = shares();
        let (wrong, _) = shares();
        let public = *server.public_key();
        let (_, req) = device_sign_start(&wrong, &public, DEFAULT_ID, b"bid", SID).expect("start");
        assert_eq!(server_sign(&server, &req, SID), Err(Error::BadProof));
    }

    #[test]
    fn request_fields_are_bound_by_the_proof() {
        let (device, server) = shares();
        let public = *server.public_key();
        let (_, req) = device_sign_start(&device, &public, DEFAULT_ID, b"bid", SID).expect("start");
        assert_eq!(
            server_sign(&server, &req, b"sign-session-0002"),
            Err(Error::BadProof)
        );
        let mut other_e = req.clone();
        other_e.e[0] ^= 1;
        assert_eq!(server_sign(&server, &other_e, SID), Err(Error::BadProof));
        let mut other_q1 = req.clone();
        other_q1.q1 = public;
        assert_eq!(server_sign(&server, &other_q1, SID), Err(Error::BadProof));
    }
}

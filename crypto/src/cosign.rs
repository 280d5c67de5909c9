//! Two-party SM2 (协同签名), the safe API: what the phone core and the server call.
//!
//! Each device operation is a session object that owns its one-shot state (the nonce `k1`,
//! the blinding factor, the digest being signed, the ciphertext being opened, the key
//! generation's session id). It is created together with the request, is not `Clone`, and
//! is consumed by value by `finish`, so a nonce can answer one response only. `finish` does
//! the checks the device owes itself before it lets anything go:
//!
//! - [`DeviceSigner::finish`] returns a signature only if it verifies under the joint key
//!   for the digest this signer started with ([`Error::BadCoSignature`] otherwise): a
//!   server answering for another digest gets nothing it can use.
//! - [`DeviceDecryptor::finish`] opens only the ciphertext it started with and checks C3.
//! - [`DeviceKeygen::finish`] checks the server's proof and the joint key.
//!
//! The server side ([`ServerCosigner`], [`server_keygen`]) draws its nonces inside each call
//! and never exposes them. Protocol and pitfalls: `docs/two-party-sm2.md`. The raw steps are
//! in `hazmat`, for this crate and its tests.
//!
//! [`Error::BadCoSignature`]: crate::Error::BadCoSignature

use crate::error::Result;
use crate::hazmat::{self, DeviceDecryptState, DeviceKeygenState, DeviceSignState};
use crate::sm2::{Sm2Ciphertext, Sm2PublicKey, Sm2Signature, message_digest, verify_digest};
use zeroize::Zeroizing;

pub use crate::hazmat::{
    DECRYPT_REQUEST_LEN, DECRYPT_RESPONSE_LEN, DEVICE_KEYGEN_MSG_LEN, DecryptRequest,
    DecryptResponse, DeviceKeygenMsg, DeviceShare, MAX_SESSION_ID_LEN, MIN_SESSION_ID_LEN,
    SERVER_KEYGEN_MSG_LEN, SERVER_SHARE_LEN, SIGN_REQUEST_LEN, SIGN_RESPONSE_LEN, ServerKeygenMsg,
    ServerShare, SignRequest, SignResponse, make_shares_for_key,
};

/// The device side of one co-signature with the share it borrows.
///
/// ```text
/// let (signer, request) = DeviceSigner::start(&share, &public, &e, &session_id)?;
/// // send request, receive response
/// let signature = signer.finish(&response)?; // verified under `public` for `e`
/// ```
#[derive(Debug)]
pub struct DeviceSigner<'a> {
    share: &'a DeviceShare,
    state: DeviceSignState,
}

impl<'a> DeviceSigner<'a> {
    /// Start signing the digest `e = SM3(Z ‖ M)` (computed under `public`) in the server's
    /// session `session_id`; a fresh `k1` from the OS CSPRNG.
    pub fn start(
        share: &'a DeviceShare,
        public: &Sm2PublicKey,
        e: &[u8; 32],
        session_id: &[u8],
    ) -> Result<(Self, SignRequest)> {
        let (state, request) = hazmat::device_sign_start_digest(share, public, e, session_id)?;
        Ok((Self { share, state }, request))
    }

    /// Start signing `msg` under the distinguishing `id`.
    pub fn start_message(
        share: &'a DeviceShare,
        public: &Sm2PublicKey,
        id: &[u8],
        msg: &[u8],
        session_id: &[u8],
    ) -> Result<(Self, SignRequest)> {
        let e = message_digest(public, id, msg)?;
        Self::start(share, public, &e, session_id)
    }

    /// Combine the server's answer; the signature is returned only if it verifies for this
    /// signer's digest under the joint key (`BadCoSignature` otherwise). Consumes the
    /// signer: its `k1` is wiped and can answer nothing else.
    pub fn finish(self, response: &SignResponse) -> Result<Sm2Signature> {
        hazmat::device_sign_finish(self.state, self.share, response)
    }
}

/// The device side of one co-decryption of `ct`.
#[derive(Debug)]
pub struct DeviceDecryptor<'a> {
    ct: &'a Sm2Ciphertext,
    state: DeviceDecryptState,
}

impl<'a> DeviceDecryptor<'a> {
    /// Blind `C1` of `ct` with a fresh factor and prove the PIN, in the server's session.
    pub fn start(
        share: &DeviceShare,
        ct: &'a Sm2Ciphertext,
        session_id: &[u8],
    ) -> Result<(Self, DecryptRequest)> {
        let (state, request) = hazmat::device_decrypt_start(share, ct, session_id)?;
        Ok((Self { ct, state }, request))
    }

    /// Unblind and finish decrypting the ciphertext this decryptor started with; a wrong
    /// answer fails the C3 check (`DecryptionFailed`).
    pub fn finish(self, response: &DecryptResponse) -> Result<Zeroizing<Vec<u8>>> {
        hazmat::device_decrypt_finish(self.state, self.ct, response)
    }
}

/// The device side of one two-party key generation, in the server's session.
#[derive(Debug)]
pub struct DeviceKeygen {
    state: DeviceKeygenState,
    session_id: Vec<u8>,
}

impl DeviceKeygen {
    /// Draw `d1` and prove knowledge of `d1⁻¹` for the server's session `session_id`.
    pub fn start(session_id: &[u8]) -> Result<(Self, DeviceKeygenMsg)> {
        let (state, msg) = hazmat::make_device_keygen(session_id)?;
        Ok((
            Self {
                state,
                session_id: session_id.to_vec(),
            },
            msg,
        ))
    }

    /// Check the server's proof and the joint key; returns the share (mask it under the
    /// PIN) and the joint public key. Nothing else from the exchange may be kept.
    pub fn finish(self, msg: &ServerKeygenMsg) -> Result<(DeviceShare, Sm2PublicKey)> {
        hazmat::device_keygen_finish(self.state, msg, &self.session_id)
    }
}

/// Server: check the device's key generation message and answer with a new share.
pub fn server_keygen(
    msg: &DeviceKeygenMsg,
    session_id: &[u8],
) -> Result<(ServerShare, ServerKeygenMsg)> {
    hazmat::make_server_keygen(msg, session_id)
}

/// The server side of co-signing and co-decryption with one stored share.
///
/// Its nonces are drawn inside each call and never leave it. `BadProof` from
/// [`ServerCosigner::sign`] or [`ServerCosigner::decrypt`] is a wrong PIN: count it.
#[derive(Debug)]
pub struct ServerCosigner<'a> {
    share: &'a ServerShare,
}

impl<'a> ServerCosigner<'a> {
    pub fn new(share: &'a ServerShare) -> Self {
        Self { share }
    }

    /// Check the device's PIN proof, then answer its half of the signature. Keep
    /// `request.digest()` for [`check_final_signature`].
    pub fn sign(&self, request: &SignRequest, session_id: &[u8]) -> Result<SignResponse> {
        hazmat::server_sign(self.share, request, session_id)
    }

    /// Check the device's PIN proof, then answer `T2` for its blinded point.
    pub fn decrypt(&self, request: &DecryptRequest, session_id: &[u8]) -> Result<DecryptResponse> {
        hazmat::server_decrypt(self.share, request, session_id)
    }

    /// [`ServerCosigner::sign`] for a server that counts the attempt after judging it, in
    /// the one transaction that decides whether the answer leaves (ADR 0034): the answer is
    /// computed whether or not the proof verifies, so the time taken tells nothing about
    /// the PIN of an attempt whose verdict is withheld. `Ok(None)` is a wrong PIN.
    pub fn judge_sign(
        &self,
        request: &SignRequest,
        session_id: &[u8],
    ) -> Result<Option<SignResponse>> {
        hazmat::server_sign_judged(self.share, request, session_id)
    }

    /// [`ServerCosigner::decrypt`] judged the same way as [`ServerCosigner::judge_sign`]:
    /// `T2` is computed whether or not the proof verifies; `Ok(None)` is a wrong PIN.
    pub fn judge_decrypt(
        &self,
        request: &DecryptRequest,
        session_id: &[u8],
    ) -> Result<Option<DecryptResponse>> {
        hazmat::server_decrypt_judged(self.share, request, session_id)
    }
}

/// Server, when the device returns the signature: release it only if it verifies for the
/// digest of the request under the joint key (stored with the key, no share needed).
pub fn check_final_signature(
    public: &Sm2PublicKey,
    e: &[u8; 32],
    signature: &Sm2Signature,
) -> Result<()> {
    verify_digest(public, e, signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::sm2::{DEFAULT_ID, Sm2PrivateKey, encrypt, verify};

    const SID: &[u8] = b"safe-api-session-01";

    fn generated() -> (DeviceShare, ServerShare, Sm2PublicKey) {
        let (keygen, msg) = DeviceKeygen::start(SID).expect("start");
        let msg = DeviceKeygenMsg::from_bytes(&msg.to_bytes()).expect("parse");
        let (server, reply) = server_keygen(&msg, SID).expect("server");
        let reply = ServerKeygenMsg::from_bytes(&reply.to_bytes()).expect("parse");
        let (device, public) = keygen.finish(&reply).expect("finish");
        assert_eq!(&public, server.public_key());
        (device, server, public)
    }

    #[test]
    fn keygen_sign_and_decrypt_through_the_safe_api() {
        let (device, server, public) = generated();
        let (signer, req) =
            DeviceSigner::start_message(&device, &public, DEFAULT_ID, b"bid", SID).expect("s");
        let req = SignRequest::from_bytes(&req.to_bytes()).expect("parse");
        let resp = ServerCosigner::new(&server)
            .sign(&req, SID)
            .expect("server");
        let sig = signer.finish(&resp).expect("finish");
        check_final_signature(&public, req.digest(), &sig).expect("final");
        verify(&public, DEFAULT_ID, b"bid", &sig).expect("verifies");

        let ct = encrypt(&public, b"file key").expect("encrypt");
        let (dec, req) = DeviceDecryptor::start(&device, &ct, SID).expect("start");
        let resp = ServerCosigner::new(&server)
            .decrypt(&req, SID)
            .expect("server");
        assert_eq!(dec.finish(&resp).expect("open").as_slice(), b"file key");
    }

    #[test]
    fn a_hostile_server_gets_no_signature_on_its_digest() {
        let key = Sm2PrivateKey::make_random().expect("key");
        let (device, server) = make_shares_for_key(&key).expect("shares");
        let public = *server.public_key();
        let e = message_digest(&public, DEFAULT_ID, b"bid for tender A").expect("e");
        let other_e = message_digest(&public, DEFAULT_ID, b"withdraw every bid").expect("e'");
        let (signer, req) = DeviceSigner::start(&device, &public, &e, SID).expect("start");
        let resp = hazmat::hostile_server_sign(&server, &req, &other_e);
        assert_eq!(signer.finish(&resp), Err(Error::BadCoSignature));
    }

    #[test]
    fn a_keygen_answer_for_another_device_is_refused() {
        let (keygen, _) = DeviceKeygen::start(SID).expect("start");
        let (_, other) = DeviceKeygen::start(SID).expect("start");
        let (_, reply) = server_keygen(&other, SID).expect("server");
        assert!(keygen.finish(&reply).is_err());
    }
}

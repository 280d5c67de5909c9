//! Two-party SM2 (协同签名): the device holds `d1`, the co-signing service holds `d2`, with
//! `(1 + d)⁻¹ = d1·d2`; the whole key `d` is never formed.
//!
//! **Not for use outside this crate and its tests**: the phone core and the server call the
//! safe API in [`crate::cosign`], whose session objects own the one-shot state and make the
//! checks. This module is public (and hidden from the docs) only so that the crate's
//! integration tests, the bench and the demo can drive single steps.
//!
//! Hazardous because each function is one protocol step: the caller carries the messages,
//! picks a fresh random session id per run (server side, accepted once), counts
//! `Error::BadProof` from [`server_sign`] and [`server_decrypt`] as PIN failures, and never
//! persists `P1`/`P2` on the device. The protocol, encodings and pitfalls are written up in
//! `docs/two-party-sm2.md`.
//!
//! Every message has a fixed-length byte encoding; every received point is checked to be
//! on the curve and not the identity, every scalar to be canonical and non-zero.

mod decrypt;
mod keygen;
mod proof;
mod share;
mod sign;
mod wire;

pub use decrypt::{
    DECRYPT_REQUEST_LEN, DECRYPT_RESPONSE_LEN, DecryptRequest, DecryptResponse, DeviceDecryptState,
    device_decrypt_finish, device_decrypt_start, server_decrypt, server_decrypt_judged,
};
pub use keygen::{
    DEVICE_KEYGEN_MSG_LEN, DeviceKeygenMsg, DeviceKeygenState, SERVER_KEYGEN_MSG_LEN,
    ServerKeygenMsg, device_keygen_finish, make_device_keygen, make_server_keygen,
};
pub use proof::{PROOF_LEN, Proof};
pub use share::{DeviceShare, SERVER_SHARE_LEN, ServerShare, make_shares_for_key};
pub use sign::{
    DeviceSignState, SIGN_REQUEST_LEN, SIGN_RESPONSE_LEN, SignRequest, SignResponse,
    device_sign_finish, device_sign_start, device_sign_start_digest, server_check_final,
    server_sign, server_sign_judged,
};
pub use wire::{MAX_SESSION_ID_LEN, MIN_SESSION_ID_LEN, POINT_LEN, SCALAR_LEN};

#[cfg(test)]
pub(crate) use sign::tests::hostile_server_sign;

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

#[cfg(test)]
mod speed {
    use super::*;
    use crate::sm2::{DEFAULT_ID, Sm2PrivateKey, encrypt};

    /// On-CPU time of each two-party step, each timed over a block of runs, for A/B runs
    /// of the point code: `cargo test --release -p bidkey-crypto --lib hazmat::speed --
    /// --ignored --nocapture` (`crypto-bench` is the reference; this says which step moved).
    #[test]
    #[ignore = "a measurement, not a test"]
    fn steps() {
        use crate::measure::cpu_ns;
        const SID: &[u8] = b"speed-session-0123456789";
        const N: usize = 500;
        let key = Sm2PrivateKey::make_random().expect("key");
        let (device, server) = make_shares_for_key(&key).expect("shares");
        let public = *server.public_key();
        let ct = encrypt(&public, b"0123456789abcdef0123456789abcdef").expect("enc");
        let report = |name: &str, t0: f64| {
            let us = (cpu_ns() - t0) / N as f64 / 1000.0;
            println!("{name:<26} {us:8.1} us");
            us
        };
        let t = cpu_ns();
        let starts: Vec<_> = (0..N)
            .map(|_| device_sign_start(&device, &public, DEFAULT_ID, b"msg", SID).expect("start"))
            .collect();
        let mut sign = report("sign: device start", t);
        let t = cpu_ns();
        let resps: Vec<_> = starts
            .iter()
            .map(|(_, req)| server_sign(&server, req, SID).expect("server"))
            .collect();
        sign += report("sign: server", t);
        let t = cpu_ns();
        let mut sigs = Vec::with_capacity(N);
        for ((state, req), resp) in starts.into_iter().zip(&resps) {
            sigs.push((
                req,
                device_sign_finish(state, &device, resp).expect("finish"),
            ));
        }
        sign += report("sign: device finish", t);
        let t = cpu_ns();
        for (req, sig) in &sigs {
            server_check_final(&public, req.digest(), sig).expect("final");
        }
        sign += report("sign: server final check", t);
        let t = cpu_ns();
        let starts: Vec<_> = (0..N)
            .map(|_| device_decrypt_start(&device, &ct, SID).expect("start"))
            .collect();
        let mut dec = report("decrypt: device start", t);
        let t = cpu_ns();
        let resps: Vec<_> = starts
            .iter()
            .map(|(_, req)| server_decrypt(&server, req, SID).expect("server"))
            .collect();
        dec += report("decrypt: server", t);
        let t = cpu_ns();
        for ((state, _), resp) in starts.into_iter().zip(&resps) {
            device_decrypt_finish(state, &ct, resp).expect("finish");
        }
        dec += report("decrypt: device finish", t);
        println!("co-sign {sign:.1} us, co-decrypt {dec:.1} us");
    }
}

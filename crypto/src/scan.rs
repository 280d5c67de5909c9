//! The cryptography of scan requests (`bidkey_protocol::scan`, `docs/scan-protocol.md`):
//! the rotating QR code, the code shown on both screens, the platform's request signature,
//! and replies sealed to the platform's ephemeral key.

use crate::aead::{self, AeadAlgorithm, NONCE_LEN};
use crate::error::{Error, Result};
use crate::kdf::{hkdf_sha256, hkdf_sm3};
use crate::p256::{P256PrivateKey, P256PublicKey};
use crate::sm2::{DEFAULT_ID, Sm2PrivateKey, Sm2PublicKey, Sm2Signature};
use crate::x509::{SignatureAlgorithm, SubjectKey};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The QR code for second `t` of a request: `hex(HMAC-SHA256(secret, decimal t))`, the
/// construction of Swedish BankID's animated QR.
pub fn rotating_code(secret: &[u8], t: u64) -> String {
    hex::encode(rotating_mac(secret, t))
}

fn rotating_mac(secret: &[u8], t: u64) -> [u8; 32] {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    mac.update(t.to_string().as_bytes());
    mac.finalize().into_bytes().into()
}

/// Whether `code` (hex) is the code of second `t`, compared in constant time.
pub fn check_rotating_code(secret: &[u8], t: u64, code: &str) -> bool {
    let Ok(given) = hex::decode(code) else {
        return false;
    };
    given.len() == 32 && bool::from(given.ct_eq(&rotating_mac(secret, t)))
}

/// The reply MAC (ADR 0016): HMAC-SM3 under the QR code's reply key over
/// `"bidkey scan reply v1\0" ‖ request_id ‖ 0x00 ‖ reply_json` (the reply's JSON without
/// its `auth` field).
pub fn reply_mac(key: &[u8; 32], request_id: &str, reply_json: &[u8]) -> [u8; 32] {
    let mut input = b"bidkey scan reply v1\0".to_vec();
    input.extend_from_slice(request_id.as_bytes());
    input.push(0);
    input.extend_from_slice(reply_json);
    crate::sm3::hmac_sm3(key, &input)
}

/// The reply key of a session (ADR 0016, *session replies*): HKDF-SM3 of
/// the QR code's `k` that opened the session, salted with the session id the phone chose.
/// Only the phone that scanned that QR code and the platform that drew it know `k`, so
/// only they can MAC a reply to a request inside the session; the relay, which carries the
/// session id, cannot.
pub fn session_reply_key(qr_key: &[u8; 32], session_id: &str) -> Result<Zeroizing<[u8; 32]>> {
    let okm = hkdf_sm3(
        qr_key,
        session_id.as_bytes(),
        b"bidkey scan session reply v1",
        32,
    )?;
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&okm);
    Ok(key)
}

/// Whether `mac` is the reply MAC under `key`, in constant time.
pub fn check_reply_mac(key: &[u8; 32], request_id: &str, reply_json: &[u8], mac: &[u8]) -> bool {
    bool::from(reply_mac(key, request_id, reply_json).as_slice().ct_eq(mac))
}

/// The four digits both the platform page and the phone show, so the user can see that the
/// QR code on their screen is the one their phone is answering (the Smart-ID check):
/// the last two bytes of SHA-256(nonce), modulo 10 000.
pub fn verification_code(nonce: &[u8]) -> String {
    let h = Sha256::digest(nonce);
    let n = u16::from_be_bytes([h[30], h[31]]) % 10_000;
    format!("{n:04}")
}

/// The platform's signing key for requests.
#[derive(Debug)]
pub enum PlatformKey {
    Sm2(Sm2PrivateKey),
    P256(P256PrivateKey),
}

impl PlatformKey {
    /// DER signature over `message` (SM2 with the default ID, or ECDSA P-256/SHA-256).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match self {
            PlatformKey::Sm2(k) => Ok(k.sign(DEFAULT_ID, message)?.to_der()),
            PlatformKey::P256(k) => Ok(k.sign_der(message)),
        }
    }
}

/// Check a platform's request signature with the key of its certificate. SM2 signatures
/// must use the default ID (no OpenSSL empty-ID fallback here: requests are ours).
pub fn verify_platform_signature(key: &SubjectKey, message: &[u8], sig_der: &[u8]) -> Result<()> {
    match key {
        SubjectKey::Sm2(k) => {
            let sig = Sm2Signature::from_der(sig_der).map_err(|_| Error::BadSignature)?;
            if sig.to_der() != sig_der {
                return Err(Error::BadSignature);
            }
            crate::sm2::verify(k, DEFAULT_ID, message, &sig)
        }
        SubjectKey::P256(_) => key.verify(SignatureAlgorithm::EcdsaP256Sha256, message, sig_der),
    }
}

/// Which key agreement and AEAD seal a reply (mirrors `bidkey_protocol::scan::ReplyAlg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyAlg {
    Sm2Sm4Gcm,
    P256Aes256Gcm,
}

impl ReplyAlg {
    fn aead(self) -> AeadAlgorithm {
        match self {
            ReplyAlg::Sm2Sm4Gcm => AeadAlgorithm::Sm4Gcm,
            ReplyAlg::P256Aes256Gcm => AeadAlgorithm::Aes256Gcm,
        }
    }
}

/// The platform's ephemeral private key for one request's reply.
#[derive(Debug)]
pub enum ReplySecret {
    Sm2(Sm2PrivateKey),
    P256(P256PrivateKey),
}

/// A sealed reply: the phone's ephemeral public key, the nonce and `ciphertext ‖ tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ephemeral: Vec<u8>,
    pub nonce: [u8; NONCE_LEN],
    pub ciphertext: Vec<u8>,
}

const REPLY_INFO: &[u8] = b"bidkey scan reply v1";

impl ReplySecret {
    pub fn make(alg: ReplyAlg) -> Result<ReplySecret> {
        Ok(match alg {
            ReplyAlg::Sm2Sm4Gcm => ReplySecret::Sm2(Sm2PrivateKey::make_random()?),
            ReplyAlg::P256Aes256Gcm => ReplySecret::P256(P256PrivateKey::make_random()?),
        })
    }

    pub fn alg(&self) -> ReplyAlg {
        match self {
            ReplySecret::Sm2(_) => ReplyAlg::Sm2Sm4Gcm,
            ReplySecret::P256(_) => ReplyAlg::P256Aes256Gcm,
        }
    }

    /// SEC1 uncompressed public key, for the request's `reply_key`.
    pub fn public_key(&self) -> Vec<u8> {
        match self {
            ReplySecret::Sm2(k) => k.public_key().to_sec1(),
            ReplySecret::P256(k) => k.public_key().to_sec1(),
        }
    }

    /// Open a reply sealed to this key; `aad` must be what the phone bound (the request id).
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let alg = self.alg();
        let shared = match self {
            ReplySecret::Sm2(k) => sm2_shared(k, &Sm2PublicKey::from_sec1(&sealed.ephemeral)?)?,
            ReplySecret::P256(k) => k.ecdh(&P256PublicKey::from_sec1(&sealed.ephemeral)?),
        };
        let key = reply_key(alg, &shared[..], &sealed.ephemeral, &self.public_key())?;
        aead::open_with_nonce(alg.aead(), &key, &sealed.nonce, aad, &sealed.ciphertext)
    }
}

/// Seal `plaintext` to the platform's reply key `recipient` (SEC1) with a fresh ephemeral
/// key of the same curve.
pub fn seal_reply(alg: ReplyAlg, recipient: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Sealed> {
    let (ephemeral, shared) = match alg {
        ReplyAlg::Sm2Sm4Gcm => {
            let peer = Sm2PublicKey::from_sec1(recipient)?;
            let e = Sm2PrivateKey::make_random()?;
            (e.public_key().to_sec1(), sm2_shared(&e, &peer)?)
        }
        ReplyAlg::P256Aes256Gcm => {
            let peer = P256PublicKey::from_sec1(recipient)?;
            let e = P256PrivateKey::make_random()?;
            (e.public_key().to_sec1(), e.ecdh(&peer))
        }
    };
    let key = reply_key(alg, &shared[..], &ephemeral, recipient)?;
    let nonce = crate::rng::bytes::<NONCE_LEN>()?;
    let ciphertext = aead::seal_with_nonce(alg.aead(), &key, &nonce, aad, plaintext)?;
    Ok(Sealed {
        ephemeral,
        nonce,
        ciphertext,
    })
}

/// ECDH on the SM2 curve: the x-coordinate of d·P.
fn sm2_shared(key: &Sm2PrivateKey, peer: &Sm2PublicKey) -> Result<Zeroizing<[u8; 32]>> {
    use sm2::elliptic_curve::point::AffineCoordinates;
    let point = (peer.to_projective() * key.scalar()).to_affine();
    let x: [u8; 32] = point.x().into();
    if bool::from(x.ct_eq(&[0u8; 32])) {
        return Err(Error::InvalidPoint);
    }
    Ok(Zeroizing::new(x))
}

/// HKDF over the shared secret, salted with both public keys so the key is bound to them.
fn reply_key(
    alg: ReplyAlg,
    shared: &[u8],
    ephemeral: &[u8],
    recipient: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let salt = [ephemeral, recipient].concat();
    let len = alg.aead().key_len();
    match alg {
        ReplyAlg::Sm2Sm4Gcm => hkdf_sm3(shared, &salt, REPLY_INFO, len),
        ReplyAlg::P256Aes256Gcm => hkdf_sha256(shared, &salt, REPLY_INFO, len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_reply_keys_differ_by_qr_key_and_session() {
        let a = session_reply_key(&[1; 32], "s1").expect("key");
        assert_eq!(*a, *session_reply_key(&[1; 32], "s1").expect("key"));
        assert_ne!(*a, *session_reply_key(&[1; 32], "s2").expect("key"));
        assert_ne!(*a, *session_reply_key(&[2; 32], "s1").expect("key"));
        assert_ne!(*a, [1; 32], "not the QR key itself");
    }

    // SECURITY-NOTES: BankID's published example.
    #[test]
    fn rotating_code_matches_bankid_example() {
        let secret = b"d28db9a7-4cde-429e-a983-359be676944c";
        let code = rotating_code(secret, 0);
        assert_eq!(
            code,
            "dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8"
        );
        assert!(check_rotating_code(secret, 0, &code));
        assert!(!check_rotating_code(secret, 1, &code));
        assert!(!check_rotating_code(b"other", 0, &code));
        assert!(!check_rotating_code(secret, 0, "zz"));
    }

    #[test]
    fn verification_code_is_four_digits() {
        let c = verification_code(&[1; 32]);
        assert_eq!(c.len(), 4);
        assert!(c.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(c, verification_code(&[2; 32]));
    }

    fn round_trip(alg: ReplyAlg) {
        let secret = ReplySecret::make(alg).expect("key");
        let sealed = seal_reply(alg, &secret.public_key(), b"rq1", b"hello").expect("seal");
        assert_eq!(&secret.open(&sealed, b"rq1").expect("open")[..], b"hello");
        assert!(secret.open(&sealed, b"rq2").is_err(), "aad is bound");
        let mut bad = sealed.clone();
        bad.ciphertext[0] ^= 1;
        assert!(secret.open(&bad, b"rq1").is_err());
        let other = ReplySecret::make(alg).expect("key");
        assert!(other.open(&sealed, b"rq1").is_err());
    }

    #[test]
    fn replies_round_trip_on_both_curves() {
        round_trip(ReplyAlg::Sm2Sm4Gcm);
        round_trip(ReplyAlg::P256Aes256Gcm);
    }

    #[test]
    fn sm2_ecdh_agrees() {
        let a = Sm2PrivateKey::make_random().expect("a");
        let b = Sm2PrivateKey::make_random().expect("b");
        let ab = sm2_shared(&a, b.public_key()).expect("ab");
        let ba = sm2_shared(&b, a.public_key()).expect("ba");
        assert_eq!(*ab, *ba);
    }

    #[test]
    fn platform_signatures_verify_with_the_certificate_key() {
        let sk = Sm2PrivateKey::make_random().expect("key");
        let key = SubjectKey::Sm2(*sk.public_key());
        let pk = PlatformKey::Sm2(sk);
        let sig = pk.sign(b"body").expect("sign");
        verify_platform_signature(&key, b"body", &sig).expect("verifies");
        assert!(verify_platform_signature(&key, b"bodY", &sig).is_err());

        let p = P256PrivateKey::make_random().expect("p256");
        let pkey = SubjectKey::from_spki_der(&p.public_key().to_spki_der().expect("spki"))
            .expect("subject key");
        let sig = PlatformKey::P256(p).sign(b"body").expect("sign");
        verify_platform_signature(&pkey, b"body", &sig).expect("verifies");
        assert!(verify_platform_signature(&key, b"body", &sig).is_err());
    }
}

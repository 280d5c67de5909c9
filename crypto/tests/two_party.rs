//! End-to-end tests of the two-party SM2 protocol (`bidkey_crypto::hazmat`), including
//! interoperability of its signatures and decryption with OpenSSL 3.

use bidkey_crypto::Error;
use bidkey_crypto::hazmat::{
    self, DecryptRequest, DecryptResponse, DeviceKeygenMsg, DeviceShare, ServerKeygenMsg,
    ServerShare, SignRequest, SignResponse,
};
use bidkey_crypto::sm2::{
    self as bsm2, DEFAULT_ID, Sm2Ciphertext, Sm2PrivateKey, Sm2PublicKey, Sm2Signature,
};
use sm2::elliptic_curve::PrimeField;
use std::path::Path;
use std::process::Command;

const SID: &[u8] = b"session-0123456789abcdef";
const OTHER_SID: &[u8] = b"session-fedcba9876543210";
/// n, the order of the SM2 group: the smallest out-of-range scalar.
const ORDER: &str = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123";

fn keygen() -> (DeviceShare, ServerShare, Sm2PublicKey) {
    let (state, m1) = hazmat::make_device_keygen(SID).expect("device keygen");
    let m1 = DeviceKeygenMsg::from_bytes(&m1.to_bytes()).expect("m1 parses");
    let (server, m2) = hazmat::make_server_keygen(&m1, SID).expect("server keygen");
    let m2 = ServerKeygenMsg::from_bytes(&m2.to_bytes()).expect("m2 parses");
    let (device, public) = hazmat::device_keygen_finish(state, &m2, SID).expect("finish");
    assert_eq!(&public, server.public_key());
    (device, server, public)
}

/// Run the whole signing flow through the byte encodings, as the apps will.
fn co_sign(
    device: &DeviceShare,
    server: &ServerShare,
    id: &[u8],
    msg: &[u8],
) -> Result<Sm2Signature, Error> {
    let public = *server.public_key();
    let (state, req) = hazmat::device_sign_start(device, &public, id, msg, SID)?;
    let req = SignRequest::from_bytes(&req.to_bytes())?;
    let resp = hazmat::server_sign(server, &req, SID)?;
    let resp = SignResponse::from_bytes(&resp.to_bytes())?;
    let sig = hazmat::device_sign_finish(state, device, &resp)?;
    hazmat::server_check_final(&public, req.digest(), &sig)?;
    Ok(sig)
}

fn co_decrypt(
    device: &DeviceShare,
    server: &ServerShare,
    ct: &Sm2Ciphertext,
) -> Result<Vec<u8>, Error> {
    let (state, req) = hazmat::device_decrypt_start(device, ct, SID)?;
    let req = DecryptRequest::from_bytes(&req.to_bytes())?;
    let resp = hazmat::server_decrypt(server, &req, SID)?;
    let resp = DecryptResponse::from_bytes(&resp.to_bytes())?;
    Ok(hazmat::device_decrypt_finish(state, ct, &resp)?.to_vec())
}

/// The whole key d = (d1·d2)⁻¹ − 1, formed here only to check the protocol against plain SM2.
fn whole_key(device: &DeviceShare, server: &ServerShare) -> Sm2PrivateKey {
    let scalar = |b: &[u8]| {
        let repr = sm2::FieldBytes::try_from(b).expect("32 bytes");
        Option::<sm2::Scalar>::from(sm2::Scalar::from_repr(repr)).expect("canonical")
    };
    let d1 = scalar(device.to_bytes().as_slice());
    let d2 = scalar(&server.to_bytes().expect("encode")[..32]);
    let inv = Option::<sm2::Scalar>::from((d1 * d2).invert()).expect("invertible");
    Sm2PrivateKey::from_scalar(inv - sm2::Scalar::ONE).expect("valid key")
}

#[test]
fn keygen_then_co_sign_verifies_with_default_and_custom_id() {
    let (device, server, public) = keygen();
    let sig = co_sign(&device, &server, DEFAULT_ID, b"tender 2026-001").expect("co-sign");
    bsm2::verify(&public, DEFAULT_ID, b"tender 2026-001", &sig).expect("default id");
    let custom = b"91110000MA01ABCDEF";
    let sig = co_sign(&device, &server, custom, b"tender 2026-001").expect("co-sign");
    bsm2::verify(&public, custom, b"tender 2026-001", &sig).expect("custom id");
    assert_eq!(
        bsm2::verify(&public, DEFAULT_ID, b"tender 2026-001", &sig),
        Err(Error::BadSignature)
    );
    // The keygen shares describe the same key as plain SM2 would.
    assert_eq!(whole_key(&device, &server).public_key(), &public);
}

#[test]
fn shares_survive_storage() {
    let (device, server, public) = keygen();
    let device = DeviceShare::from_bytes(device.to_bytes().as_slice()).expect("device");
    let server = ServerShare::from_bytes(&server.to_bytes().expect("encode")).expect("server");
    let sig = co_sign(&device, &server, DEFAULT_ID, b"m").expect("co-sign");
    bsm2::verify(&public, DEFAULT_ID, b"m", &sig).expect("verifies");
}

#[test]
fn wrong_device_share_is_refused_online_and_fails_final_check() {
    let (device, server, public) = keygen();
    let wrong = DeviceShare::from_bytes(&[0x42; 32]).expect("plausible share");
    // A wrong PIN yields a wrong d1: the server refuses before giving out anything.
    assert_eq!(
        co_sign(&wrong, &server, DEFAULT_ID, b"m").err(),
        Some(Error::BadProof)
    );
    // Were a response obtained anyway, a wrong d1 combines it into a signature that fails
    // the device's own check, so the device sends nothing.
    let (state, req) =
        hazmat::device_sign_start(&device, &public, DEFAULT_ID, b"m", SID).expect("start");
    let resp = hazmat::server_sign(&server, &req, SID).expect("server");
    assert_eq!(
        hazmat::device_sign_finish(state, &wrong, &resp).err(),
        Some(Error::BadCoSignature)
    );
    // And the server's final check refuses a signature for another digest.
    let sig = co_sign(&device, &server, DEFAULT_ID, b"other").expect("signed");
    assert_eq!(
        hazmat::server_check_final(&public, req.digest(), &sig),
        Err(Error::BadSignature)
    );
}

#[test]
fn nonces_are_fresh() {
    let (device, server, _) = keygen();
    let a = co_sign(&device, &server, DEFAULT_ID, b"same").expect("a");
    let b = co_sign(&device, &server, DEFAULT_ID, b"same").expect("b");
    assert_ne!(a.r(), b.r());
    let public = *server.public_key();
    let (_, q_a) =
        hazmat::device_sign_start(&device, &public, DEFAULT_ID, b"same", SID).expect("start");
    let (_, q_b) =
        hazmat::device_sign_start(&device, &public, DEFAULT_ID, b"same", SID).expect("start");
    assert_ne!(q_a.to_bytes()[32..97], q_b.to_bytes()[32..97], "Q1 repeats");
}

#[test]
fn co_decryption_equals_plain_decryption() {
    let (device, server, public) = keygen();
    let full = whole_key(&device, &server);
    let ct = bsm2::encrypt(&public, b"bid file key 0123456789").expect("encrypt");
    let plain = bsm2::decrypt(&full, &ct).expect("plain decrypt");
    assert_eq!(
        co_decrypt(&device, &server, &ct).expect("co-decrypt"),
        *plain
    );
}

#[test]
fn co_decryption_failures() {
    let (device, server, public) = keygen();
    let ct = bsm2::encrypt(&public, b"secret").expect("encrypt");
    let wrong = DeviceShare::from_bytes(&[0x42; 32]).expect("plausible share");
    assert_eq!(co_decrypt(&wrong, &server, &ct), Err(Error::BadProof));

    // A response meant for another request (other blinding) does not decrypt.
    let (state, _) = hazmat::device_decrypt_start(&device, &ct, SID).expect("start");
    let (_, other_req) = hazmat::device_decrypt_start(&device, &ct, SID).expect("start");
    let other_resp = hazmat::server_decrypt(&server, &other_req, SID).expect("server");
    assert_eq!(
        hazmat::device_decrypt_finish(state, &ct, &other_resp).err(),
        Some(Error::DecryptionFailed)
    );

    // A tampered ciphertext fails the C3 check.
    let mut raw = ct.to_raw();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let tampered = Sm2Ciphertext::from_raw(&raw).expect("parses");
    assert_eq!(
        co_decrypt(&device, &server, &tampered),
        Err(Error::DecryptionFailed)
    );

    // Finishing with another ciphertext than the one started with is refused.
    let ct2 = bsm2::encrypt(&public, b"other").expect("encrypt");
    let (state, req) = hazmat::device_decrypt_start(&device, &ct, SID).expect("start");
    let resp = hazmat::server_decrypt(&server, &req, SID).expect("server");
    assert_eq!(
        hazmat::device_decrypt_finish(state, &ct2, &resp).err(),
        Some(Error::DecryptionFailed)
    );
}

#[test]
fn reshared_key_signs_and_decrypts_under_the_original_public_key() {
    let key = Sm2PrivateKey::make_random().expect("key");
    let (device, server) = hazmat::make_shares_for_key(&key).expect("reshare");
    assert_eq!(server.public_key(), key.public_key());
    let sig = co_sign(&device, &server, DEFAULT_ID, b"restored").expect("co-sign");
    bsm2::verify(key.public_key(), DEFAULT_ID, b"restored", &sig).expect("verifies");
    let ct = bsm2::encrypt(key.public_key(), b"escrowed envelope").expect("encrypt");
    assert_eq!(
        co_decrypt(&device, &server, &ct).expect("co-decrypt"),
        b"escrowed envelope"
    );
    // Two re-sharings of one key are unrelated pairs that both work.
    let (device2, _) = hazmat::make_shares_for_key(&key).expect("reshare");
    assert_ne!(device.to_bytes(), device2.to_bytes());
}

#[test]
fn bad_proofs_are_rejected() {
    // Keygen: wrong statement, wrong context, tampered proof.
    let (_, m1) = hazmat::make_device_keygen(SID).expect("device");
    let (_, other) = hazmat::make_device_keygen(SID).expect("device");
    let mut wrong_statement = m1.to_bytes();
    wrong_statement[..65].copy_from_slice(&other.to_bytes()[..65]);
    let wrong_statement = DeviceKeygenMsg::from_bytes(&wrong_statement).expect("parses");
    assert_eq!(
        hazmat::make_server_keygen(&wrong_statement, SID).err(),
        Some(Error::BadProof)
    );
    assert_eq!(
        hazmat::make_server_keygen(&m1, OTHER_SID).err(),
        Some(Error::BadProof)
    );
    let mut tampered = m1.to_bytes();
    tampered[128] ^= 1;
    let tampered = DeviceKeygenMsg::from_bytes(&tampered).expect("parses");
    assert_eq!(
        hazmat::make_server_keygen(&tampered, SID).err(),
        Some(Error::BadProof)
    );

    // Server keygen answer checked by the device.
    let (state, m1) = hazmat::make_device_keygen(SID).expect("device");
    let (_, m2) = hazmat::make_server_keygen(&m1, SID).expect("server");
    let mut tampered = m2.to_bytes();
    tampered[128] ^= 1;
    let tampered = ServerKeygenMsg::from_bytes(&tampered).expect("parses");
    assert_eq!(
        hazmat::device_keygen_finish(state, &tampered, SID).err(),
        Some(Error::BadProof)
    );

    // Signing and decryption requests: another session, a tampered proof.
    let (device, server, public) = keygen();
    let (_, req) = hazmat::device_sign_start(&device, &public, DEFAULT_ID, b"m", SID).expect("s");
    assert_eq!(
        hazmat::server_sign(&server, &req, OTHER_SID),
        Err(Error::BadProof)
    );
    let mut bytes = req.to_bytes();
    bytes[160] ^= 1;
    let req = SignRequest::from_bytes(&bytes).expect("parses");
    assert_eq!(
        hazmat::server_sign(&server, &req, SID),
        Err(Error::BadProof)
    );

    let ct = bsm2::encrypt(&public, b"x").expect("encrypt");
    let (_, req) = hazmat::device_decrypt_start(&device, &ct, SID).expect("d");
    assert_eq!(
        hazmat::server_decrypt(&server, &req, OTHER_SID),
        Err(Error::BadProof)
    );
    let mut bytes = req.to_bytes();
    bytes[193] ^= 1;
    let req = DecryptRequest::from_bytes(&bytes).expect("parses");
    assert_eq!(
        hazmat::server_decrypt(&server, &req, SID),
        Err(Error::BadProof)
    );
}

/// Replace `bytes[at..at + 65]` with each kind of invalid point and check `parse` refuses it.
fn assert_points_rejected<T: std::fmt::Debug>(
    bytes: &[u8],
    at: usize,
    parse: impl Fn(&[u8]) -> Result<T, Error>,
) {
    let good = &bytes[at..at + 65];
    let mut off_curve = good.to_vec();
    off_curve[64] ^= 1;
    let mut compressed = good.to_vec();
    compressed[0] = 2;
    let identity = vec![0u8; 65];
    let mut x_too_big = vec![0xffu8; 65];
    x_too_big[0] = 4;
    for bad in [off_curve, compressed, identity, x_too_big] {
        let mut msg = bytes.to_vec();
        msg[at..at + 65].copy_from_slice(&bad);
        assert_eq!(
            parse(&msg).err(),
            Some(Error::InvalidPoint),
            "point at {at}"
        );
    }
}

/// Replace `bytes[at..at + 32]` with zero, n and 2²⁵⁶ − 1 and check `parse` refuses it.
fn assert_scalars_rejected<T: std::fmt::Debug>(
    bytes: &[u8],
    at: usize,
    parse: impl Fn(&[u8]) -> Result<T, Error>,
) {
    let order = hex::decode(ORDER).expect("hex");
    for bad in [vec![0u8; 32], order, vec![0xffu8; 32]] {
        let mut msg = bytes.to_vec();
        msg[at..at + 32].copy_from_slice(&bad);
        assert_eq!(
            parse(&msg).err(),
            Some(Error::InvalidScalar),
            "scalar at {at}"
        );
    }
}

fn assert_lengths_rejected<T: std::fmt::Debug>(
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<T, Error>,
) {
    assert!(parse(&bytes[..bytes.len() - 1]).is_err());
    assert!(parse(&[bytes, &[0u8][..]].concat()).is_err());
    assert!(parse(&[]).is_err());
}

#[test]
fn every_message_rejects_bad_points_scalars_and_lengths() {
    let (state, m1) = hazmat::make_device_keygen(SID).expect("device");
    let (_, m2) = hazmat::make_server_keygen(&m1, SID).expect("server");
    drop(state);
    let m1 = m1.to_bytes();
    assert_points_rejected(&m1, 0, DeviceKeygenMsg::from_bytes);
    assert_scalars_rejected(&m1, 65, DeviceKeygenMsg::from_bytes);
    assert_scalars_rejected(&m1, 97, DeviceKeygenMsg::from_bytes);
    assert_lengths_rejected(&m1, DeviceKeygenMsg::from_bytes);

    let m2 = m2.to_bytes();
    assert_points_rejected(&m2, 0, ServerKeygenMsg::from_bytes);
    assert_scalars_rejected(&m2, 65, ServerKeygenMsg::from_bytes);
    assert_scalars_rejected(&m2, 97, ServerKeygenMsg::from_bytes);
    assert_points_rejected(&m2, 129, ServerKeygenMsg::from_bytes);
    assert_lengths_rejected(&m2, ServerKeygenMsg::from_bytes);

    let (device, server, public) = keygen();
    let (_, req) = hazmat::device_sign_start(&device, &public, DEFAULT_ID, b"m", SID).expect("s");
    let resp = hazmat::server_sign(&server, &req, SID).expect("server");
    let req = req.to_bytes();
    assert_points_rejected(&req, 32, SignRequest::from_bytes);
    assert_scalars_rejected(&req, 97, SignRequest::from_bytes);
    assert_scalars_rejected(&req, 129, SignRequest::from_bytes);
    assert_lengths_rejected(&req, SignRequest::from_bytes);
    let resp = resp.to_bytes();
    for at in [0, 32, 64] {
        assert_scalars_rejected(&resp, at, SignResponse::from_bytes);
    }
    assert_lengths_rejected(&resp, SignResponse::from_bytes);

    let ct = bsm2::encrypt(&public, b"x").expect("encrypt");
    let (_, req) = hazmat::device_decrypt_start(&device, &ct, SID).expect("d");
    let resp = hazmat::server_decrypt(&server, &req, SID).expect("server");
    let req = req.to_bytes();
    assert_points_rejected(&req, 0, DecryptRequest::from_bytes);
    assert_points_rejected(&req, 65, DecryptRequest::from_bytes);
    assert_scalars_rejected(&req, 130, DecryptRequest::from_bytes);
    assert_scalars_rejected(&req, 162, DecryptRequest::from_bytes);
    assert_lengths_rejected(&req, DecryptRequest::from_bytes);
    let resp = resp.to_bytes();
    assert_points_rejected(&resp, 0, DecryptResponse::from_bytes);
    assert_lengths_rejected(&resp, DecryptResponse::from_bytes);

    let share = server.to_bytes().expect("encode");
    assert_scalars_rejected(&share, 0, ServerShare::from_bytes);
    assert_points_rejected(&share, 32, ServerShare::from_bytes);
    assert_points_rejected(&share, 97, ServerShare::from_bytes);
    assert_lengths_rejected(&share, ServerShare::from_bytes);
    assert_scalars_rejected(device.to_bytes().as_slice(), 0, DeviceShare::from_bytes);
}

// ---- OpenSSL 3 interoperability -------------------------------------------------------

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs")
}

fn write_public_pem(dir: &Path, public: &Sm2PublicKey) {
    let der = public.to_spki_der().expect("spki");
    let pem = der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, &der).expect("pem");
    std::fs::write(dir.join("pub.pem"), pem).expect("write pem");
}

#[test]
fn openssl_verifies_co_signatures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (device, server, public) = keygen();
    write_public_pem(dir.path(), &public);
    let msg = b"Bidkey two-party signature over a tender document";
    std::fs::write(dir.path().join("msg"), msg).expect("write msg");

    let custom = "91110000MA01ABCDEF";
    for (id, distid) in [
        (DEFAULT_ID, "1234567812345678"),
        (custom.as_bytes(), custom),
    ] {
        let sig = co_sign(&device, &server, id, msg).expect("co-sign");
        std::fs::write(dir.path().join("sig.der"), sig.to_der()).expect("write sig");
        let distid_opt = format!("distid:{distid}");
        let out = openssl(
            dir.path(),
            &[
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                "pub.pem",
                "-rawin",
                "-in",
                "msg",
                "-sigfile",
                "sig.der",
                "-digest",
                "sm3",
                "-pkeyopt",
                &distid_opt,
            ],
        );
        assert!(
            out.status.success(),
            "openssl rejected the co-signature (id {distid}): {}",
            String::from_utf8_lossy(&out.stdout)
        );
        // A different ID must not verify, or the test would prove nothing.
        let out = openssl(
            dir.path(),
            &[
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                "pub.pem",
                "-rawin",
                "-in",
                "msg",
                "-sigfile",
                "sig.der",
                "-digest",
                "sm3",
                "-pkeyopt",
                "distid:someone-else",
            ],
        );
        assert!(!out.status.success(), "verified under the wrong ID");
    }
}

#[test]
fn openssl_ciphertext_co_decrypts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (device, server, public) = keygen();
    write_public_pem(dir.path(), &public);
    let msg = b"envelope key: 00112233445566778899aabbccddeeff";
    std::fs::write(dir.path().join("pt"), msg).expect("write pt");
    let out = openssl(
        dir.path(),
        &[
            "pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "pt", "-out", "ct.der",
        ],
    );
    assert!(
        out.status.success(),
        "openssl encrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let der = std::fs::read(dir.path().join("ct.der")).expect("read ct");
    let ct = Sm2Ciphertext::from_der(&der).expect("GM/T 0009 ciphertext");
    assert_eq!(co_decrypt(&device, &server, &ct).expect("co-decrypt"), msg);
}

//! A short demonstration of the Bidkey crypto foundation, step by step with timings:
//! a CA chain, a two-party signing key whose private key never exists whole, a co-signed
//! CSR and dual certificates, a co-signed bid digest verified like any SM2 signature, a
//! bid-file key unwrapped by co-decryption, a wrong PIN caught by the server, and a CRL.
//!
//! Run: `cargo run --release -p bidkey-crypto --example demo`

use bidkey_crypto::cosign::{self, DeviceShare, ServerShare};
use bidkey_crypto::pin::{PinKdfParams, PinMask};
use bidkey_crypto::sm2::{self, DEFAULT_ID, Sm2PrivateKey};
use bidkey_crypto::x509::{
    Cert, CertProfile, CertTemplate, Crl, CrlReason, CrlTemplate, CsrDraft, RequiredUsage,
    RevokedEntry, ca_subject, enterprise_subject, verify_chain,
};
use bidkey_crypto::{aead, envelope, rng, sm3};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn step<T>(n: u32, what: &str, f: impl FnOnce() -> Res<T>) -> Res<T> {
    println!("[{n:>2}] {what}");
    let t = Instant::now();
    let out = f()?;
    println!("     done in {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
    Ok(out)
}

fn sid() -> Res<[u8; 16]> {
    Ok(rng::bytes::<16>()?)
}

fn main() -> Res<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let year = 365 * 24 * 3600;
    println!("Bidkey crypto foundation: SM2/SM3/SM4, two-party SM2, X.509\n");

    let (root_key, root) = step(1, "CA: SM2 root certificate (self-signed)", || {
        let key = Sm2PrivateKey::make_random()?;
        let cert = Cert::self_signed_root(
            ca_subject("Bidkey Root CA", "Bidkey")?,
            &key,
            now,
            now + 20 * year,
        )?;
        Ok((key, cert))
    })?;
    let (ica_key, ica) = step(2, "CA: issuing CA certificate (pathLen 0)", || {
        let key = Sm2PrivateKey::make_random()?;
        let t = CertTemplate {
            profile: CertProfile::IssuingCa,
            subject: ca_subject("Bidkey Issuing CA", "Bidkey")?,
            public_key_spki: key.public_key().to_spki_der()?,
            not_before: now,
            not_after: now + 10 * year,
        };
        Ok((Cert::issue(&t, &root, &root_key)?, key))
    })
    .map(|(c, k)| (k, c))?;

    // Two-party key generation: the phone keeps d1 (masked by its PIN), the server d2.
    let (device, server, joint) = step(3, "phone + server: two-party SM2 key generation", || {
        let s = sid()?;
        let (keygen, m1) = cosign::DeviceKeygen::start(&s)?;
        let (server, m2) = cosign::server_keygen(&m1, &s)?;
        let (device, joint) = keygen.finish(&m2)?;
        Ok((device, server, joint))
    })?;
    let salt = rng::bytes::<16>()?;
    let stored = step(
        4,
        "phone: mask d1 with an Argon2id key from PIN 123456",
        || Ok(PinMask::derive(b"123456", &salt, PinKdfParams::PHONE)?.mask(&device.to_bytes())?),
    )?;

    let co_sign =
        |share: &DeviceShare, server: &ServerShare, e: &[u8; 32]| -> Res<sm2::Sm2Signature> {
            let s = sid()?;
            let (signer, req) = cosign::DeviceSigner::start(share, server.public_key(), e, &s)?;
            let resp = cosign::ServerCosigner::new(server).sign(&req, &s)?;
            let sig = signer.finish(&resp)?;
            cosign::check_final_signature(server.public_key(), e, &sig)?;
            Ok(sig)
        };

    let sign_cert = step(
        5,
        "phone: CSR co-signed; CA issues the signing certificate",
        || {
            let subject = enterprise_subject("重庆示例建设工程有限公司", "91500000MA5U8XGQ8Q")?;
            let draft = CsrDraft::new(subject, &joint.to_spki_der()?)?;
            let sig = co_sign(&device, &server, &draft.sm2_digest()?)?;
            let csr = draft.assemble(&sig.to_der())?;
            let t = CertTemplate::from_csr(CertProfile::Signing, &csr, now, now + year)?;
            Ok(Cert::issue(&t, &ica, &ica_key)?)
        },
    )?;

    // The key management centre makes the encryption key, escrows it, re-shares it, and
    // delivers the device share in an envelope to the device's signing key.
    let (enc_cert, enc_device, enc_server) = step(
        6,
        "KMC: encryption key, certificate, envelope to the phone",
        || {
            let enc = Sm2PrivateKey::make_random()?;
            let t = CertTemplate {
                profile: CertProfile::Encryption {
                    key_agreement: false,
                },
                subject: sign_cert.subject().clone(),
                public_key_spki: enc.public_key().to_spki_der()?,
                not_before: now,
                not_after: now + year,
            };
            let cert = Cert::issue(&t, &ica, &ica_key)?;
            let (dev_share, srv_share) = cosign::make_shares_for_key(&enc)?;
            let env = envelope::seal(&joint, enc.public_key(), &dev_share.to_bytes())?;
            // The phone opens it by co-decrypting the SM4 key with its signing key shares.
            let s = sid()?;
            let ct = env.sym_key_ciphertext();
            let (dec, req) = cosign::DeviceDecryptor::start(&device, ct, &s)?;
            let resp = cosign::ServerCosigner::new(&server).decrypt(&req, &s)?;
            let sym = dec.finish(&resp)?;
            let share = envelope::EnvelopedKey::from_der(&env.to_der()?)?
                .open_with_sym_key(&joint, &sym)?;
            Ok((cert, DeviceShare::from_bytes(share.as_slice())?, srv_share))
        },
    )?;

    let empty_crl = |n: u64, issuer: &Cert, key: &Sm2PrivateKey| -> Res<Crl> {
        let t = CrlTemplate {
            crl_number: n,
            this_update: now,
            next_update: now + 86_400,
            revoked: vec![],
        };
        Ok(Crl::issue(&t, issuer, key)?)
    };
    let root_crl = empty_crl(1, &root, &root_key)?;
    step(
        7,
        "platform: verify both chains (validity, key usage, CRLs)",
        || {
            let crls = [empty_crl(1, &ica, &ica_key)?, root_crl.clone()];
            verify_chain(
                &sign_cert,
                std::slice::from_ref(&ica),
                std::slice::from_ref(&root),
                now,
                &crls,
                RequiredUsage::Signing,
            )?;
            verify_chain(
                &enc_cert,
                std::slice::from_ref(&ica),
                std::slice::from_ref(&root),
                now,
                &crls,
                RequiredUsage::Encryption,
            )?;
            Ok(())
        },
    )?;

    let bid = "投标文件：第一标段 报价 12,345,678.00 元".as_bytes();
    step(
        8,
        "phone: co-sign the bid; platform verifies a plain SM2 signature",
        || {
            let unmasked =
                PinMask::derive(b"123456", &salt, PinKdfParams::PHONE)?.unmask(&stored)?;
            let share = DeviceShare::from_bytes(unmasked.as_slice())?;
            let e = sm2::message_digest(&joint, DEFAULT_ID, bid)?;
            let sig = co_sign(&share, &server, &e)?;
            sm2::verify(&sign_cert.sm2_public_key()?, DEFAULT_ID, bid, &sig)?;
            println!("     signature {}", hex(&sig.to_der()[..16]));
            Ok(())
        },
    )?;

    step(
        9,
        "wrong PIN: the server refuses the co-signature (counted)",
        || {
            let unmasked =
                PinMask::derive(b"654321", &salt, PinKdfParams::PHONE)?.unmask(&stored)?;
            let share = DeviceShare::from_bytes(unmasked.as_slice())?;
            let e = sm2::message_digest(&joint, DEFAULT_ID, bid)?;
            match co_sign(&share, &server, &e) {
                Err(e) => println!("     server says: {e}"),
                Ok(_) => return Err("a wrong PIN must not sign".into()),
            }
            Ok(())
        },
    )?;

    step(
        10,
        "bid opening: file key (SM4-GCM) unwrapped by co-decryption",
        || {
            let file_key = rng::bytes::<16>()?;
            let sealed_file =
                aead::seal(aead::AeadAlgorithm::Sm4Gcm, &file_key, b"tender-001", bid)?;
            let wrapped = sm2::encrypt(&enc_cert.sm2_public_key()?, &file_key)?;
            let s = sid()?;
            let (dec, req) = cosign::DeviceDecryptor::start(&enc_device, &wrapped, &s)?;
            let resp = cosign::ServerCosigner::new(&enc_server).decrypt(&req, &s)?;
            let key = dec.finish(&resp)?;
            let opened = aead::open(
                aead::AeadAlgorithm::Sm4Gcm,
                &key,
                b"tender-001",
                &sealed_file,
            )?;
            println!(
                "     opened {} bytes, SM3 {}",
                opened.len(),
                hex(&sm3::sm3(&opened)[..8])
            );
            Ok(())
        },
    )?;

    step(
        11,
        "CA revokes the signing certificate; the chain now fails",
        || {
            let crl = Crl::issue(
                &CrlTemplate {
                    crl_number: 2,
                    this_update: now,
                    next_update: now + 86_400,
                    revoked: vec![RevokedEntry {
                        serial: sign_cert.serial_bytes().to_vec(),
                        revoked_at: now,
                        reason: Some(CrlReason::KeyCompromise),
                    }],
                },
                &ica,
                &ica_key,
            )?;
            let crls = [crl, root_crl.clone()];
            let r = verify_chain(
                &sign_cert,
                std::slice::from_ref(&ica),
                std::slice::from_ref(&root),
                now,
                &crls,
                RequiredUsage::Signing,
            );
            println!(
                "     {}",
                r.err()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "accepted?!".into())
            );
            Ok(())
        },
    )?;

    println!("\nThe private signing key never existed whole: the phone held d1, the server d2.");
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

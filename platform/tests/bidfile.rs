//! Bid files: round trips at the chunk boundaries, every kind of damage with its own error,
//! and the wrapped key opening in OpenSSL 3.

mod support;

use bidkey_crypto::sm2;
use bidkey_platform::PlatformError;
use bidkey_platform::bidfile::{self, BidFileError, BidFileHeader, EncryptOptions, FileKey};
use support::pki;

const CHUNK: u32 = 1024;

fn opts(chunk: u32, total: usize) -> EncryptOptions {
    EncryptOptions {
        tender_id: "ZB-2026-0042".into(),
        platform_id: "plat-cq".into(),
        file_name: "投标文件.pdf".into(),
        chunk_size: Some(chunk),
        created_at: support::T0,
        total_len: Some(total as u64),
        threshold: None,
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 7) as u8).collect()
}

fn encrypt(p: &support::Pki, plain: &[u8], chunk: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut last = (0, None);
    bidfile::encrypt(
        &p.enc,
        &mut &plain[..],
        &mut out,
        &opts(chunk, plain.len()),
        &mut |d, t| {
            assert!(d >= last.0, "progress never goes back");
            last = (d, t);
        },
    )
    .expect("encrypts");
    assert_eq!(last, (plain.len() as u64, Some(plain.len() as u64)));
    out
}

/// The platform's view: the header names the wrapped key, the holder unwraps it.
fn unwrap_key(p: &support::Pki, file: &[u8]) -> FileKey {
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    let key = sm2::decrypt_der(&p.enc_key, &header.recipients[0].wrapped_key).expect("unwraps");
    FileKey::from_unwrapped(&key).expect("a key with its purpose")
}

fn decrypt(key: &FileKey, file: &[u8]) -> Result<Vec<u8>, PlatformError> {
    let mut out = Vec::new();
    bidfile::decrypt(key, &mut &file[..], &mut out, &mut |_, _| {})?;
    Ok(out)
}

#[test]
fn round_trip_at_chunk_boundaries() {
    let p = pki();
    let c = CHUNK as usize;
    for len in [0, 1, c - 1, c, c + 1, 2 * c, 3 * c + 17] {
        let plain = data(len);
        let file = encrypt(&p, &plain, CHUNK);
        let key = unwrap_key(&p, &file);
        assert_eq!(
            decrypt(&key, &file).expect("decrypts"),
            plain,
            "length {len}"
        );
    }
}

#[test]
fn several_mebibytes_with_the_default_chunk() {
    let p = pki();
    let plain = data(5 * 1024 * 1024 + 123);
    let mut file = Vec::new();
    let mut calls = 0;
    let mut o = opts(0, plain.len());
    o.chunk_size = None;
    let enc = bidfile::encrypt(&p.enc, &mut &plain[..], &mut file, &o, &mut |_, _| {
        calls += 1
    })
    .expect("encrypts");
    assert_eq!(enc.chunks, 81, "5 MiB + 123 B in 64 KiB chunks");
    assert_eq!(calls, 82);
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    assert_eq!(header.recipient_serial(), p.enc.serial_hex());
    assert_eq!(header.tender_id, "ZB-2026-0042");
    assert_eq!(header.platform_id, "plat-cq");
    assert_eq!(header.file_name, "投标文件.pdf");
    let key = unwrap_key(&p, &file);
    assert_eq!(decrypt(&key, &file).expect("decrypts"), plain);
}

fn header_len(file: &[u8]) -> usize {
    13 + u32::from_be_bytes(file[9..13].try_into().expect("4")) as usize + 32
}

#[test]
fn damage_has_distinct_errors() {
    let p = pki();
    let c = CHUNK as usize;
    let plain = data(4 * c + 10);
    let file = encrypt(&p, &plain, CHUNK);
    let key = unwrap_key(&p, &file);
    let h = header_len(&file);
    let sealed = c + 16;

    let mut bad = file.clone();
    bad[h + sealed + 5] ^= 1;
    assert!(matches!(
        decrypt(&key, &bad),
        Err(PlatformError::ChunkTampered { index: 1 })
    ));

    let mut swapped = file.clone();
    let (a, b) = (h + sealed, h + 2 * sealed);
    let first = file[a..a + sealed].to_vec();
    swapped.copy_within(b..b + sealed, a);
    swapped[b..b + sealed].copy_from_slice(&first);
    assert!(matches!(
        decrypt(&key, &swapped),
        Err(PlatformError::ChunkReordered {
            index: 1,
            belongs_at: 2
        })
    ));

    // Cut at a chunk boundary: the last chunk left is not marked final.
    let cut = &file[..h + 3 * sealed];
    assert!(matches!(
        decrypt(&key, cut),
        Err(PlatformError::Truncated { chunks: 3 })
    ));
    // Cut inside a chunk.
    let cut = &file[..file.len() - 3];
    assert!(matches!(
        decrypt(&key, cut),
        Err(PlatformError::ChunkTampered { index: 4 })
    ));
    // Nothing after the header.
    assert!(matches!(
        decrypt(&key, &file[..h]),
        Err(PlatformError::Truncated { chunks: 0 })
    ));

    let mut longer = file.clone();
    longer.extend_from_slice(&file[h..h + sealed]);
    assert!(decrypt(&key, &longer).is_err());

    let mut tender = file.clone();
    // The tender id sits in the header fields; change one byte of it.
    let pos = file
        .windows(12)
        .position(|w| w == b"ZB-2026-0042")
        .expect("tender id");
    tender[pos + 11] = b'3';
    assert!(matches!(
        decrypt(&key, &tender),
        Err(PlatformError::HeaderTampered)
    ));

    let other = FileKey::from_bytes(&[7u8; 16]).expect("key");
    assert!(matches!(
        decrypt(&other, &file),
        Err(PlatformError::WrongKey)
    ));

    assert!(matches!(
        decrypt(&key, b"not a bid file at all"),
        Err(PlatformError::NotABidFile)
    ));
    let mut v4 = file.clone();
    v4[8] = 4;
    assert!(matches!(
        decrypt(&key, &v4),
        Err(PlatformError::UnsupportedVersion(4))
    ));
}

#[test]
fn a_chunk_from_another_file_does_not_open() {
    let p = pki();
    let c = CHUNK as usize;
    let plain = data(2 * c);
    let a = encrypt(&p, &plain, CHUNK);
    let b = encrypt(&p, &plain, CHUNK);
    let key_a = unwrap_key(&p, &a);
    let h = header_len(&a);
    let mut mixed = a.clone();
    mixed[h..h + c + 16].copy_from_slice(&b[h..h + c + 16]);
    assert!(matches!(
        decrypt(&key_a, &mixed),
        Err(PlatformError::ChunkTampered { index: 0 })
    ));
}

#[test]
fn signing_certificate_is_not_a_recipient() {
    let p = pki();
    let err = bidfile::encrypt(
        &p.sign,
        &mut &b"x"[..],
        &mut Vec::new(),
        &opts(CHUNK, 1),
        &mut |_, _| {},
    )
    .expect_err("signing cert");
    assert!(matches!(err, BidFileError::BadRecipient(_)));
}

#[test]
fn wrapped_key_opens_in_openssl() {
    let dir = tempfile::tempdir().expect("dir");
    let p = pki();
    let file = encrypt(&p, b"bid", CHUNK);
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    std::fs::write(
        dir.path().join("k.pem"),
        p.enc_key.to_pkcs8_pem().expect("pem").as_bytes(),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("wrapped.der"),
        &header.recipients[0].wrapped_key,
    )
    .expect("write");
    let out = std::process::Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "pkeyutl",
            "-decrypt",
            "-inkey",
            "k.pem",
            "-in",
            "wrapped.der",
            "-out",
            "key.bin",
        ])
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = std::fs::read(dir.path().join("key.bin")).expect("key");
    let key = FileKey::from_unwrapped(&key).expect("a key with its purpose from OpenSSL");
    assert_eq!(
        decrypt(&key, &file).expect("opens with OpenSSL's key"),
        b"bid"
    );
}

#[test]
fn every_cut_of_the_header_is_refused_without_panic() {
    let p = pki();
    let file = encrypt(&p, b"x", CHUNK);
    let h = header_len(&file);
    for cut in 0..h {
        assert!(
            BidFileHeader::read_from(&mut &file[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    // Single-byte changes anywhere in the header never panic and never open.
    let key = unwrap_key(&p, &file);
    for i in 0..h {
        let mut bad = file.clone();
        bad[i] ^= 0x40;
        assert!(decrypt(&key, &bad).is_err(), "byte {i}");
    }
}

/// Bytes made on the fly: a file that never exists in memory.
struct Generated {
    left: u64,
    n: u64,
}

impl std::io::Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = buf.len().min(self.left as usize).min(10_007);
        for b in &mut buf[..k] {
            *b = (self.n % 253) as u8;
            self.n += 1;
        }
        self.left -= k as u64;
        Ok(k)
    }
}

/// A writer that keeps only an SM3 of what it was given.
struct Hashing(bidkey_crypto::sm3::Sm3Hasher, u64);

impl std::io::Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        self.1 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn streams_from_a_reader_to_a_writer() {
    let p = pki();
    let len = 8 * 1024 * 1024 + 5;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("big.bid");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    bidfile::encrypt(
        &p.enc,
        &mut Generated { left: len, n: 0 },
        &mut out,
        &EncryptOptions {
            chunk_size: None,
            total_len: Some(len),
            threshold: None,
            ..opts(CHUNK, 0)
        },
        &mut |_, _| {},
    )
    .expect("encrypts");
    drop(out);
    let mut expected = Hashing(Default::default(), 0);
    std::io::copy(&mut Generated { left: len, n: 0 }, &mut expected).expect("hash");
    let file = std::fs::File::open(&path).expect("open");
    let header = BidFileHeader::read_from(&mut std::io::BufReader::new(&file)).expect("header");
    let key = FileKey::from_unwrapped(
        &sm2::decrypt_der(&p.enc_key, &header.recipients[0].wrapped_key).expect("unwrap"),
    )
    .expect("key");
    let mut got = Hashing(Default::default(), 0);
    bidfile::decrypt(
        &key,
        &mut std::io::BufReader::new(std::fs::File::open(&path).expect("open")),
        &mut got,
        &mut |_, _| {},
    )
    .expect("decrypts");
    assert_eq!(got.1, len);
    assert_eq!(got.0.finish(), expected.0.finish());
}

/// The wrapped key carries its purpose (format v2, ADR 0017): the tender, the platform and
/// the header's binding hash, which covers every header field before the wrapped key. A
/// header changed after wrapping (another tender written in) no longer matches the hash
/// inside the key, so the phone, which compares the two, refuses it.
#[test]
fn the_wrapped_key_carries_tender_platform_and_header() {
    let p = pki();
    let file = encrypt(&p, b"bid", CHUNK);
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    let inside = bidfile::WrappedKeyContents::parse(
        &sm2::decrypt_der(&p.enc_key, &header.recipients[0].wrapped_key).expect("unwraps"),
    )
    .expect("a key with its purpose");
    assert_eq!(inside.tender_id, "ZB-2026-0042");
    assert_eq!(inside.platform_id, "plat-cq");
    assert_eq!(inside.header_hash, header.binding_hash().expect("hash"));
    let entry = header.wrapped_file_key("投标文件.pdf").expect("entry");
    assert_eq!(entry.header_hash, inside.header_hash.to_vec());
    assert_eq!(entry.wrapped_key, header.recipients[0].wrapped_key);

    // Every field the hash covers changes it; the wrapped key does not (no circularity).
    let hash = header.binding_hash().expect("hash");
    let mut other = header.clone();
    other.tender_id = "ZB-2026-0043".into();
    assert_ne!(other.binding_hash().expect("hash"), hash);
    let mut other = header.clone();
    other.platform_id = "plat-other".into();
    assert_ne!(other.binding_hash().expect("hash"), hash);
    let mut other = header.clone();
    other.file_name = "另一个.pdf".into();
    assert_ne!(other.binding_hash().expect("hash"), hash);
    let mut other = header.clone();
    other.created_at += 1;
    assert_ne!(other.binding_hash().expect("hash"), hash);
    let mut other = header.clone();
    other.recipients[0].wrapped_key.push(0);
    assert_eq!(other.binding_hash().expect("hash"), hash);
}

/// Version-1 and version-2 files (a bare key; one recipient written by the platform) are
/// not read.
#[test]
fn older_versions_are_refused() {
    let p = pki();
    for v in [1, 2] {
        let mut file = encrypt(&p, b"bid", CHUNK);
        file[8] = v;
        assert!(matches!(
            BidFileHeader::read_from(&mut &file[..]),
            Err(BidFileError::UnsupportedVersion(x)) if x == v
        ));
    }
}

fn encrypt_to(recipients: &[bidkey_crypto::x509::Cert], plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    bidfile::encrypt_to(
        recipients,
        &mut &plain[..],
        &mut out,
        &opts(CHUNK, plain.len()),
        &mut |_, _| {},
    )
    .expect("encrypts");
    out
}

/// One file key wrapped to three staff members: each of them alone opens the file, and
/// each wrapped key carries the same binding hash (which covers the list of recipients).
#[test]
fn every_recipient_opens_a_file_for_several() {
    let p = pki();
    let (k2, c2) = p.another_encryption_leaf();
    let (k3, c3) = p.another_encryption_leaf();
    let plain = data(5000);
    let file = encrypt_to(&[p.enc.clone(), c2.clone(), c3.clone()], &plain);
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    assert_eq!(
        header.recipient_serials(),
        vec![p.enc.serial_hex(), c2.serial_hex(), c3.serial_hex()]
    );
    let entries = header.wrapped_file_keys("投标文件.pdf").expect("entries");
    assert_eq!(entries.len(), 3);
    for (i, k) in [&p.enc_key, &k2, &k3].into_iter().enumerate() {
        let unwrapped = sm2::decrypt_der(k, &header.recipients[i].wrapped_key).expect("unwraps");
        let contents =
            bidkey_crypto::file_key::WrappedKeyContents::parse(&unwrapped).expect("purpose");
        assert_eq!(contents.header_hash, header.binding_hash().expect("hash"));
        assert_eq!(entries[i].header_hash, contents.header_hash.to_vec());
        let key = FileKey::from_unwrapped(&unwrapped).expect("key");
        assert_eq!(decrypt(&key, &file).expect("opens"), plain);
    }
    // A recipient's key does not open the wrapped key of another.
    assert!(sm2::decrypt_der(&k2, &header.recipients[0].wrapped_key).is_err());
}

/// Dropping a recipient from the list (to hide from the platform who can open the bid)
/// breaks the header MAC: the list is part of what the key authenticates.
#[test]
fn removing_a_recipient_from_the_header_is_detected() {
    let p = pki();
    let (_, c2) = p.another_encryption_leaf();
    let file = encrypt_to(&[p.enc.clone(), c2], b"bid");
    let mut header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    let key = unwrap_key(&p, &file);
    header.recipients.truncate(1);
    assert!(matches!(
        header.check_key(key.as_bytes()),
        Err(BidFileError::HeaderTampered)
    ));
}

#[test]
fn recipients_are_distinct_and_bounded() {
    let p = pki();
    let refuse = |rs: &[bidkey_crypto::x509::Cert]| {
        bidfile::encrypt_to(
            rs,
            &mut &b"x"[..],
            &mut Vec::new(),
            &opts(CHUNK, 1),
            &mut |_, _| {},
        )
        .expect_err("refused")
    };
    assert!(matches!(refuse(&[]), BidFileError::BadRecipient(_)));
    assert!(matches!(
        refuse(&[p.enc.clone(), p.enc.clone()]),
        BidFileError::BadRecipient(_)
    ));
    let many: Vec<_> = (0..=bidfile::MAX_RECIPIENTS)
        .map(|_| p.enc.clone())
        .collect();
    assert!(matches!(refuse(&many), BidFileError::BadRecipient(_)));
}

/// What a platform checks at upload: the tender, the platform and that someone who can
/// answer here is among the recipients; each refusal says which.
#[test]
fn upload_checks_name_the_problem() {
    use bidfile::UploadProblem;
    let p = pki();
    let file = encrypt(&p, b"bid", CHUNK);
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    let me = vec![p.enc.serial_hex()];
    assert_eq!(
        bidfile::check_upload(&header, "ZB-2026-0042", "plat-cq", &me),
        Ok(())
    );
    assert!(matches!(
        bidfile::check_upload(&header, "ZB-OTHER", "plat-cq", &me),
        Err(UploadProblem::OtherTender { .. })
    ));
    assert!(matches!(
        bidfile::check_upload(&header, "ZB-2026-0042", "plat-other", &me),
        Err(UploadProblem::OtherPlatform { .. })
    ));
    let err = bidfile::check_upload(&header, "ZB-2026-0042", "plat-cq", &["ff".into()])
        .expect_err("no opener");
    assert_eq!(err, UploadProblem::NoOpener);
    assert!(err.message_zh().contains("无人能解密"));
}

/// k-of-n: a 2-of-3 file. Each recipient unwraps a share (not the key); any two together
/// give the key, checked against the header's commitment; one alone, a share from someone
/// not a recipient, or an altered share does not open it.
#[test]
fn two_of_three_recipients_open_a_threshold_file() {
    use bidkey_crypto::file_key::WrappedKeyContents;
    let p = pki();
    let (k2, c2) = p.another_encryption_leaf();
    let (k3, c3) = p.another_encryption_leaf();
    let plain = data(3000);
    let mut file = Vec::new();
    bidfile::encrypt_to(
        &[p.enc.clone(), c2, c3],
        &mut &plain[..],
        &mut file,
        &EncryptOptions {
            threshold: Some(2),
            ..opts(CHUNK, plain.len())
        },
        &mut |_, _| {},
    )
    .expect("encrypts");
    let header = BidFileHeader::read_from(&mut &file[..]).expect("header");
    assert_eq!(header.threshold, 2);
    let share = |i: usize, k: &bidkey_crypto::sm2::Sm2PrivateKey| {
        let plain = sm2::decrypt_der(k, &header.recipients[i].wrapped_key).expect("unwraps");
        let c = WrappedKeyContents::parse(&plain).expect("purpose");
        (header.recipients[i].serial.clone(), c.key.to_vec())
    };
    let s1 = share(0, &p.enc_key);
    let s2 = share(1, &k2);
    let s3 = share(2, &k3);
    // A share is not the key.
    assert!(matches!(
        FileKey::from_bytes(&s1.1).and_then(|k| header.check_key(k.as_bytes())),
        Err(BidFileError::WrongKey)
    ));
    for pair in [[&s1, &s2], [&s1, &s3], [&s3, &s2]] {
        let key = bidfile::combine_shares(&header, &[pair[0].clone(), pair[1].clone()])
            .expect("two open it");
        assert_eq!(decrypt(&key, &file).expect("opens"), plain);
    }
    assert!(matches!(
        bidfile::combine_shares(&header, &[s1.clone(), s1.clone()]),
        Err(BidFileError::NotEnoughShares { have: 1, need: 2 })
    ));
    assert!(matches!(
        bidfile::combine_shares(&header, &[s1.clone(), ("ff".into(), s2.1.clone())]),
        Err(BidFileError::BadRecipient(_))
    ));
    let mut bad = s2.clone();
    bad.1[0] ^= 1;
    assert!(matches!(
        bidfile::combine_shares(&header, &[s1.clone(), bad]),
        Err(BidFileError::WrongKey)
    ));
    // The threshold is bound: changing it in the header breaks the MAC.
    let key = bidfile::combine_shares(&header, &[s1, s3]).expect("opens");
    let mut lowered = header.clone();
    lowered.threshold = 1;
    assert!(matches!(
        lowered.check_key(key.as_bytes()),
        Err(BidFileError::HeaderTampered)
    ));
    // A threshold above the recipients is refused when encrypting.
    let err = bidfile::encrypt_to(
        std::slice::from_ref(&p.enc),
        &mut &b"x"[..],
        &mut Vec::new(),
        &EncryptOptions {
            threshold: Some(2),
            ..opts(CHUNK, 1)
        },
        &mut |_, _| {},
    )
    .expect_err("refused");
    assert!(matches!(err, BidFileError::BadRecipient(_)));
}

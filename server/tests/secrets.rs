//! The server's secrets split by domain (ADR 0019, issue 13 §6), tried as an insider with
//! the database and some key files would: the serving process runs without the root CA key
//! file, one stolen key file (with its passphrase) opens only its own domain's rows, and a
//! passphrase file kept beside the keys is refused outside sandbox mode.

#[path = "support/process.rs"]
mod process;
#[allow(unused_imports)]
mod support;

use bidkey_crypto::x509::Crl;
use bidkey_server::ca::keys::{Sealed, open_with_key};
use bidkey_server::keyfile::{self, Passphrases};
use process::run;
use support::device::{chain_and_crls, enrolled_person};
use support::{Client, TestServer};

const PASSPHRASES: [(&str, &str); 4] = [
    (
        "BIDKEY_ROOT_PASSPHRASE",
        "root: kept offline with the root key",
    ),
    ("BIDKEY_CA_PASSPHRASE", "issuing CA: correct horse battery"),
    ("BIDKEY_KMC_PASSPHRASE", "escrow: staple paperclip lantern"),
    ("BIDKEY_COSIGN_PASSPHRASE", "cosign: violet harbour engine"),
];

fn env_with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut env = vec![("BIDKEY_SANDBOX", "0")];
    env.extend_from_slice(&PASSPHRASES);
    env.extend_from_slice(extra);
    env
}

fn passphrase(env: &str) -> &'static str {
    PASSPHRASES
        .iter()
        .find(|(k, _)| *k == env)
        .map(|(_, v)| *v)
        .expect("known")
}

/// The serving slots' passphrases only: the server is never given the root's.
fn serving_passphrases() -> Passphrases {
    keyfile::SERVING
        .iter()
        .fold(Passphrases::default(), |p, s| p.with(*s, passphrase(s.env)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_without_the_root_key_file_and_one_stolen_key_opens_one_domain() {
    bidkey_testkit::install_tls_provider();
    let data = tempfile::tempdir().expect("dir");
    let offline = tempfile::tempdir().expect("offline");
    let d = data.path().to_str().expect("utf-8").to_owned();
    let d = d.as_str();
    // The key ceremony: four key files, four passphrases, the first root CRL.
    let (ok, out, err) = run(&["--data-dir", d, "ca", "init"], &env_with(&[]));
    assert!(ok, "{err}");
    assert!(out.contains("published root CRL number 1"), "{out}");
    for slot in keyfile::ALL {
        assert!(slot.path(data.path()).exists(), "{}", slot.file);
        assert!(!slot.sandbox_passphrase_path(data.path()).exists());
    }
    // The root key goes offline: the server must not need it.
    let root_file = keyfile::ROOT.path(data.path());
    let offline_root = offline.path().join(keyfile::ROOT.file);
    std::fs::rename(&root_file, &offline_root).expect("move the root key away");

    // Sandbox providers (SMS outbox, real-name) for the test's phones; the keys are the
    // deployment's, opened with the serving passphrases only.
    let mut config = bidkey_server::Config::local_sandbox(data.path().to_path_buf());
    config.passphrases = serving_passphrases();
    let running = bidkey_server::start(config).await.expect("serves");
    let server = TestServer {
        running,
        data_dir: data,
    };
    let c = Client::new(&server);
    // Certificates are issued and the root's CRL is served, signed by the root.
    let _person = enrolled_person(&server, "13900139077", "王五", "11010519491231002X").await;
    let (root, _issuing, _crl, arl) = chain_and_crls(&c).await;
    arl.verify_signature(&root).expect("the ARL is the root's");
    assert_eq!(arl.crl_number(), Some(1));
    assert!(
        !root_file.exists(),
        "the server did not bring the root key back"
    );

    // The operator brings the root key out for a new ARL; the running server serves it.
    std::fs::copy(&offline_root, &root_file).expect("root key back for the ceremony");
    let (ok, out, err) = run(
        &["--data-dir", d, "ca", "root-crl", "--days", "30"],
        &env_with(&[]),
    );
    assert!(ok, "{err}");
    assert!(out.contains("published root CRL number 2"), "{out}");
    std::fs::remove_file(&root_file).expect("offline again");
    let arl2 = Crl::from_der(&support::device::raw(&c, "/v1/ca/crl/root").await).expect("arl");
    arl2.verify_signature(&root).expect("signed by the root");
    assert_eq!(arl2.crl_number(), Some(2));

    // The insider with the database and one key file (and its passphrase).
    let rows = server
        .running
        .state
        .db
        .read(|tx| {
            let share = tx
                .query_opt(
                    "SELECT id, share_sealed FROM cosign_keys ORDER BY id LIMIT 1",
                    &[],
                )?
                .expect("a co-signing share");
            let escrow = tx
                .query_opt(
                    "SELECT id, key_sealed FROM kmc_escrow ORDER BY id LIMIT 1",
                    &[],
                )?
                .expect("an escrowed key");
            Ok::<_, bidkey_server::db::DbError>((
                (share.text(0)?, share.bytes(1)?),
                (escrow.text(0)?, escrow.bytes(1)?),
            ))
        })
        .await
        .expect("rows");
    let ((share_id, share), (escrow_id, escrow)) = rows;
    let dir = server.data_dir.path();
    let stolen = |slot: keyfile::Slot| {
        keyfile::open(slot, &slot.path(dir), passphrase(slot.env)).expect("stolen file opens")
    };
    // kmc.key gives the escrowed keys and no co-signing share.
    let kmc = stolen(keyfile::KMC);
    assert!(open_with_key(&kmc.secret, Sealed::KmcEscrow, &escrow_id, &escrow).is_ok());
    for key in kmc.secret.chunks(16) {
        for what in [Sealed::CosignShare, Sealed::Enrollment] {
            assert!(open_with_key(key, what, &share_id, &share).is_err());
        }
    }
    // cosign.key gives the shares and no escrowed key.
    let cosign = stolen(keyfile::COSIGN);
    assert!(open_with_key(&cosign.secret[..16], Sealed::CosignShare, &share_id, &share).is_ok());
    for key in cosign.secret.chunks(16) {
        assert!(open_with_key(key, Sealed::KmcEscrow, &escrow_id, &escrow).is_err());
    }
    // The issuing CA's file gives neither.
    let ca = stolen(keyfile::CA);
    for key in ca.secret.chunks(16) {
        assert!(open_with_key(key, Sealed::KmcEscrow, &escrow_id, &escrow).is_err());
        assert!(open_with_key(key, Sealed::CosignShare, &share_id, &share).is_err());
    }
    // And a key file does not open with another file's passphrase.
    assert!(
        keyfile::open(
            keyfile::KMC,
            &keyfile::KMC.path(dir),
            passphrase("BIDKEY_COSIGN_PASSPHRASE")
        )
        .is_err()
    );
    server.running.stop().await;
}

#[test]
fn a_passphrase_file_beside_the_keys_is_refused_outside_sandbox_mode() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let inside = data.join("ca-passphrase");
    std::fs::write(&inside, "correct horse battery staple\n").expect("write");
    let config = dir.path().join("bidkey.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[passphrase_files]\nca = {:?}\n",
            data.display().to_string(),
            inside.display().to_string()
        ),
    )
    .expect("config");
    let c = config.to_str().expect("utf-8");
    for command in ["check-config", "serve"] {
        let (ok, out, err) = run(&["--config", c, command], &[("BIDKEY_SANDBOX", "0")]);
        assert!(!ok, "{command} accepted it: {out}");
        assert!(
            err.contains("passphrase_files.ca")
                && err.contains("lies in the data directory, beside the key files"),
            "{err}"
        );
        assert!(!out.contains("listening"), "{out}");
    }
    // In sandbox mode (development) it is allowed.
    let (ok, _, err) = run(&["--config", c, "check-config"], &[("BIDKEY_SANDBOX", "1")]);
    assert!(ok, "{err}");

    // The random passphrases sandbox mode keeps beside its keys do not serve a deployment.
    let sandbox = dir.path().join("sandbox-data");
    let s = sandbox.to_str().expect("utf-8");
    let (ok, _, err) = run(&["--data-dir", s, "ca", "init"], &[("BIDKEY_SANDBOX", "1")]);
    assert!(ok, "{err}");
    assert!(keyfile::CA.sandbox_passphrase_path(&sandbox).exists());
    let (ok, _, err) = run(
        &["--data-dir", s, "ca", "root-crl"],
        &[("BIDKEY_SANDBOX", "0")],
    );
    assert!(!ok);
    assert!(
        err.contains("ca-root.key.passphrase") && err.contains("refused outside sandbox mode"),
        "{err}"
    );
}

#[test]
fn a_data_directory_of_the_single_key_file_is_told_how_to_split_it() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("ca-keys.bin"), b"BIDKEYCA\x01...").expect("old file");
    let d = dir.path().to_str().expect("utf-8");
    let (ok, _, err) = run(&["--data-dir", d, "ca", "root-crl"], &env_with(&[]));
    assert!(!ok);
    assert!(
        err.contains("ca-keys.bin") && err.contains("bidkey-server ca split-keys"),
        "{err}"
    );
    // `ca init` will not paper over it either.
    let (ok, _, err) = run(&["--data-dir", d, "ca", "init"], &env_with(&[]));
    assert!(!ok);
    assert!(err.contains("ca split-keys"), "{err}");
    // Two key files under one passphrase are refused.
    let fresh = tempfile::tempdir().expect("dir");
    let f = fresh.path().to_str().expect("utf-8");
    let (ok, _, err) = run(
        &["--data-dir", f, "ca", "init"],
        &env_with(&[("BIDKEY_KMC_PASSPHRASE", "issuing CA: correct horse battery")]),
    );
    assert!(!ok);
    assert!(err.contains("ca and kmc key files are the same"), "{err}");
}

//! `bidkey-platform`: the operator's tool of a trading platform. Verify a signature (offline
//! against a root and CRLs, or online against the Bidkey server), encrypt and decrypt bid
//! files, show a bid file's header or a certificate.

use base64::Engine;
use bidkey_crypto::x509::{Cert, Crl};
use bidkey_platform::bidfile::{self, BidFileHeader, EncryptOptions, FileKey};
use bidkey_platform::client::PlatformClient;
use bidkey_platform::verify::{Expected, SignedMessage, TrustAnchor, Verified, Verifier};
use bidkey_platform::{PlatformError, Result};
use clap::{Parser, Subcommand};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Parser)]
#[command(
    name = "bidkey-platform",
    version,
    about = "Bidkey tool for trading platforms"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify an SM2 signature over a file: offline (--root, --ca, --crl) or online (--server).
    Verify {
        /// Signer certificate, PEM or DER.
        #[arg(long)]
        cert: PathBuf,
        /// Signature, DER (binary, hex or base64).
        #[arg(long)]
        sig: PathBuf,
        /// The signed file, as the platform stores it.
        #[arg(long)]
        file: PathBuf,
        /// The bidder's USCC the certificate must carry.
        #[arg(long)]
        uscc: Option<String>,
        /// Bidkey server URL: CRLs, status and the grant are checked online.
        #[arg(long, requires = "platform_id")]
        server: Option<String>,
        /// This platform's id at the Bidkey server (for the grant check).
        #[arg(long)]
        platform_id: Option<String>,
        /// PEM of the CA that signs the server's TLS certificate (https only).
        #[arg(long)]
        tls_ca: Option<PathBuf>,
        /// The pinned Bidkey root certificate (required offline; online it is compared).
        #[arg(long)]
        root: Option<PathBuf>,
        /// The issuing CA certificate (offline).
        #[arg(long)]
        ca: Option<PathBuf>,
        /// CRL files, PEM or DER, one per issuer (offline).
        #[arg(long)]
        crl: Vec<PathBuf>,
        /// Trusted time to check at, Unix seconds (default: now, this machine's clock).
        #[arg(long)]
        at: Option<u64>,
    },
    /// Encrypt a file to a bidder's encryption certificate.
    Encrypt {
        #[arg(long)]
        cert: PathBuf,
        #[arg(long = "in")]
        input: PathBuf,
        #[arg(long = "out")]
        output: PathBuf,
        #[arg(long, default_value = "")]
        tender: String,
    },
    /// Decrypt a bid file with the file key (32 hex digits) the phone unwrapped.
    Decrypt {
        #[arg(long)]
        key: String,
        #[arg(long = "in")]
        input: PathBuf,
        #[arg(long = "out")]
        output: PathBuf,
    },
    /// Show a bid file's header: recipient serial and the wrapped key to send to the phone.
    Header { file: PathBuf },
    /// Show a certificate.
    ShowCert { cert: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Verify {
            cert,
            sig,
            file,
            uscc,
            server,
            platform_id,
            tls_ca,
            root,
            ca,
            crl,
            at,
        } => {
            let cert_der = read_cert(&cert)?.to_der().to_vec();
            let sig = read_signature(&sig)?;
            let message = std::fs::read(&file)?;
            let signed = SignedMessage {
                cert_der: &cert_der,
                signature_der: &sig,
                message: &message,
            };
            let at = match at {
                Some(t) => t,
                None => now()?,
            };
            let expected = Expected { uscc };
            let verified = match (server, platform_id) {
                (Some(server), Some(platform_id)) => {
                    let tls = tls_ca.map(std::fs::read_to_string).transpose()?;
                    let root = root.as_deref().map(read_cert).transpose()?;
                    verify_online(
                        &server,
                        tls.as_deref(),
                        root,
                        &platform_id,
                        &signed,
                        at,
                        &expected,
                    )?
                }
                _ => {
                    let root = read_cert(root.as_deref().ok_or(PlatformError::Config("--root"))?)?;
                    let cas = ca
                        .as_deref()
                        .map(read_cert)
                        .transpose()?
                        .into_iter()
                        .collect();
                    let crls = crl
                        .iter()
                        .map(|p| read_crl(p))
                        .collect::<Result<Vec<_>>>()?;
                    Verifier::new(TrustAnchor::new(root, cas)?)
                        .verify_with_crls(&signed, at, &crls, &expected)?
                }
            };
            print_verified(&verified);
            Ok(())
        }
        Command::Encrypt {
            cert,
            input,
            output,
            tender,
        } => {
            let cert = read_cert(&cert)?;
            let total = std::fs::metadata(&input)?.len();
            let file_name = input
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .map_err(|_| PlatformError::Config("progress template"))?,
            );
            let enc = with_temp_output(&output, |out| {
                bidfile::encrypt(
                    &cert,
                    &mut BufReader::new(File::open(&input)?),
                    out,
                    &EncryptOptions {
                        tender_id: tender.clone(),
                        file_name: file_name.clone(),
                        chunk_size: None,
                        created_at: now()?,
                        total_len: Some(total),
                    },
                    &mut |done, _| bar.set_position(done),
                )
            })?;
            bar.finish_and_clear();
            println!("recipient_serial: {}", enc.header.recipient_serial);
            println!("plaintext_bytes: {}", enc.plaintext_len);
            println!("chunks: {}", enc.chunks);
            Ok(())
        }
        Command::Decrypt { key, input, output } => {
            let key = FileKey::from_hex(&key)?;
            let header = with_temp_output(&output, |out| {
                bidfile::decrypt(
                    &key,
                    &mut BufReader::new(File::open(&input)?),
                    out,
                    &mut |_, _| {},
                )
            })?;
            println!("decrypted: {}", header.file_name);
            Ok(())
        }
        Command::Header { file } => {
            let h = BidFileHeader::read_from(&mut BufReader::new(File::open(&file)?))?;
            println!("recipient_serial: {}", h.recipient_serial);
            println!("tender_id: {}", h.tender_id);
            println!("file_name: {}", h.file_name);
            println!("created_at: {}", h.created_at);
            println!("chunk_size: {}", h.chunk_size);
            println!("wrapped_key_hex: {}", hex::encode(&h.wrapped_key));
            println!(
                "wrapped_key_base64: {}",
                base64::engine::general_purpose::STANDARD.encode(&h.wrapped_key)
            );
            Ok(())
        }
        Command::ShowCert { cert } => {
            let c = read_cert(&cert)?;
            println!("subject: {}", c.subject_string());
            println!("issuer: {}", c.issuer());
            println!("serial: {}", c.serial_hex());
            println!("not_before: {}", c.not_before());
            println!("not_after: {}", c.not_after());
            if let Ok(Some(uscc)) = c.subject_uscc() {
                println!("uscc: {uscc}");
            }
            let ku = c.key_usage().unwrap_or_default();
            let mut usages = Vec::new();
            for (on, name) in [
                (ku.digital_signature, "digitalSignature"),
                (ku.non_repudiation, "nonRepudiation"),
                (ku.key_encipherment, "keyEncipherment"),
                (ku.data_encipherment, "dataEncipherment"),
                (ku.key_agreement, "keyAgreement"),
                (ku.key_cert_sign, "keyCertSign"),
                (ku.crl_sign, "cRLSign"),
            ] {
                if on {
                    usages.push(name);
                }
            }
            println!("key_usage: {}", usages.join(","));
            println!("ca: {}", c.is_ca());
            println!("sha256: {}", hex::encode(c.fingerprint_sha256()));
            println!("sm3: {}", hex::encode(c.fingerprint_sm3()));
            Ok(())
        }
    }
}

fn verify_online(
    server: &str,
    tls_ca: Option<&str>,
    root: Option<Cert>,
    platform_id: &str,
    signed: &SignedMessage<'_>,
    at: u64,
    expected: &Expected,
) -> Result<Verified> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = PlatformClient::new(server, tls_ca, Duration::from_secs(20))?;
        let pin = root.map(|r| r.fingerprint_sha256());
        let anchor = TrustAnchor::fetch(&client, pin.as_ref()).await?;
        Verifier::new(anchor)
            .verify_online(&client, platform_id, signed, at, expected)
            .await
    })
}

fn print_verified(v: &Verified) {
    println!("verified: yes");
    println!("subject: {}", v.subject);
    if let Some(cn) = &v.common_name {
        println!("name: {cn}");
    }
    if let Some(u) = &v.uscc {
        println!("uscc: {u}");
    }
    println!("serial: {}", v.serial);
    println!("checked_at: {}", v.signed_at_checked);
    if let Some(g) = &v.grant_id {
        println!("grant_id: {g}");
    }
    println!("cert_sha256: {}", v.cert_fingerprint);
}

fn now() -> Result<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| PlatformError::Config("system clock before 1970"))
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN")
}

fn read_cert(path: &Path) -> Result<Cert> {
    let bytes = std::fs::read(path)?;
    let cert = if is_pem(&bytes) {
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| Cert::from_pem(t).ok())
    } else {
        Cert::from_der(&bytes).ok()
    };
    cert.ok_or(PlatformError::Malformed("certificate"))
}

fn read_crl(path: &Path) -> Result<Crl> {
    let bytes = std::fs::read(path)?;
    let crl = if is_pem(&bytes) {
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| Crl::from_pem(t).ok())
    } else {
        Crl::from_der(&bytes).ok()
    };
    crl.ok_or(PlatformError::Malformed("CRL"))
}

/// A signature file: binary DER, or DER as hex or base64 text.
fn read_signature(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)?;
    if bytes.first() == Some(&0x30) {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| PlatformError::Malformed("signature"))?
        .trim();
    hex::decode(text)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
        .ok_or(PlatformError::Malformed("signature"))
}

/// Write through a temporary file next to `path`, renamed into place only on success, so a
/// failed decryption leaves no partial plaintext under the final name.
fn with_temp_output<T>(
    path: &Path,
    f: impl FnOnce(&mut BufWriter<File>) -> Result<T>,
) -> Result<T> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or(PlatformError::Config("output file name"))?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.part"));
    let result = File::create(&tmp)
        .map_err(PlatformError::from)
        .and_then(|file| {
            let mut out = BufWriter::new(file);
            let value = f(&mut out)?;
            out.into_inner()
                .map_err(|e| PlatformError::Io(e.into_error()))?
                .sync_all()?;
            Ok(value)
        });
    match result {
        Ok(v) => {
            std::fs::rename(&tmp, path)?;
            Ok(v)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

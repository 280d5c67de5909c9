//! `bidkey-platform`: the operator's tool of a trading platform. Verify a signature (offline
//! against a root and CRLs, or online against the Bidkey server), encrypt and decrypt bid
//! files, show a bid file's header or a certificate, verify the signatures of a PDF
//! (`verify-pdf`) or a CMS message (`verify-cms`).

use base64::Engine;
use bidkey_crypto::cms::Content;
use bidkey_crypto::scan::PlatformKey;
use bidkey_crypto::x509::{Cert, Crl};
use bidkey_platform::bidfile::{self, BidFileHeader, EncryptOptions, FileKey};
use bidkey_platform::client::PlatformClient;
use bidkey_platform::pdf;
use bidkey_platform::pdf::verify::{Check, VerifyOptions};
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
        #[arg(long, requires = "platform_key")]
        platform_id: Option<String>,
        /// File holding the hex of this platform's SM2 private key (the key of its Bidkey
        /// platform certificate): the server answers the grant check only to the platform,
        /// signed with it.
        #[arg(long)]
        platform_key: Option<PathBuf>,
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
        /// The tender the bid is for (bound into the wrapped key).
        #[arg(long)]
        tender: String,
        /// The platform id the bid is for (bound into the wrapped key; the phone unwraps it
        /// only for this platform's decrypt request).
        #[arg(long)]
        platform: String,
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
    /// Verify every signature of a PDF: signer, enterprise, USCC, timestamp, integrity,
    /// changes after signing, chain to the pinned root and revocation at the timestamp.
    /// Exits non-zero unless there is a signature and every one is valid.
    VerifyPdf {
        file: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify a GB/T 38540 seal signature (`SES_Signature`, e.g. the `.ses` beside a sealed
    /// PDF): the signer's and the seal maker's SM2 signatures, the maker's chain to the
    /// pinned root, the timestamp, the signer in the seal's list, the seal valid when used;
    /// with --pdf, dataHash must be the SM3 of one signature's ByteRange of that PDF; with
    /// --data, of that file; with --server, the seal's revocation status is asked too.
    /// Exits non-zero unless the seal signature is acceptable.
    VerifySeal {
        file: PathBuf,
        #[arg(long)]
        pdf: Option<PathBuf>,
        #[arg(long)]
        data: Option<PathBuf>,
        /// The pinned Bidkey root certificate.
        #[arg(long)]
        root: PathBuf,
        /// Intermediate (issuing CA) certificates.
        #[arg(long)]
        ca: Vec<PathBuf>,
        /// The Bidkey server, to ask the seal's status (revocation).
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Verify a CMS SignedData (PKCS#7 or GB/T 35275), detached (--content) or attached.
    VerifyCms {
        /// The CMS, DER (or PEM `PKCS7`/`CMS`).
        file: PathBuf,
        /// The signed content of a detached CMS.
        #[arg(long)]
        content: Option<PathBuf>,
        #[command(flatten)]
        trust: TrustArgs,
        #[arg(long)]
        json: bool,
    },
}

/// What signatures are checked against, offline.
#[derive(Debug, clap::Args)]
struct TrustArgs {
    /// The pinned Bidkey root certificate; without it the chain is not checked (and the
    /// signature is not reported valid).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Intermediate (issuing CA) certificates.
    #[arg(long)]
    ca: Vec<PathBuf>,
    /// CRL files, PEM or DER; without them revocation is not checked.
    #[arg(long)]
    crl: Vec<PathBuf>,
    /// Time to check untimestamped signatures at, Unix seconds (default: now).
    #[arg(long)]
    at: Option<u64>,
}

struct Trust {
    anchor: Option<TrustAnchor>,
    crls: Vec<Crl>,
    now: u64,
}

impl TrustArgs {
    fn load(&self) -> Result<Trust> {
        let intermediates = self
            .ca
            .iter()
            .map(|p| read_cert(p))
            .collect::<Result<Vec<_>>>()?;
        let anchor = match &self.root {
            Some(r) => Some(TrustAnchor::new(read_cert(r)?, intermediates)?),
            None => None,
        };
        Ok(Trust {
            anchor,
            crls: self
                .crl
                .iter()
                .map(|p| read_crl(p))
                .collect::<Result<_>>()?,
            now: match self.at {
                Some(t) => t,
                None => now()?,
            },
        })
    }
}

impl Trust {
    fn options(&self) -> VerifyOptions<'_> {
        VerifyOptions {
            anchor: self.anchor.as_ref(),
            tsa_anchor: None,
            crls: &self.crls,
            now: self.now,
        }
    }
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
            platform_key,
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
                    let key = read_platform_key(
                        platform_key
                            .as_deref()
                            .ok_or(PlatformError::Config("--platform-key"))?,
                    )?;
                    let tls = tls_ca.map(std::fs::read_to_string).transpose()?;
                    let root = root.as_deref().map(read_cert).transpose()?;
                    // The grant check is answered only to the platform, signed with its key.
                    let client =
                        PlatformClient::new(&server, tls.as_deref(), Duration::from_secs(20))?
                            .signed_by(std::sync::Arc::new(key));
                    verify_online(&client, root, &platform_id, &signed, at, &expected)?
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
            platform,
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
                        platform_id: platform.clone(),
                        file_name: file_name.clone(),
                        chunk_size: None,
                        created_at: now()?,
                        total_len: Some(total),
                        threshold: None,
                    },
                    &mut |done, _| bar.set_position(done),
                )
                .map_err(PlatformError::from)
            })?;
            bar.finish_and_clear();
            println!("recipient_serial: {}", enc.header.recipient_serial());
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
                .map_err(PlatformError::from)
            })?;
            println!("decrypted: {}", header.file_name);
            Ok(())
        }
        Command::Header { file } => {
            let h = BidFileHeader::read_from(&mut BufReader::new(File::open(&file)?))?;
            println!("recipient_serial: {}", h.recipient_serial());
            println!("recipients: {}", h.recipient_serials().join(","));
            println!("tender_id: {}", h.tender_id);
            println!("platform_id: {}", h.platform_id);
            println!("file_name: {}", h.file_name);
            println!("binding_hash_hex: {}", hex::encode(h.binding_hash()?));
            println!("created_at: {}", h.created_at);
            println!("chunk_size: {}", h.chunk_size);
            // The first recipient's wrapped key (the one `recipient_serial` names).
            let wrapped = h
                .recipients
                .first()
                .map(|r| r.wrapped_key.as_slice())
                .unwrap_or_default();
            println!("wrapped_key_hex: {}", hex::encode(wrapped));
            println!(
                "wrapped_key_base64: {}",
                base64::engine::general_purpose::STANDARD.encode(wrapped)
            );
            Ok(())
        }
        Command::VerifyPdf { file, trust, json } => {
            let trust = trust.load()?;
            let report = pdf::verify(BufReader::new(File::open(&file)?), &trust.options())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report)
                        .map_err(|_| PlatformError::Malformed("report"))?
                );
            } else {
                print_pdf_report(&report);
            }
            if !report.all_valid() {
                return Err(PlatformError::BadReply(
                    "not every signature of the PDF is valid",
                ));
            }
            Ok(())
        }
        Command::VerifySeal {
            file,
            pdf,
            data,
            root,
            ca,
            server,
            json,
        } => verify_seal(&file, pdf, data, &root, &ca, server, json),
        Command::VerifyCms {
            file,
            content,
            trust,
            json,
        } => {
            let trust = trust.load()?;
            let der = read_cms(&file)?;
            let content = content.map(std::fs::read).transpose()?;
            let signers = pdf::verify::verify_cms(
                &der,
                match &content {
                    Some(c) => Content::Detached(c),
                    None => Content::Attached,
                },
                &trust.options(),
            )?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&signers)
                        .map_err(|_| PlatformError::Malformed("report"))?
                );
            } else {
                for (i, s) in signers.iter().enumerate() {
                    println!("signer #{}", i + 1);
                    print_signer(s);
                }
            }
            if !signers
                .iter()
                .all(|s| s.chain.is_valid() && !matches!(s.revocation, Check::Invalid(_)))
            {
                return Err(PlatformError::BadReply(
                    "a signer's certificate is not valid",
                ));
            }
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

/// The SM3 digests a seal signature may cover: of `data`, or of each signature's ByteRange
/// in `pdf`.
fn seal_candidates(pdf: Option<PathBuf>, data: Option<PathBuf>) -> Result<Vec<Vec<u8>>> {
    use bidkey_crypto::cms::{HashAlgorithm, Hasher};
    let mut out = Vec::new();
    if let Some(d) = data {
        let mut h = Hasher::new(HashAlgorithm::Sm3);
        let mut f = BufReader::new(File::open(d)?);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = std::io::Read::read(&mut f, &mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        out.push(h.finish());
    }
    if let Some(p) = pdf {
        let report = pdf::verify(
            BufReader::new(File::open(&p)?),
            &VerifyOptions {
                anchor: None,
                tsa_anchor: None,
                crls: &[],
                now: now()?,
            },
        )?;
        for sig in report.signatures {
            let Some([a, b, c, d]) = sig.byte_range else {
                continue;
            };
            let mut f = File::open(&p)?;
            let mut h = Hasher::new(HashAlgorithm::Sm3);
            for (start, len) in [(a, b), (c, d)] {
                use std::io::{Read, Seek, SeekFrom};
                f.seek(SeekFrom::Start(start))?;
                let mut part = (&mut f).take(len);
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = part.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
            }
            out.push(h.finish());
        }
    }
    Ok(out)
}

fn verify_seal(
    file: &std::path::Path,
    pdf: Option<PathBuf>,
    data: Option<PathBuf>,
    root: &std::path::Path,
    ca: &[PathBuf],
    server: Option<String>,
    json: bool,
) -> Result<()> {
    use bidkey_platform::eseal;
    let der = std::fs::read(file)?;
    let trust = bidkey_platform::timestamp::TsaTrust {
        roots: vec![read_cert(root)?],
        intermediates: ca.iter().map(|p| read_cert(p)).collect::<Result<_>>()?,
    };
    let checked_data = pdf.is_some() || data.is_some();
    let candidates = seal_candidates(pdf, data)?;
    let mut report = eseal::verify(&der, None, &trust)?;
    let covered = candidates
        .iter()
        .find(|h| eseal::verify(&der, Some(h), &trust).is_ok());
    if checked_data && covered.is_none() {
        return Err(PlatformError::Seal(
            "dataHash is not the digest of the given data or of any signature of the PDF".into(),
        ));
    }
    if let Some(server) = server {
        let client = PlatformClient::new(&server, None, Duration::from_secs(20))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        report = rt.block_on(eseal::verify_online(
            &client,
            &der,
            covered.map(Vec::as_slice),
            &trust,
        ))?;
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report)
                .map_err(|_| PlatformError::Malformed("report"))?
        );
    } else {
        println!(
            "seal:            {} (esID {}, type {})",
            report.name, report.es_id, report.seal_type
        );
        println!("seal maker:      {}", report.maker);
        println!(
            "valid:           {} .. {}",
            report.valid_start, report.valid_end
        );
        println!(
            "picture:         {} x {} mm",
            report.width_mm, report.height_mm
        );
        println!("signer:          {}", report.signer);
        println!(
            "signer listed:   {}",
            if report.signer_listed { "yes" } else { "NO" }
        );
        println!(
            "used at:         {} ({})",
            report.used_at,
            if report.timestamped {
                "timestamped"
            } else {
                "claimed, no timestamp"
            }
        );
        println!(
            "valid when used: {}",
            if report.valid_when_used { "yes" } else { "NO" }
        );
        println!(
            "revoked:         {}",
            report
                .revoked_at
                .map_or("not revoked / not asked".into(), |t| format!("at {t}"))
        );
        println!(
            "data:            {}",
            if checked_data {
                "dataHash matches"
            } else {
                "not checked (give --pdf or --data)"
            }
        );
        println!("property:        {}", report.property_info);
    }
    eseal::refuse_unacceptable(&report)
}

fn verify_online(
    client: &PlatformClient,
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
        let pin = root.map(|r| r.fingerprint_sha256());
        let anchor = TrustAnchor::fetch(client, pin.as_ref()).await?;
        Verifier::new(anchor)
            .verify_online(client, platform_id, signed, at, expected)
            .await
    })
}

/// The platform's SM2 private key from a file of its hex (surrounding whitespace allowed).
fn read_platform_key(path: &std::path::Path) -> Result<PlatformKey> {
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path)?);
    let bytes = zeroize::Zeroizing::new(
        hex::decode(text.trim()).map_err(|_| PlatformError::Config("--platform-key: hex"))?,
    );
    let key = bidkey_crypto::sm2::Sm2PrivateKey::from_bytes(&bytes)
        .map_err(|_| PlatformError::Config("--platform-key: an SM2 private key"))?;
    Ok(PlatformKey::Sm2(key))
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

fn print_pdf_report(r: &pdf::PdfReport) {
    println!(
        "file: {} bytes, {} revision(s), {} signature(s)",
        r.file_len,
        r.revisions,
        r.signatures.len()
    );
    for (i, s) in r.signatures.iter().enumerate() {
        println!(
            "signature #{} field {:?}: {}",
            i + 1,
            s.field,
            if s.is_valid() { "VALID" } else { "NOT VALID" }
        );
        println!(
            "  intact: {}{}",
            s.intact,
            s.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        println!("  covers whole file: {}", s.covers_whole_file);
        println!(
            "  changes after signing: {:?}{}",
            s.later_changes,
            if s.later_change_details.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.later_change_details.join("; "))
            }
        );
        if let Some(signer) = &s.signer {
            print_signer(signer);
        }
    }
}

fn print_signer(s: &pdf::verify::SignerReport) {
    println!("  signer: {}", s.signer.as_deref().unwrap_or("-"));
    println!("  enterprise: {}", s.enterprise.as_deref().unwrap_or("-"));
    println!("  uscc: {}", s.uscc.as_deref().unwrap_or("-"));
    println!("  serial: {}", s.serial);
    println!(
        "  algorithm: {} / {}",
        s.signature_algorithm, s.digest_algorithm
    );
    println!(
        "  claimed signing time: {}",
        s.claimed_signing_time.map_or("-".into(), |t| t.to_string())
    );
    println!(
        "  timestamp: {}",
        s.timestamp.map_or("none".into(), |t| format!(
            "{t} by {}",
            s.timestamp_authority.as_deref().unwrap_or("?")
        ))
    );
    println!("  checked at: {}", s.checked_at);
    println!("  chain: {}", check_text(&s.chain));
    println!("  revocation: {}", check_text(&s.revocation));
    if let Some(e) = &s.electronic_seal {
        println!("  GB/T 38540 seal: {}", check_text(&e.check));
        if let Some(r) = &e.seal {
            println!(
                "    {} (esID {}, type {}), {}×{} mm, maker {}",
                r.name, r.es_id, r.seal_type, r.width_mm, r.height_mm, r.maker
            );
            println!(
                "    valid {} .. {}, used at {}{}, signer {}in the seal's list",
                r.valid_start,
                r.valid_end,
                r.used_at,
                if r.timestamped { " (timestamped)" } else { "" },
                if r.signer_listed { "" } else { "NOT " }
            );
        }
    }
}

fn check_text(c: &Check) -> String {
    match c {
        Check::Valid => "valid".into(),
        Check::Invalid(why) => format!("INVALID: {why}"),
        Check::NotChecked(why) => format!("not checked: {why}"),
    }
}

/// A CMS file: DER, or PEM (`PKCS7`, `CMS`).
fn read_cms(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)?;
    if !is_pem(&bytes) {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| PlatformError::Malformed("CMS PEM"))?;
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| PlatformError::Malformed("CMS PEM"))
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

//! 证书: applications and payment, enrolment under a PIN, the three lists, renewal, revocation,
//! PIN change, unlock, loss report, recovery onto this wallet, and signing with a key.

use super::Identity;
use crate::app::App;
use crate::error::{CliError, Result};
use crate::output::{Out, opt, when, word, yuan};
use bidkey_core::i18n::{Text, pair_state_label, status_label};
use bidkey_protocol::certs::{CertList, CertPairView, PairChange, PairState};
use bidkey_protocol::orders::Application;
use clap::Subcommand;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Apply for a personal certificate (个人证书).
    Apply,
    /// My applications and their orders.
    Applications,
    /// One application.
    Application { id: String },
    /// Pay an order (sandbox payment provider).
    Pay { order_id: String },
    /// Fetch the certificates of a paid application onto this wallet, under a new PIN.
    #[command(alias = "enroll")]
    Enrol { application_id: String },
    /// The certificate lists (生效中 / 即将过期 / 已失效); `--local` shows this wallet only.
    List {
        #[arg(long)]
        local: bool,
    },
    /// Renew (续期) in the last 30 days.
    Renew { serial: String },
    /// Apply again (重新申请) after expiry.
    Reapply { serial: String },
    /// Revoke (注销) a certificate pair with the PIN. Irreversible.
    Revoke { serial: String },
    /// Change the PIN of every key in this wallet, or of one pair with --serial (old PIN,
    /// then new PIN). The server checks the old PIN for every pair changed.
    ChangePin {
        /// Only the pair of this certificate (for pairs kept under different PINs).
        #[arg(long)]
        serial: Option<String>,
    },
    /// Unlock a key after 5 wrong PINs: real-name again and an unlock SMS code.
    Unlock {
        serial: String,
        #[command(flatten)]
        who: Identity,
        #[arg(long)]
        code: String,
    },
    /// Report loss (挂失) without logging in: one certificate or all of the account's.
    ReportLoss {
        #[arg(long)]
        phone: String,
        #[arg(long)]
        code: String,
        #[arg(long)]
        serial: Option<String>,
    },
    /// Lift a loss report (解挂) with a fresh loss-report SMS code.
    UndoLoss {
        serial: String,
        #[arg(long)]
        code: String,
    },
    /// Recover (找回) certificates onto this wallet: real-name and a recover SMS code. The
    /// application is reviewed by the CA and waits out a cooling-off period while the
    /// account's other devices and its number are told; then pay and `enrol` it.
    Recover {
        #[command(flatten)]
        who: Identity,
        #[arg(long)]
        code: String,
        /// Recover an enterprise's certificates instead of the personal ones.
        #[arg(long)]
        enterprise: Option<String>,
    },
    /// Cancel a recovery (取消找回) from any logged-in device of the account (the old phone,
    /// after the notice), until it enrols.
    CancelRecovery { application_id: String },
    /// Export a certificate of this wallet as PEM (to `--out` or stdout).
    Export {
        serial: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Decrypt an SM2 ciphertext (GM/T 0009 DER, e.g. a bid file's key) made for an
    /// encryption certificate; writes the plaintext to `--out` (0600) or prints it in hex.
    Decrypt {
        serial: String,
        #[arg(long = "in")]
        input: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a message or file with a signing key (SM2); prints the DER signature in hex.
    Sign {
        serial: String,
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        message: Option<String>,
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

pub async fn run(app: &App, cmd: Cmd) -> Result<()> {
    let (core, out) = (&app.core, &app.out);
    match cmd {
        Cmd::Apply => show_application(out, &core.apply_personal_certificate().await?),
        Cmd::Applications => {
            let apps = core.applications().await?;
            out.show(&apps, |apps| applications_table(out, apps))
        }
        Cmd::Application { id } => show_application(out, &core.application(&id).await?),
        Cmd::Pay { order_id } => {
            let order = core.pay_order(&order_id).await?;
            out.show(&order, |o| {
                format!(
                    "{} {} ¥{} — {}",
                    out.t("订单", "Order"),
                    o.id,
                    yuan(o.amount_fen),
                    status_label(o.status, out.lang)
                )
            })
        }
        Cmd::Enrol { application_id } => {
            // An interrupted enrolment of this application resumes under the PIN it was
            // started with.
            let resuming = core.unfinished_enrollments()?.contains(&application_id);
            let pin = if resuming {
                app.ask.secret(
                    "继续未完成的证书申领，请输入证书密码",
                    "Resuming an unfinished enrolment: PIN",
                )?
            } else {
                app.ask
                    .new_secret("设置证书密码（6-12位数字）", "New PIN (6-12 digits)")?
            };
            let pair = {
                let _spin = out.spinner(
                    "正在生成密钥并签发证书…",
                    "Making keys and fetching certificates…",
                );
                core.enroll(&application_id, &pin).await?
            };
            let json = serde_json::json!({
                "pair_id": pair.pair_id,
                "signing_serial": pair.signing_serial,
                "encryption_serial": pair.encryption_serial,
                "encryption_keys": pair.encryption_keys,
            });
            out.show(&json, |_| {
                format!(
                    "{}\n{}: {}\n{}: {}",
                    out.t("证书已下载到本钱包。", "Certificates are in this wallet."),
                    out.t("签名证书", "Signing"),
                    pair.signing_serial,
                    out.t("加密证书", "Encryption"),
                    pair.encryption_serial
                )
            })
        }
        Cmd::List { local } if local => {
            let certs: Vec<LocalCert> = core
                .local_certificates()?
                .into_iter()
                .map(|c| LocalCert {
                    serial: c.serial,
                    pair_id: c.pair_id,
                    usage: c.usage,
                    enterprise_id: c.enterprise_id,
                    enterprise_name: c.enterprise_name,
                    subject: c.subject,
                    not_before: c.not_before,
                    not_after: c.not_after,
                    status: c.status,
                })
                .collect();
            out.show(&certs, |certs| {
                out.table(
                    &[
                        out.t("序列号", "Serial"),
                        out.t("用途", "Usage"),
                        out.t("持有者", "Subject"),
                        out.t("企业", "Enterprise"),
                        out.t("有效期至", "Valid until"),
                        out.t("状态", "Status"),
                    ],
                    certs.iter().map(|c| {
                        vec![
                            c.serial.clone(),
                            c.usage.clone(),
                            c.subject.clone(),
                            opt(&c.enterprise_name),
                            when(c.not_after),
                            c.status.clone(),
                        ]
                    }),
                )
            })
        }
        Cmd::List { .. } => {
            let list = core.certificates().await?;
            out.show(&list, |l| cert_lists(out, l))
        }
        Cmd::Renew { serial } => show_application(out, &core.renew(&serial).await?),
        Cmd::Reapply { serial } => show_application(out, &core.reapply(&serial).await?),
        Cmd::Revoke { serial } => {
            app.ask.confirm(Text::RevokeWarning.get(out.lang))?;
            let pin = app.ask.secret("证书密码", "PIN")?;
            let change = {
                let _spin = out.spinner("正在注销…", "Revoking…");
                core.revoke(&serial, &pin).await?
            };
            show_change(out, &change)
        }
        Cmd::ChangePin { serial } => {
            let old = app.ask.secret("原证书密码", "Current PIN")?;
            let new = app
                .ask
                .new_secret("新证书密码（6-12位数字）", "New PIN (6-12 digits)")?;
            {
                let _spin = out.spinner("正在修改证书密码…", "Changing the PIN…");
                match serial {
                    Some(serial) => core.change_pin_of(&serial, &old, &new).await?,
                    None => core.change_pin(&old, &new).await?,
                }
            }
            out.done("证书密码已修改。", "PIN changed.")
        }
        Cmd::Unlock { serial, who, code } => {
            let pair = core.unlock(&serial, &who.request(), &code).await?;
            out.show(&pair, |p| cert_lists_table(out, std::slice::from_ref(p)))
        }
        Cmd::ReportLoss {
            phone,
            code,
            serial,
        } => show_change(
            out,
            &core.report_loss(&phone, &code, serial.as_deref()).await?,
        ),
        Cmd::UndoLoss { serial, code } => {
            show_change(out, &core.undo_loss_report(&serial, &code).await?)
        }
        Cmd::Recover {
            who,
            code,
            enterprise,
        } => show_application(
            out,
            &core
                .recover(&who.request(), &code, enterprise.as_deref())
                .await?,
        ),
        Cmd::CancelRecovery { application_id } => {
            show_application(out, &core.cancel_recovery(&application_id).await?)
        }
        Cmd::Export { serial, out: path } => {
            let cert = core
                .local_certificates()?
                .into_iter()
                .find(|c| c.serial == serial)
                .ok_or_else(|| {
                    bidkey_core::CoreError::NotFound(format!("certificate {serial} in this wallet"))
                })?;
            let pem = bidkey_crypto::x509::Cert::from_der(&cert.der)
                .and_then(|c| c.to_pem())
                .map_err(bidkey_core::CoreError::from)?;
            if let Some(path) = &path {
                std::fs::write(path, &pem)
                    .map_err(|e| CliError::io(path.display().to_string(), e))?;
            }
            out.show(&serde_json::json!({ "serial": serial, "pem": pem }), |_| {
                if path.is_some() {
                    String::new()
                } else {
                    pem.trim_end().to_owned()
                }
            })
        }
        Cmd::Decrypt {
            serial,
            input,
            out: path,
        } => {
            let ct =
                std::fs::read(&input).map_err(|e| CliError::io(input.display().to_string(), e))?;
            let pin = app.ask.secret("证书密码", "PIN")?;
            let plain = {
                let _spin = out.spinner("正在协同解密…", "Co-decrypting…");
                core.decrypt(&serial, &pin, &ct).await?
            };
            match &path {
                Some(p) => {
                    write_private(p, &plain)?;
                    out.done("已解密。", "Decrypted.")
                }
                None => {
                    let hex = zeroize::Zeroizing::new(hex::encode(plain.as_slice()));
                    out.show(
                        &serde_json::json!({ "serial": serial, "plaintext_hex": hex.as_str() }),
                        |_| hex.to_string(),
                    )
                }
            }
        }
        Cmd::Sign {
            serial,
            message,
            file,
        } => {
            let data = match (message, file) {
                (Some(m), _) => m.into_bytes(),
                (None, Some(f)) => {
                    std::fs::read(&f).map_err(|e| CliError::io(f.display().to_string(), e))?
                }
                (None, None) => return Err(CliError::Usage("--message or --file".into())),
            };
            let pin = app.ask.secret("证书密码", "PIN")?;
            let sig = {
                let _spin = out.spinner("正在协同签名…", "Co-signing…");
                core.sign_message(&serial, &pin, &data).await?
            };
            let hex = hex::encode(sig.to_der());
            out.show(
                &serde_json::json!({ "serial": serial, "signature_der_hex": hex }),
                |_| hex.clone(),
            )
        }
    }
}

/// Write decrypted data readable by its owner only.
fn write_private(path: &std::path::Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| CliError::io(path.display().to_string(), e))?;
    f.write_all(data)
        .map_err(|e| CliError::io(path.display().to_string(), e))
}

/// A wallet certificate as scripts see it (the DER stays in the wallet).
#[derive(Debug, Serialize)]
struct LocalCert {
    serial: String,
    pair_id: String,
    usage: String,
    enterprise_id: Option<String>,
    enterprise_name: Option<String>,
    subject: String,
    not_before: i64,
    not_after: i64,
    status: String,
}

pub fn show_application(out: &Out, app: &Application) -> Result<()> {
    out.show(app, |a| {
        let mut s = format!(
            "{}: {} ({}) — {}",
            out.t("申请", "Application"),
            a.id,
            word(&a.kind),
            status_label(a.status, out.lang)
        );
        if let Some(o) = &a.order {
            s.push_str(&format!(
                "\n{}: {} ¥{} — {}",
                out.t("订单", "Order"),
                o.id,
                yuan(o.amount_fen),
                status_label(o.status, out.lang)
            ));
        }
        if let Some(r) = &a.reason {
            s.push_str(&format!("\n{}: {r}", out.t("原因", "Reason")));
        }
        s.push_str(&recovery_note(out, a));
        s
    })
}

/// For a recovery: where it stands (review, cooling-off until when, cancelled) and how to
/// cancel it. The end of the cooling-off is shown as the server set it; the server judges
/// it by its own clock, so this one does not compare it with the computer's.
fn recovery_note(out: &Out, a: &Application) -> String {
    use bidkey_protocol::orders::{ApplicationKind, Status};
    if a.kind != ApplicationKind::Recover {
        return String::new();
    }
    let until = a
        .not_before
        .map(|t| format!("\n{}: {}", out.t("等待期至", "Cooling-off until"), when(t)))
        .unwrap_or_default();
    let cancel = format!(
        "\n{} bidkey certs cancel-recovery {}",
        out.t(
            "如非本人操作，可在其他设备上取消：",
            "Not you? Cancel it on another device:"
        ),
        a.id
    );
    match a.status {
        Status::PendingReview => format!(
            "\n{}\n{}{until}{cancel}",
            Text::RecoveryInReview.get(out.lang),
            Text::RecoveryCoolingOff.get(out.lang)
        ),
        Status::AwaitingPayment | Status::Paid => cancel,
        Status::Closed => format!("\n{}", Text::RecoveryCancelled.get(out.lang)),
        _ => String::new(),
    }
}

pub fn applications_table(out: &Out, apps: &[Application]) -> String {
    out.table(
        &[
            out.t("申请", "Application"),
            out.t("类型", "Kind"),
            out.t("状态", "Status"),
            out.t("企业", "Enterprise"),
            out.t("订单", "Order"),
            out.t("金额", "Amount"),
            out.t("时间", "Created"),
        ],
        apps.iter().map(|a| {
            vec![
                a.id.clone(),
                word(&a.kind),
                status_label(a.status, out.lang).to_owned(),
                opt(&a.enterprise_name),
                a.order.as_ref().map(|o| o.id.clone()).unwrap_or("-".into()),
                a.order
                    .as_ref()
                    .map(|o| format!("¥{}", yuan(o.amount_fen)))
                    .unwrap_or("-".into()),
                when(a.created_at),
            ]
        }),
    )
}

fn cert_lists(out: &Out, l: &CertList) -> String {
    [
        (pair_state_label(PairState::InForce, out.lang), &l.in_force),
        (pair_state_label(PairState::Expiring, out.lang), &l.expiring),
        (out.t("已失效", "Invalid"), &l.invalid),
    ]
    .into_iter()
    .map(|(title, pairs)| format!("{title}\n{}", cert_lists_table(out, pairs)))
    .collect::<Vec<_>>()
    .join("\n\n")
}

fn cert_lists_table(out: &Out, pairs: &[CertPairView]) -> String {
    out.table(
        &[
            out.t("签名证书", "Signing"),
            out.t("加密证书", "Encryption"),
            out.t("持有者", "Subject"),
            out.t("状态", "State"),
            out.t("有效期至", "Valid until"),
            out.t("本机", "Here"),
            out.t("剩余次数", "PIN tries"),
        ],
        pairs.iter().map(|p| {
            let serial = |c: &Option<bidkey_protocol::certs::CertInfo>| {
                c.as_ref().map(|c| c.serial.clone()).unwrap_or("-".into())
            };
            let subject = p
                .enterprise_name
                .clone()
                .or_else(|| p.signing.as_ref().map(|c| c.subject.clone()))
                .unwrap_or("-".into());
            vec![
                serial(&p.signing),
                serial(&p.encryption),
                subject,
                if p.key_locked {
                    out.t("已锁定", "locked").to_owned()
                } else {
                    word(&p.state)
                },
                when(p.not_after),
                if p.this_device { "✓" } else { "" }.to_owned(),
                p.pin_tries_left.to_string(),
            ]
        }),
    )
}

fn show_change(out: &Out, change: &PairChange) -> Result<()> {
    out.show(change, |c| {
        format!(
            "{}: {} — {}",
            out.t("证书", "Certificates"),
            c.serials.join(", "),
            word(&c.state)
        )
    })
}

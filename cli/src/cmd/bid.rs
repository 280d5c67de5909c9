//! 投标文件: encrypt a bid file before upload (issue 17). The server names the recipients
//! (every member the enterprise granted for the platform); the platform receives only the
//! ciphertext.

use crate::app::App;
use crate::error::{CliError, Result};
use bidkey_core::flows::bids::BidTarget;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Encrypt FILE for one tender on one platform, to every member of the enterprise
    /// granted for that platform; writes FILE.bid (or `--out`), ready to upload.
    Encrypt {
        /// The tender (招标项目) id on the platform.
        #[arg(long)]
        tender: String,
        /// The trading platform's id (see `bidkey platforms list`).
        #[arg(long)]
        platform: String,
        /// The enterprise bidding.
        #[arg(long)]
        enterprise: String,
        /// k-of-n: any K of the recipients together open the bid (Shamir shares of the
        /// file key); without it any one recipient does.
        #[arg(long)]
        threshold: Option<u8>,
        /// Where to write the encrypted file (default: FILE.bid; written under a temporary
        /// name and renamed when complete).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The plaintext bid file.
        file: PathBuf,
    },
    /// 解密自检: prove with the PIN that FILE (as uploaded) will open at the opening; the key
    /// stays on this machine. Exits non-zero with the reason when it would not.
    Check {
        /// The encrypted bid file (e.g. downloaded back from the platform).
        file: PathBuf,
    },
    /// 预授权开标: authorise with the PIN the opening of FILE (as uploaded) on its platform at
    /// or after OPENING_AT (Unix seconds, judged by the server's clock), without this
    /// wallet at the opening. For a k-of-n bid: this wallet's own share; the bid opens
    /// without phones once k holders have pre-authorised.
    Preauth {
        #[arg(long)]
        opening_at: i64,
        file: PathBuf,
    },
    /// This account's pre-authorisations and what became of them (released, withdrawn).
    Preauths,
    /// Withdraw a pre-authorisation before its opening time.
    Withdraw { id: String },
    /// The recipients a bid for the platform would be encrypted to.
    Recipients {
        #[arg(long)]
        platform: String,
        #[arg(long)]
        enterprise: String,
    },
}

pub async fn run(app: &App, cmd: Cmd) -> Result<()> {
    let (core, out) = (&app.core, &app.out);
    match cmd {
        Cmd::Preauth { opening_at, file } => {
            let pin = app.ask.secret("证书密码", "PIN")?;
            let p = core.preauthorize_opening(&file, &pin, opening_at).await?;
            out.show(&p, |p| {
                format!(
                    "{} {} ({} {})",
                    out.t("已预授权开标：", "Opening pre-authorised:"),
                    p.file_name,
                    out.t("开标时间", "opening at"),
                    p.opening_at
                )
            })
        }
        Cmd::Preauths => {
            let list = core.preauthorizations().await?;
            out.show(&list, |l| {
                out.table(
                    &[
                        "ID",
                        out.t("文件", "File"),
                        out.t("项目", "Tender"),
                        out.t("开标时间", "Opening at"),
                        out.t("状态", "State"),
                    ],
                    l.iter().map(|p| {
                        let state = match (p.released_at, p.withdrawn_at) {
                            (Some(t), _) => {
                                format!("{} {t}", out.t("已发放给平台", "released to the platform"))
                            }
                            (None, Some(t)) => format!("{} {t}", out.t("已撤回", "withdrawn")),
                            (None, None) => out.t("待开标", "waiting for the opening").to_owned(),
                        };
                        vec![
                            p.id.clone(),
                            p.file_name.clone(),
                            p.tender_id.clone(),
                            p.opening_at.to_string(),
                            state,
                        ]
                    }),
                )
            })
        }
        Cmd::Withdraw { id } => {
            let p = core.withdraw_preauthorization(&id).await?;
            out.show(&p, |_| {
                out.t("已撤回预授权。", "Pre-authorisation withdrawn.")
                    .to_owned()
            })
        }
        Cmd::Check { file } => {
            let pin = app.ask.secret("证书密码", "PIN")?;
            match core.self_check_bid_file(&file, &pin).await? {
                Ok(c) => {
                    let report = serde_json::json!({
                        "ok": true,
                        "recipient_serial": c.recipient_serial,
                        "tender_id": c.tender_id,
                        "platform_id": c.platform_id,
                        "binding_hash": c.binding_hash,
                        "plaintext_bytes": c.plaintext_len,
                        "share_only": c.share_only,
                        "checked_at": c.checked_at,
                    });
                    out.show(&report, |_| {
                        format!(
                            "{} ✓ {} {}",
                            out.t("可解密", "Will open"),
                            out.t("证书", "certificate"),
                            c.recipient_serial
                        )
                    })
                }
                Err(f) => Err(CliError::Usage(out.t(&f.zh, &f.en).to_owned())),
            }
        }
        Cmd::Recipients {
            platform,
            enterprise,
        } => {
            let list = core.bid_recipients(&enterprise, &platform).await?;
            out.show(&list, |l| {
                out.table(
                    &[
                        out.t("人员", "Member"),
                        out.t("加密证书", "Encryption certificate"),
                    ],
                    l.iter().map(|r| {
                        vec![
                            r.real_name.clone().unwrap_or_else(|| r.account_id.clone()),
                            r.serial.clone(),
                        ]
                    }),
                )
            })
        }
        Cmd::Encrypt {
            tender,
            platform,
            enterprise,
            threshold,
            out: dest,
            file,
        } => {
            let dest = dest.unwrap_or_else(|| {
                let mut p = file.clone().into_os_string();
                p.push(".bid");
                PathBuf::from(p)
            });
            let file_name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| CliError::Usage("FILE has no file name".into()))?;
            let enc = core
                .encrypt_bid_file(
                    &BidTarget {
                        threshold,
                        enterprise_id: enterprise,
                        platform_id: platform,
                        tender_id: tender,
                        file_name,
                    },
                    &file,
                    &dest,
                )
                .await?;
            let report = serde_json::json!({
                "out": dest.display().to_string(),
                "recipients": enc.recipients.iter().map(|r| serde_json::json!({
                    "account_id": r.account_id,
                    "real_name": r.real_name,
                    "serial": r.serial,
                })).collect::<Vec<_>>(),
                "binding_hash": enc.binding_hash,
                "plaintext_bytes": enc.plaintext_len,
                "chunks": enc.chunks,
            });
            out.show(&report, |_| {
                let names: Vec<String> = enc
                    .recipients
                    .iter()
                    .map(|r| r.real_name.clone().unwrap_or_else(|| r.account_id.clone()))
                    .collect();
                format!(
                    "{} {}\n{} {}",
                    out.t("已加密：", "Encrypted:"),
                    dest.display(),
                    out.t("可解密人员：", "Can be opened by:"),
                    names.join(", ")
                )
            })
        }
    }
}

//! 企业: search by name or USCC, claim with materials, micro-payment verification, join, my
//! enterprises and messages.

use super::certs::show_application;
use crate::app::App;
use crate::error::{CliError, Result};
use crate::output::{Out, opt, when, word, yuan};
use bidkey_core::i18n::{micropayment_instructions, micropayment_status};
use bidkey_protocol::enterprises::{EnterpriseInfo, Micropayment, MicropaymentStatus};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Search by a part of the name or by the 18-character USCC (统一社会信用代码).
    Search { query: String },
    /// Claim an enterprise (认领企业) as its admin, with 1 to 5 materials (PNG, JPEG or PDF).
    Claim {
        #[arg(long)]
        uscc: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        legal_rep: Option<String>,
        /// A material file (营业执照, 授权书 ...); repeat for several.
        #[arg(long = "material", required = true)]
        materials: Vec<PathBuf>,
    },
    /// Verify an enterprise by a transfer from its account (对公打款认证).
    #[command(subcommand)]
    Micropay(Micropay),
    /// Ask the admin of a claimed enterprise to join as staff (加入企业).
    Join { enterprise_id: String },
    /// The enterprises I belong to, with my role.
    Mine,
    /// One enterprise I belong to.
    Show { enterprise_id: String },
    /// My messages (消息), or those of one application.
    Messages {
        #[arg(long)]
        application: Option<String>,
    },
    /// Mark a message read.
    Read { message_id: String },
}

#[derive(Debug, Subcommand)]
pub enum Micropay {
    /// Ask what to transfer from the account ending in `--account-last6`.
    Request {
        #[arg(long)]
        uscc: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        account_last6: String,
    },
    /// Where a request stands; `--wait` polls until it matches or expires.
    Status {
        id: String,
        #[arg(long)]
        wait: bool,
    },
    /// My micro-payment requests.
    List,
}

pub async fn run(app: &App, cmd: Cmd) -> Result<()> {
    let (core, out) = (&app.core, &app.out);
    match cmd {
        Cmd::Search { query } => {
            let found = core.search_enterprises(&query).await?;
            out.show(&found, |f| {
                out.table(
                    &[
                        "ID",
                        out.t("统一社会信用代码", "USCC"),
                        out.t("名称", "Name"),
                        out.t("已认领", "Claimed"),
                        out.t("我的角色", "My role"),
                        out.t("可操作", "Actions"),
                    ],
                    f.results.iter().map(|h| {
                        vec![
                            opt(&h.id),
                            h.uscc.clone(),
                            opt(&h.name),
                            yes_no(out, h.claimed),
                            h.my_role.as_ref().map(word).unwrap_or("-".into()),
                            h.actions.iter().map(word).collect::<Vec<_>>().join(", "),
                        ]
                    }),
                )
            })
        }
        Cmd::Claim {
            uscc,
            name,
            legal_rep,
            materials,
        } => {
            let files = materials
                .iter()
                .map(|p| read_material(p))
                .collect::<Result<Vec<_>>>()?;
            let application = core
                .claim_enterprise(&uscc, &name, legal_rep.as_deref(), files)
                .await?;
            show_application(out, &application)
        }
        Cmd::Micropay(Micropay::Request {
            uscc,
            name,
            account_last6,
        }) => {
            let mp = core
                .request_micropayment(&uscc, &name, &account_last6)
                .await?;
            show_micropayment(out, &mp)
        }
        Cmd::Micropay(Micropay::Status { id, wait }) => {
            let mut mp = core.micropayment(&id).await?;
            if wait {
                let _spin = out.spinner("等待银行到账…", "Waiting for the transfer…");
                while mp.status == MicropaymentStatus::Pending {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    mp = core.micropayment(&id).await?;
                }
            }
            show_micropayment(out, &mp)
        }
        Cmd::Micropay(Micropay::List) => {
            let list = core.micropayments().await?;
            out.show(&list, |l| {
                out.table(
                    &[
                        "ID",
                        out.t("企业", "Enterprise"),
                        out.t("金额", "Amount"),
                        out.t("附言", "Remark"),
                        out.t("状态", "Status"),
                        out.t("截止", "Deadline"),
                    ],
                    l.iter().map(|m| {
                        vec![
                            m.id.clone(),
                            m.enterprise_name.clone(),
                            format!("¥{}", yuan(m.amount_fen)),
                            m.reference.clone(),
                            word(&m.status),
                            when(m.expires_at),
                        ]
                    }),
                )
            })
        }
        Cmd::Join { enterprise_id } => {
            show_application(out, &core.join_enterprise(&enterprise_id).await?)
        }
        Cmd::Mine => {
            let mine = core.my_enterprises().await?;
            out.show(&mine, |m| enterprises_table(out, m))
        }
        Cmd::Show { enterprise_id } => {
            let e = core.enterprise(&enterprise_id).await?;
            out.show(&e, |e| enterprises_table(out, std::slice::from_ref(e)))
        }
        Cmd::Messages { application } => {
            let messages = match application {
                Some(id) => core.application_messages(&id).await?,
                None => core.messages().await?,
            };
            out.show(&messages, |m| {
                out.table(
                    &[
                        "ID",
                        out.t("时间", "Time"),
                        out.t("已读", "Read"),
                        out.t("内容", "Text"),
                    ],
                    m.iter().map(|m| {
                        vec![
                            m.id.clone(),
                            when(m.created_at),
                            yes_no(out, m.read),
                            out.t(&m.text_zh, &m.text_en).to_owned(),
                        ]
                    }),
                )
            })
        }
        Cmd::Read { message_id } => {
            core.mark_message_read(&message_id).await?;
            out.done("已标记为已读。", "Marked read.")
        }
    }
}

/// (file name, content type, bytes) as the core takes a material; the type comes from the
/// extension and the core checks it against the file's first bytes.
pub(crate) fn read_material(path: &Path) -> Result<(String, String, Vec<u8>)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| CliError::Usage(format!("{} is not a file", path.display())))?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let content_type = match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "pdf" => "application/pdf",
        _ => {
            return Err(CliError::Usage(format!(
                "{}: materials must be .png, .jpg or .pdf",
                path.display()
            )));
        }
    };
    let data = std::fs::read(path).map_err(|e| CliError::io(path.display().to_string(), e))?;
    Ok((name, content_type.to_owned(), data))
}

fn show_micropayment(out: &Out, mp: &Micropayment) -> Result<()> {
    out.show(mp, |m| {
        let mut s = format!(
            "{}: {}\n{}",
            out.t("打款认证", "Micro-payment"),
            m.id,
            micropayment_status(m.status).get(out.lang)
        );
        if m.status == MicropaymentStatus::Pending {
            s.push('\n');
            s.push_str(&micropayment_instructions(m, out.lang));
        }
        s
    })
}

fn enterprises_table(out: &Out, list: &[EnterpriseInfo]) -> String {
    out.table(
        &[
            "ID",
            out.t("统一社会信用代码", "USCC"),
            out.t("名称", "Name"),
            out.t("法定代表人", "Legal rep."),
            out.t("我的角色", "My role"),
        ],
        list.iter().map(|e| {
            vec![
                e.id.clone(),
                e.uscc.clone(),
                e.name.clone(),
                opt(&e.legal_rep),
                word(&e.my_role),
            ]
        }),
    )
}

fn yes_no(out: &Out, b: bool) -> String {
    if b {
        out.t("是", "yes")
    } else {
        out.t("否", "no")
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_types_come_from_the_extension() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("licence.PDF");
        std::fs::write(&p, b"%PDF-1.4").expect("write");
        let (name, ty, data) = read_material(&p).expect("read");
        assert_eq!(
            (name.as_str(), ty.as_str(), data.len()),
            ("licence.PDF", "application/pdf", 8)
        );
        let bad = dir.path().join("x.txt");
        std::fs::write(&bad, b"x").expect("write");
        assert!(matches!(read_material(&bad), Err(CliError::Usage(_))));
    }
}

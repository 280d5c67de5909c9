//! 企业管理 for the admin: staff (人员管理), 转授管理员, 变更企业信息, grants (授权管理),
//! zones (专区) and seals (印章管理). The server checks the caller is the admin.
//!
//! Transferring the role, removing staff, granting and revoking grants, adding seals and
//! replacing seal images ask for the admin's certificate PIN (ADR 0018), as 注销 does.

use super::certs::show_application;
use crate::app::App;
use crate::error::{CliError, Result};
use crate::output::{Out, opt, when};
use bidkey_core::flows::admin::GrantFilter;
use bidkey_protocol::enterprises::Member;
use bidkey_protocol::platforms::{Grant, Seal};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Staff of an enterprise (人员管理).
    #[command(subcommand)]
    Staff(Staff),
    /// Hand the admin role to a staff member (转授管理员); you become staff.
    Transfer {
        enterprise_id: String,
        account_id: String,
    },
    /// Change the enterprise's name and/or legal representative (reviewed; certificates are
    /// re-issued).
    ChangeInfo {
        enterprise_id: String,
        #[arg(long, required_unless_present = "legal_rep")]
        name: Option<String>,
        #[arg(long)]
        legal_rep: Option<String>,
        /// Materials for the RA (工商变更通知书, the licence): up to 5 PNG, JPEG or PDF files.
        #[arg(long = "material")]
        materials: Vec<std::path::PathBuf>,
    },
    /// Grants of members' enterprise certificates for platforms (授权管理).
    #[command(subcommand)]
    Grants(Grants),
    /// The enterprise's zones on platforms (专区).
    #[command(subcommand)]
    Zones(Zones),
    /// Seals (印章管理).
    #[command(subcommand)]
    Seals(Seals),
}

#[derive(Debug, Subcommand)]
pub enum Staff {
    List {
        enterprise_id: String,
    },
    /// Invite someone by phone number.
    Add {
        enterprise_id: String,
        #[arg(long)]
        phone: String,
    },
    /// Remove a member; their certificates and grants for the enterprise are revoked.
    Remove {
        enterprise_id: String,
        account_id: String,
    },
    /// Join requests waiting for you.
    Requests {
        enterprise_id: String,
    },
    Approve {
        enterprise_id: String,
        application_id: String,
    },
    Reject {
        enterprise_id: String,
        application_id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Grants {
    /// Allow a member's certificate on a platform.
    Grant {
        enterprise_id: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        platform: String,
    },
    Revoke {
        enterprise_id: String,
        grant_id: String,
    },
    /// Filter by platform and/or person; `--all` includes revoked grants (history).
    List {
        enterprise_id: String,
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Zones {
    List {
        enterprise_id: String,
    },
    Bind {
        enterprise_id: String,
        platform_id: String,
    },
    Unbind {
        enterprise_id: String,
        platform_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Seals {
    /// Add a seal from a PNG image; it becomes a GB/T 38540 electronic seal once the CA
    /// approves it.
    Add {
        enterprise_id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        image: PathBuf,
        /// Seal type: 1 公章, 2 合同专用章, 3 投标专用章, 4 财务专用章, 5 other.
        #[arg(long, default_value_t = 1)]
        seal_type: u32,
        /// Printed size in millimetres, WIDTHxHEIGHT (e.g. 42x42).
        #[arg(long, default_value = "40x40")]
        size_mm: String,
        /// A member granted the seal (account id); repeat for several.
        #[arg(long = "holder")]
        holders: Vec<String>,
    },
    /// Revoke a seal (its electronic seal stops being usable; earlier sealings stay valid).
    Revoke {
        enterprise_id: String,
        seal_id: String,
    },
    List {
        enterprise_id: String,
    },
    Rename {
        enterprise_id: String,
        seal_id: String,
        name: String,
    },
    /// Replace a seal's image.
    Replace {
        enterprise_id: String,
        seal_id: String,
        #[arg(long)]
        image: PathBuf,
    },
    /// Save a seal's image to a file.
    Image {
        enterprise_id: String,
        seal_id: String,
        #[arg(long)]
        out: PathBuf,
    },
    Delete {
        enterprise_id: String,
        seal_id: String,
    },
}

/// The admin's certificate PIN, asked as every PIN is (or read with `--pin-stdin`): it
/// confirms the action on the co-signing server (ADR 0018).
fn admin_pin(app: &App) -> Result<zeroize::Zeroizing<String>> {
    app.ask
        .secret("证书密码（管理员确认）", "PIN (admin confirmation)")
}

pub async fn run(app: &App, cmd: Cmd) -> Result<()> {
    let (core, out) = (&app.core, &app.out);
    match cmd {
        Cmd::Staff(s) => staff(app, s).await,
        Cmd::Transfer {
            enterprise_id,
            account_id,
        } => {
            app.ask.confirm(out.t(
                "转授后您将成为普通员工。",
                "After the transfer you will be staff, not admin.",
            ))?;
            let pin = admin_pin(app)?;
            let members = core
                .transfer_admin(&enterprise_id, &account_id, &pin)
                .await?;
            out.show(&members, |m| members_table(out, m))
        }
        Cmd::ChangeInfo {
            enterprise_id,
            name,
            legal_rep,
            materials,
        } => {
            let files = materials
                .iter()
                .map(|p| super::enterprise::read_material(p))
                .collect::<Result<Vec<_>>>()?;
            app.ask
                .confirm(bidkey_core::i18n::Text::ChangeInfoWarning.get(out.lang))?;
            let change = core
                .change_enterprise_info_with_materials(
                    &enterprise_id,
                    name.as_deref(),
                    legal_rep.as_deref(),
                    files,
                )
                .await?;
            show_application(out, &change.application)
        }
        Cmd::Grants(Grants::Grant {
            enterprise_id,
            account,
            platform,
        }) => {
            let pin = admin_pin(app)?;
            let g = core
                .add_grant(&enterprise_id, &account, &platform, &pin)
                .await?;
            out.show(&g, |g| grants_table(out, std::slice::from_ref(g)))
        }
        Cmd::Grants(Grants::Revoke {
            enterprise_id,
            grant_id,
        }) => {
            let pin = admin_pin(app)?;
            let g = core.revoke_grant(&enterprise_id, &grant_id, &pin).await?;
            out.show(&g, |g| grants_table(out, std::slice::from_ref(g)))
        }
        Cmd::Grants(Grants::List {
            enterprise_id,
            platform,
            account,
            all,
        }) => {
            let filter = GrantFilter {
                platform_id: platform,
                account_id: account,
                include_revoked: all,
            };
            let list = core.grants(&enterprise_id, &filter).await?;
            out.show(&list, |l| grants_table(out, l))
        }
        Cmd::Zones(z) => zones(app, z).await,
        Cmd::Seals(s) => seals(app, s).await,
    }
}

async fn staff(app: &App, cmd: Staff) -> Result<()> {
    let (core, out) = (&app.core, &app.out);
    match cmd {
        Staff::List { enterprise_id } => {
            let m = core.staff(&enterprise_id).await?;
            out.show(&m, |m| members_table(out, m))
        }
        Staff::Add {
            enterprise_id,
            phone,
        } => show_application(out, &core.invite_staff(&enterprise_id, &phone).await?),
        Staff::Remove {
            enterprise_id,
            account_id,
        } => {
            let pin = admin_pin(app)?;
            let r = core.remove_staff(&enterprise_id, &account_id, &pin).await?;
            out.show(&r, |r| {
                format!(
                    "{} {}: {} {}, {} {}",
                    out.t("已移除", "Removed"),
                    r.account_id,
                    r.certificates_revoked,
                    out.t("张证书已注销", "certificates revoked"),
                    r.grants_revoked,
                    out.t("项授权已撤销", "grants revoked"),
                )
            })
        }
        Staff::Requests { enterprise_id } => {
            let list = core.join_requests(&enterprise_id).await?;
            out.show(&list, |l| {
                out.table(
                    &[
                        out.t("申请", "Application"),
                        out.t("账号", "Account"),
                        out.t("姓名", "Name"),
                        out.t("手机号", "Phone"),
                        out.t("时间", "Created"),
                    ],
                    l.iter().map(|r| {
                        vec![
                            r.application.id.clone(),
                            r.account_id.clone(),
                            opt(&r.real_name),
                            r.phone_masked.clone(),
                            when(r.application.created_at),
                        ]
                    }),
                )
            })
        }
        Staff::Approve {
            enterprise_id,
            application_id,
        } => show_application(
            out,
            &core.approve_join(&enterprise_id, &application_id).await?,
        ),
        Staff::Reject {
            enterprise_id,
            application_id,
            reason,
        } => show_application(
            out,
            &core
                .reject_join(&enterprise_id, &application_id, &reason)
                .await?,
        ),
    }
}

async fn zones(app: &App, cmd: Zones) -> Result<()> {
    let (core, out) = (&app.core, &app.out);
    let zones = match cmd {
        Zones::List { enterprise_id } => core.zones(&enterprise_id).await?,
        Zones::Bind {
            enterprise_id,
            platform_id,
        } => vec![core.bind_zone(&enterprise_id, &platform_id).await?],
        Zones::Unbind {
            enterprise_id,
            platform_id,
        } => {
            core.unbind_zone(&enterprise_id, &platform_id).await?;
            return out.done("专区已解除。", "Zone removed.");
        }
    };
    out.show(&zones, |z| {
        out.table(
            &[
                "ID",
                out.t("平台", "Platform"),
                out.t("平台ID", "Platform ID"),
                out.t("地址", "Origin"),
                out.t("时间", "Created"),
            ],
            z.iter().map(|z| {
                vec![
                    z.id.clone(),
                    z.platform_name.clone(),
                    z.platform_id.clone(),
                    z.origin.clone(),
                    when(z.created_at),
                ]
            }),
        )
    })
}

async fn seals(app: &App, cmd: Seals) -> Result<()> {
    let (core, out) = (&app.core, &app.out);
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| CliError::io(p.display().to_string(), e));
    let seals = match cmd {
        Seals::Add {
            enterprise_id,
            name,
            image,
            seal_type,
            size_mm,
            holders,
        } => {
            let size = size_mm
                .split_once(['x', 'X', '×'])
                .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
                .ok_or(CliError::Usage(
                    "--size-mm is WIDTHxHEIGHT in millimetres".into(),
                ))?;
            let png = read(&image)?;
            let pin = admin_pin(app)?;
            vec![
                core.add_electronic_seal(
                    &enterprise_id,
                    &name,
                    png,
                    seal_type,
                    size,
                    holders,
                    &pin,
                )
                .await?,
            ]
        }
        Seals::Revoke {
            enterprise_id,
            seal_id,
        } => vec![core.revoke_seal(&enterprise_id, &seal_id).await?],
        Seals::List { enterprise_id } => core.seals(&enterprise_id).await?,
        Seals::Rename {
            enterprise_id,
            seal_id,
            name,
        } => vec![core.rename_seal(&enterprise_id, &seal_id, &name).await?],
        Seals::Replace {
            enterprise_id,
            seal_id,
            image,
        } => {
            let png = read(&image)?;
            let pin = admin_pin(app)?;
            vec![
                core.replace_seal_image(&enterprise_id, &seal_id, png, &pin)
                    .await?,
            ]
        }
        Seals::Image {
            enterprise_id,
            seal_id,
            out: path,
        } => {
            let png = core.seal_image(&enterprise_id, &seal_id).await?;
            std::fs::write(&path, png).map_err(|e| CliError::io(path.display().to_string(), e))?;
            return out.done("印章图片已保存。", "Seal image saved.");
        }
        Seals::Delete {
            enterprise_id,
            seal_id,
        } => {
            core.delete_seal(&enterprise_id, &seal_id).await?;
            return out.done("印章已删除。", "Seal deleted.");
        }
    };
    out.show(&seals, |s| seals_table(out, s))
}

fn members_table(out: &Out, members: &[Member]) -> String {
    out.table(
        &[
            out.t("账号", "Account"),
            out.t("姓名", "Name"),
            out.t("手机号", "Phone"),
            out.t("角色", "Role"),
            out.t("加入时间", "Since"),
        ],
        members.iter().map(|m| {
            vec![
                m.account_id.clone(),
                opt(&m.real_name),
                m.phone_masked.clone(),
                crate::output::word(&m.role),
                when(m.since),
            ]
        }),
    )
}

fn grants_table(out: &Out, grants: &[Grant]) -> String {
    out.table(
        &[
            "ID",
            out.t("账号", "Account"),
            out.t("姓名", "Name"),
            out.t("平台", "Platform"),
            out.t("授权时间", "Granted"),
            out.t("撤销时间", "Revoked at"),
        ],
        grants.iter().map(|g| {
            vec![
                g.id.clone(),
                g.account_id.clone(),
                opt(&g.real_name),
                g.platform_name.clone(),
                when(g.created_at),
                g.revoked_at.map(when).unwrap_or("-".into()),
            ]
        }),
    )
}

fn seals_table(out: &Out, seals: &[Seal]) -> String {
    out.table(
        &[
            "ID",
            out.t("名称", "Name"),
            out.t("尺寸", "Size"),
            out.t("字节", "Bytes"),
            out.t("状态", "Status"),
            "esID",
            out.t("更新时间", "Updated"),
        ],
        seals.iter().map(|s| {
            vec![
                s.id.clone(),
                s.name.clone(),
                format!(
                    "{}×{} px, {}×{} mm",
                    s.width, s.height, s.width_mm, s.height_mm
                ),
                s.size.to_string(),
                format!("{:?}", s.status).to_lowercase(),
                opt(&s.es_id),
                when(s.updated_at),
            ]
        }),
    )
}

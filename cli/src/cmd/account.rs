//! 账号: SMS codes, sign-up, login by SMS or password, logout, password, phone change,
//! real-name, and who is logged in.

use super::Identity;
use crate::app::App;
use crate::error::{CliError, Result};
use crate::output::{Out, opt};
use bidkey_protocol::accounts::{AccountInfo, SmsPurpose};
use clap::{Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Send an SMS code (短信验证码) for one purpose.
    #[command(subcommand)]
    Sms(Sms),
    /// Create an account with a phone number and its sign-up SMS code.
    SignUp {
        #[arg(long)]
        phone: String,
        #[arg(long)]
        code: String,
    },
    /// Log in with an SMS code (`--code`) or the password (prompted).
    Login {
        #[arg(long)]
        phone: String,
        /// A login SMS code; without it, the password is asked.
        #[arg(long)]
        code: Option<String>,
    },
    /// Log out of this wallet (keys and certificates stay).
    Logout,
    /// The login password.
    #[command(subcommand)]
    Password(Password),
    /// Move the account to a new phone number: a code sent to the new number, and either a
    /// code sent to the current number (`--old-code`, purpose change-phone-old) or the login
    /// password (asked). Other devices are logged out.
    ChangePhone {
        #[arg(long)]
        phone: String,
        #[arg(long)]
        code: String,
        #[arg(long)]
        old_code: Option<String>,
    },
    /// Real-name verification (实名认证).
    RealName(Identity),
    /// The logged-in account (`--refresh` asks the server).
    Whoami {
        #[arg(long)]
        refresh: bool,
    },
    /// Drop cached lists and the local log (keys, certificates and login stay).
    ClearCache,
}

#[derive(Debug, Subcommand)]
pub enum Sms {
    /// Send a code to `--phone` for `--purpose`.
    Send {
        #[arg(long)]
        phone: String,
        #[arg(long, value_enum)]
        purpose: Purpose,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Purpose {
    SignUp,
    Login,
    ResetPassword,
    ChangePhone,
    Unlock,
    Recover,
    LossReport,
    /// To the current number, approving a change to a new one.
    ChangePhoneOld,
}

impl From<Purpose> for SmsPurpose {
    fn from(p: Purpose) -> Self {
        match p {
            Purpose::SignUp => SmsPurpose::Signup,
            Purpose::Login => SmsPurpose::Login,
            Purpose::ResetPassword => SmsPurpose::ResetPassword,
            Purpose::ChangePhone => SmsPurpose::ChangePhone,
            Purpose::Unlock => SmsPurpose::Unlock,
            Purpose::Recover => SmsPurpose::Recover,
            Purpose::LossReport => SmsPurpose::LossReport,
            Purpose::ChangePhoneOld => SmsPurpose::ChangePhoneOld,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Password {
    /// Set the password, or change it (the old one is asked first if there is one).
    Set,
    /// Reset a forgotten password with a reset SMS code (no login needed).
    Reset {
        #[arg(long)]
        phone: String,
        #[arg(long)]
        code: String,
    },
}

pub async fn run(app: &App, cmd: Cmd) -> Result<()> {
    let (core, out) = (&app.core, &app.out);
    match cmd {
        Cmd::Sms(Sms::Send { phone, purpose }) => {
            let sent = core.send_sms_code(&phone, purpose.into()).await?;
            out.show(&sent, |s| {
                if out.zh() {
                    format!(
                        "验证码已发送，{}秒内有效，{}秒后可重发。",
                        s.expires_in, s.resend_after
                    )
                } else {
                    format!(
                        "Code sent: valid for {} s, resend after {} s.",
                        s.expires_in, s.resend_after
                    )
                }
            })
        }
        Cmd::SignUp { phone, code } => {
            let account = core.sign_up(&phone, &code, &app.device_name).await?;
            show_account(out, &account)
        }
        Cmd::Login { phone, code } => {
            let account = match code {
                Some(code) => core.login_with_sms(&phone, &code, &app.device_name).await?,
                None => {
                    let password = app.ask.secret("登录密码", "Password")?;
                    core.login_with_password(&phone, &password, &app.device_name)
                        .await?
                }
            };
            show_account(out, &account)
        }
        Cmd::Logout => {
            core.log_out().await?;
            out.done("已退出登录。", "Logged out.")
        }
        Cmd::Password(Password::Set) => {
            let account = core.account()?.ok_or(bidkey_core::CoreError::NotLoggedIn)?;
            let old = if account.has_password {
                Some(app.ask.secret("原密码", "Current password")?)
            } else {
                None
            };
            let new = app
                .ask
                .new_secret("新密码（至少8位）", "New password (8+ characters)")?;
            core.set_password(old.as_deref().map(String::as_str), &new)
                .await?;
            out.done("密码已设置。", "Password set.")
        }
        Cmd::Password(Password::Reset { phone, code }) => {
            let new = app
                .ask
                .new_secret("新密码（至少8位）", "New password (8+ characters)")?;
            core.reset_password(&phone, &code, &new).await?;
            out.done("密码已重置。", "Password reset.")
        }
        Cmd::ChangePhone {
            phone,
            code,
            old_code,
        } => {
            use bidkey_core::flows::recovery::PhoneChangeProof;
            let proof = match old_code {
                Some(c) => PhoneChangeProof::OldNumberCode(c),
                None => PhoneChangeProof::Password(app.ask.secret("登录密码", "Login password")?),
            };
            let account = core.change_phone(&phone, &code, &proof).await?;
            show_account(out, &account)
        }
        Cmd::RealName(who) => {
            let account = core.verify_real_name(&who.request()).await?;
            show_account(out, &account)
        }
        Cmd::Whoami { refresh } => {
            let account = if refresh {
                Some(core.refresh_account().await?)
            } else {
                core.account()?
            };
            match account {
                Some(a) => show_account(out, &a),
                None => Err(CliError::Core(bidkey_core::CoreError::NotLoggedIn)),
            }
        }
        Cmd::ClearCache => {
            core.clear_cache()?;
            out.done("缓存已清除。", "Cache cleared.")
        }
    }
}

fn show_account(out: &Out, account: &AccountInfo) -> Result<()> {
    out.show(account, |a| {
        let verified = match &a.real_name {
            Some(name) => format!("{name} ({})", opt(&a.id_number_masked)),
            None => out.t("未实名", "not verified").into(),
        };
        format!(
            "{}: {}\n{}: {}\n{}: {}\n{}: {}",
            out.t("账号", "Account"),
            a.id,
            out.t("手机号", "Phone"),
            a.phone_masked,
            out.t("实名", "Real name"),
            verified,
            out.t("登录密码", "Password"),
            if a.has_password {
                out.t("已设置", "set")
            } else {
                out.t("未设置", "not set")
            },
        )
    })
}

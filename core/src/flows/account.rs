//! Sign-up, login, passwords, phone change, real-name verification, log out.

use crate::Bidkey;
use crate::error::{CoreError, Result, StorageError};
use crate::wallet::StoredSession;
use bidkey_protocol::accounts::*;

impl Bidkey {
    /// Send an SMS code to `phone` for `purpose`.
    pub async fn send_sms_code(&self, phone: &str, purpose: SmsPurpose) -> Result<SendSmsResponse> {
        check_phone(phone)?;
        self.api
            .post(
                "/v1/sms/send",
                &SendSmsRequest {
                    phone: phone.to_owned(),
                    purpose,
                },
            )
            .await
    }

    /// Register a new phone number with the code sent for `SmsPurpose::Signup`.
    pub async fn sign_up(&self, phone: &str, code: &str, device_name: &str) -> Result<AccountInfo> {
        check_phone(phone)?;
        let s: Session = self
            .api
            .post(
                "/v1/accounts/signup",
                &sms_login(phone, code, device_name, None),
            )
            .await?;
        self.remember(s)
    }

    /// Log in with an SMS code (`SmsPurpose::Login`); a new number is registered.
    pub async fn login_with_sms(
        &self,
        phone: &str,
        code: &str,
        device_name: &str,
    ) -> Result<AccountInfo> {
        check_phone(phone)?;
        let s: Session = self
            .api
            .post(
                "/v1/sessions/sms",
                &sms_login(phone, code, device_name, self.wallet.meta(DEVICE_KEY)?),
            )
            .await?;
        self.remember(s)
    }

    /// Log in with the account password.
    pub async fn login_with_password(
        &self,
        phone: &str,
        password: &str,
        device_name: &str,
    ) -> Result<AccountInfo> {
        check_phone(phone)?;
        let s: Session = self
            .api
            .post(
                "/v1/sessions/password",
                &PasswordLoginRequest {
                    phone: phone.to_owned(),
                    password: password.to_owned(),
                    device_name: Some(device_name.to_owned()),
                    device_id: self.wallet.meta(DEVICE_KEY)?,
                },
            )
            .await?;
        self.remember(s)
    }

    fn remember(&self, s: Session) -> Result<AccountInfo> {
        let json =
            serde_json::to_string(&s.account).map_err(|e| StorageError::json("account", e))?;
        self.wallet.save_session(&StoredSession {
            account_id: s.account.id.clone(),
            device_id: s.device_id.clone(),
            token: s.token.clone(),
            expires_at: s.expires_at,
            account_json: json,
        })?;
        // Certificates are bound to this device; later logins on this phone reuse its id.
        self.wallet.set_meta(DEVICE_KEY, &s.device_id)?;
        self.api.set_token(Some(s.token));
        self.wallet.log(self.now(), "logged in")?;
        Ok(s.account)
    }

    /// Log out: the server forgets this login; keys and certificates stay in the wallet.
    pub async fn log_out(&self) -> Result<()> {
        if self.api.has_token() {
            // A failed server call must not keep the user logged in locally.
            let r: Result<serde_json::Value> = self.api.delete("/v1/sessions/current").await;
            if let Err(e) = r
                && !matches!(e, CoreError::NotLoggedIn | CoreError::Network(_))
            {
                return Err(e);
            }
        }
        self.api.set_token(None);
        self.wallet.clear_session()
    }

    /// Set the first password (old = None) or change it.
    pub async fn set_password(&self, old: Option<&str>, new: &str) -> Result<()> {
        self.require_login()?;
        if new.chars().count() < 8 {
            return Err(CoreError::InvalidInput { field: "password" });
        }
        let _: serde_json::Value = self
            .api
            .put(
                "/v1/me/password",
                &SetPasswordRequest {
                    old_password: old.map(str::to_owned),
                    new_password: new.to_owned(),
                },
            )
            .await?;
        self.refresh_account().await.map(|_| ())
    }

    /// Forgotten password: proven by an SMS code (`SmsPurpose::ResetPassword`).
    pub async fn reset_password(&self, phone: &str, code: &str, new: &str) -> Result<()> {
        check_phone(phone)?;
        let _: serde_json::Value = self
            .api
            .post(
                "/v1/accounts/reset-password",
                &ResetPasswordRequest {
                    phone: phone.to_owned(),
                    code: code.to_owned(),
                    new_password: new.to_owned(),
                },
            )
            .await?;
        Ok(())
    }

    /// Change the phone number; `code` went to the new number (`SmsPurpose::ChangePhone`),
    /// and `proof` shows the change comes from the account's holder, not only from a login:
    /// the password, or a code sent to the current number (`SmsPurpose::ChangePhoneOld`).
    /// The other devices' logins end.
    pub async fn change_phone(
        &self,
        new_phone: &str,
        code: &str,
        proof: &crate::flows::recovery::PhoneChangeProof,
    ) -> Result<AccountInfo> {
        use crate::flows::recovery::PhoneChangeProof;
        self.require_login()?;
        check_phone(new_phone)?;
        let info: AccountInfo = self
            .api
            .put(
                "/v1/me/phone",
                &ChangePhoneRequest {
                    new_phone: new_phone.to_owned(),
                    code: code.to_owned(),
                    old_code: match proof {
                        PhoneChangeProof::OldNumberCode(c) => Some(c.clone()),
                        PhoneChangeProof::Password(_) => None,
                    },
                    password: match proof {
                        PhoneChangeProof::Password(p) => Some(String::clone(p)),
                        PhoneChangeProof::OldNumberCode(_) => None,
                    },
                },
            )
            .await?;
        self.store_account(&info)?;
        Ok(info)
    }

    /// Real-name verification by one of the three methods.
    pub async fn verify_real_name(&self, req: &RealNameRequest) -> Result<AccountInfo> {
        self.require_login()?;
        if req.name.trim().is_empty() {
            return Err(CoreError::InvalidInput { field: "name" });
        }
        if req.id_number.trim().len() != 18 {
            return Err(CoreError::InvalidInput { field: "ID number" });
        }
        let info: AccountInfo = self.api.post("/v1/me/realname", req).await?;
        self.store_account(&info)?;
        Ok(info)
    }

    /// Fetch the account from the server and remember it.
    pub async fn refresh_account(&self) -> Result<AccountInfo> {
        self.require_login()?;
        let info: AccountInfo = self.api.get("/v1/me").await?;
        self.store_account(&info)?;
        Ok(info)
    }

    fn store_account(&self, info: &AccountInfo) -> Result<()> {
        let json = serde_json::to_string(info).map_err(|e| StorageError::json("account", e))?;
        self.wallet.update_account_json(&json)
    }
}

/// Wallet meta key of this phone's device id at the server.
const DEVICE_KEY: &str = "device_id";

fn sms_login(
    phone: &str,
    code: &str,
    device_name: &str,
    device_id: Option<String>,
) -> SmsLoginRequest {
    SmsLoginRequest {
        phone: phone.to_owned(),
        code: code.trim().to_owned(),
        device_name: Some(device_name.to_owned()),
        device_id,
    }
}

fn check_phone(phone: &str) -> Result<()> {
    let b = phone.as_bytes();
    if b.len() == 11 && b.iter().all(u8::is_ascii_digit) && b[0] == b'1' {
        Ok(())
    } else {
        Err(CoreError::InvalidInput {
            field: "phone number",
        })
    }
}

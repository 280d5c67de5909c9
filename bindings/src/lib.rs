//! Bidkey for Kotlin and Swift: the phone core ([`bidkey_core::Bidkey`]) exported with
//! UniFFI.
//!
//! This crate holds no logic. Each exported method is a one-line delegation to the core;
//! FFI records are converted at the edge ([`convert`]), errors are mapped once
//! ([`error::BidkeyError`]), and the shell's hardware keystore comes in as a foreign trait
//! ([`keystore::DeviceKeystore`]). PINs and passwords are plain `String` parameters and
//! never appear in a record; key shares never leave the core. See `docs/bindings.md`.

pub mod bids;
pub mod convert;
pub mod convert_enterprise;
pub mod convert_platforms;
pub mod convert_scan;
pub mod enterprise;
pub mod error;
pub mod i18n;
pub mod keystore;
pub mod platforms;
pub mod scan;

use crate::convert::*;
use crate::error::BidkeyError;
use crate::keystore::{DeviceKeystore, KeystoreAdapter};
use std::sync::Arc;

uniffi::setup_scaffolding!("bidkey");

type Result<T, E = BidkeyError> = std::result::Result<T, E>;

/// The Bidkey phone core: one per wallet. Every network call is a `suspend` function in
/// Kotlin and `async` in Swift; call them from a coroutine / task, never the UI thread.
#[derive(Debug, uniffi::Object)]
pub struct Bidkey {
    pub(crate) core: bidkey_core::Bidkey,
}

#[uniffi::export(async_runtime = "tokio")]
impl Bidkey {
    /// Open the wallet in `config.wallet_dir`, wrapped by the app's `keystore`; a saved
    /// login is restored.
    #[uniffi::constructor]
    pub fn new(config: BidkeyConfig, keystore: Arc<dyn DeviceKeystore>) -> Result<Arc<Self>> {
        let core = bidkey_core::Bidkey::open(config.into(), Arc::new(KeystoreAdapter(keystore)))?;
        Ok(Arc::new(Self { core }))
    }

    // ------------------------------------------------------------ settings

    /// The language the person chose (kept in the wallet), or null before any choice:
    /// follow the phone's.
    pub fn language(&self) -> Result<Option<crate::i18n::Lang>> {
        Ok(self.core.language()?.map(Into::into))
    }

    /// Remember the person's language for the next start.
    pub fn set_language(&self, lang: crate::i18n::Lang) -> Result<()> {
        Ok(self.core.set_language(lang.into())?)
    }

    /// Whether biometric confirmation is on (kept in the wallet).
    pub fn biometric(&self) -> Result<bool> {
        Ok(self.core.biometric()?)
    }

    /// Turn biometric confirmation on or off: every key share is re-sealed, so the keystore's
    /// `sealWithUser`/`openWithUser` ask the person; a refusal (`Keystore`) changes nothing.
    /// The PIN is still what the server counts.
    pub async fn set_biometric(&self, on: bool) -> Result<()> {
        Ok(self.core.set_biometric(on).await?)
    }

    // ------------------------------------------------------------ account

    /// The logged-in account as last seen, or null when logged out (no network).
    pub fn account(&self) -> Result<Option<Account>> {
        Ok(self.core.account()?.map(Into::into))
    }

    /// Settings → clear cache: keeps keys, certificates and the login.
    pub fn clear_cache(&self) -> Result<()> {
        Ok(self.core.clear_cache()?)
    }

    /// Send an SMS code to `phone` (11 digits) for `purpose`.
    pub async fn send_sms_code(&self, phone: String, purpose: SmsPurpose) -> Result<SmsSent> {
        Ok(self
            .core
            .send_sms_code(&phone, purpose.into())
            .await?
            .into())
    }

    /// Register a new phone number with the code sent for `SmsPurpose.SIGNUP`.
    pub async fn sign_up(
        &self,
        phone: String,
        code: String,
        device_name: String,
    ) -> Result<Account> {
        Ok(self.core.sign_up(&phone, &code, &device_name).await?.into())
    }

    /// Log in with an SMS code (`SmsPurpose.LOGIN`); a new number is registered.
    pub async fn login_with_sms(
        &self,
        phone: String,
        code: String,
        device_name: String,
    ) -> Result<Account> {
        Ok(self
            .core
            .login_with_sms(&phone, &code, &device_name)
            .await?
            .into())
    }

    /// Log in with the account password.
    pub async fn login_with_password(
        &self,
        phone: String,
        password: String,
        device_name: String,
    ) -> Result<Account> {
        Ok(self
            .core
            .login_with_password(&phone, &password, &device_name)
            .await?
            .into())
    }

    /// Log out: keys and certificates stay in the wallet.
    pub async fn log_out(&self) -> Result<()> {
        Ok(self.core.log_out().await?)
    }

    /// Set the first password (`old` null) or change it; at least 8 characters.
    pub async fn set_password(&self, old: Option<String>, new: String) -> Result<()> {
        Ok(self.core.set_password(old.as_deref(), &new).await?)
    }

    /// Forgotten password, proven by an SMS code (`SmsPurpose.RESET_PASSWORD`).
    pub async fn reset_password(&self, phone: String, code: String, new: String) -> Result<()> {
        Ok(self.core.reset_password(&phone, &code, &new).await?)
    }

    /// Change the phone number; `code` went to the new number (`SmsPurpose.CHANGE_PHONE`).
    /// Proof from the holder is needed too: `old_code` (sent to the current number,
    /// `SmsPurpose.CHANGE_PHONE_OLD`) or the login `password`. Other devices are logged out.
    pub async fn change_phone(
        &self,
        new_phone: String,
        code: String,
        old_code: Option<String>,
        password: Option<String>,
    ) -> Result<Account> {
        use bidkey_core::flows::recovery::PhoneChangeProof;
        let proof = match (password, old_code) {
            (Some(p), _) => PhoneChangeProof::Password(zeroize::Zeroizing::new(p)),
            (None, Some(c)) => PhoneChangeProof::OldNumberCode(c),
            (None, None) => {
                return Err(BidkeyError::InvalidInput {
                    field: "password or old number's code".into(),
                });
            }
        };
        Ok(self
            .core
            .change_phone(&new_phone, &code, &proof)
            .await?
            .into())
    }

    /// Real-name verification (实名认证).
    pub async fn verify_real_name(&self, request: RealName) -> Result<Account> {
        Ok(self.core.verify_real_name(&request.into()).await?.into())
    }

    /// Fetch the account from the server.
    pub async fn refresh_account(&self) -> Result<Account> {
        Ok(self.core.refresh_account().await?.into())
    }

    // ------------------------------------------------------------ applications and orders

    /// Apply for a personal certificate (个人证书); it goes to review (待审核).
    pub async fn apply_personal_certificate(&self) -> Result<Application> {
        Ok(self.core.apply_personal_certificate().await?.into())
    }

    /// My applications, newest first.
    pub async fn applications(&self) -> Result<Vec<Application>> {
        Ok(list(self.core.applications().await?))
    }

    /// One application by id.
    pub async fn application(&self, id: String) -> Result<Application> {
        Ok(self.core.application(&id).await?.into())
    }

    /// Pay an order with the sandbox provider.
    pub async fn pay_order(&self, order_id: String) -> Result<Order> {
        Ok(self.core.pay_order(&order_id).await?.into())
    }

    // ------------------------------------------------------------ certificates and keys

    /// Fetch the certificates of a paid application: a two-party signing key (this phone's
    /// share kept under `pin`, 6–12 digits) and the encryption keys. Resumable: after a lost
    /// connection or a crash, call it again for the same application with the same PIN.
    pub async fn enroll(&self, application_id: String, pin: String) -> Result<EnrolledPair> {
        Ok(self.core.enroll(&application_id, &pin).await?.into())
    }

    /// Application ids whose enrolment this phone has not finished: ask the PIN (not a new
    /// one) and call `enroll` again for each.
    pub fn unfinished_enrollments(&self) -> Result<Vec<String>> {
        Ok(self.core.unfinished_enrollments()?)
    }

    /// The three lists of 证书管理, from the server.
    pub async fn certificates(&self) -> Result<CertList> {
        Ok(self.core.certificates().await?.into())
    }

    /// Certificates held on this phone (no network).
    pub fn local_certificates(&self) -> Result<Vec<LocalCertificate>> {
        Ok(list(self.core.local_certificates()?))
    }

    /// Sign `message` (SM2, default ID) with the signing certificate `serial`. A wrong PIN
    /// throws `WrongPin` with the tries left; the fifth locks the key (`KeyLocked`).
    pub async fn sign_message(
        &self,
        serial: String,
        pin: String,
        message: Vec<u8>,
    ) -> Result<Signature> {
        Ok(self
            .core
            .sign_message(&serial, &pin, &message)
            .await?
            .into())
    }

    /// Decrypt an SM2 ciphertext (GM/T 0009 DER) made for encryption certificate `serial`.
    /// The result is the caller's own data (e.g. a bid file key).
    pub async fn decrypt(
        &self,
        serial: String,
        pin: String,
        ciphertext_der: Vec<u8>,
    ) -> Result<Vec<u8>> {
        Ok(self
            .core
            .decrypt(&serial, &pin, &ciphertext_der)
            .await?
            .to_vec())
    }

    /// 修改证书密码 of every pair: the server confirms the old PIN for each pair, then every
    /// key is re-masked at once (nothing changes if any pair refuses the old PIN).
    pub async fn change_pin(&self, old_pin: String, new_pin: String) -> Result<()> {
        Ok(self.core.change_pin(&old_pin, &new_pin).await?)
    }

    /// 修改证书密码 of the pair of certificate `serial` only.
    pub async fn change_pin_of(
        &self,
        serial: String,
        old_pin: String,
        new_pin: String,
    ) -> Result<()> {
        Ok(self.core.change_pin_of(&serial, &old_pin, &new_pin).await?)
    }

    /// 解锁 after too many wrong PINs: real-name again and an SMS code (`SmsPurpose.UNLOCK`).
    pub async fn unlock(
        &self,
        serial: String,
        real_name: RealName,
        code: String,
    ) -> Result<CertPair> {
        Ok(self
            .core
            .unlock(&serial, &real_name.into(), &code)
            .await?
            .into())
    }

    /// 挂失 without a login, by phone and SMS code (`SmsPurpose.LOSS_REPORT`): one
    /// certificate, or all of the account's when `serial` is null.
    pub async fn report_loss(
        &self,
        phone: String,
        code: String,
        serial: Option<String>,
    ) -> Result<PairChange> {
        Ok(self
            .core
            .report_loss(&phone, &code, serial.as_deref())
            .await?
            .into())
    }

    /// 解挂 with a fresh SMS code (`SmsPurpose.LOSS_REPORT`).
    pub async fn undo_loss_report(&self, serial: String, code: String) -> Result<PairChange> {
        Ok(self.core.undo_loss_report(&serial, &code).await?.into())
    }

    /// Cancel a recovery (取消找回) from any logged-in device of the account (the old phone,
    /// after the notice), until it enrols.
    pub async fn cancel_recovery(&self, application_id: String) -> Result<Application> {
        Ok(self.core.cancel_recovery(&application_id).await?.into())
    }

    /// 证书找回 on a new phone: real-name again and an SMS code (`SmsPurpose.RECOVER`). The
    /// application goes to the RA's review and waits out a cooling-off period (see
    /// `recovery_state`; `enroll` throws `RecoveryCoolingOff` until it ends) while the
    /// account's other devices and its number are told; then pay it and `enroll` it. A key
    /// locked by wrong PINs stays locked on the new pair.
    pub async fn recover(
        &self,
        real_name: RealName,
        code: String,
        enterprise_id: Option<String>,
    ) -> Result<Application> {
        Ok(self
            .core
            .recover(&real_name.into(), &code, enterprise_id.as_deref())
            .await?
            .into())
    }

    /// 注销 with the PIN. Irreversible: files encrypted to the pair can no longer be opened.
    pub async fn revoke(&self, serial: String, pin: String) -> Result<PairChange> {
        Ok(self.core.revoke(&serial, &pin).await?.into())
    }

    /// 续期 in the last 30 days; the application then goes to review and payment.
    pub async fn renew(&self, serial: String) -> Result<Application> {
        Ok(self.core.renew(&serial).await?.into())
    }

    /// 重新申请 after expiry.
    pub async fn reapply(&self, serial: String) -> Result<Application> {
        Ok(self.core.reapply(&serial).await?.into())
    }
}

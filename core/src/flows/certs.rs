//! Certificates on the phone: the co-signing and co-decryption calls every signature and
//! decryption goes through, and the lifecycle (list, renew, re-apply, revoke, loss report
//! and undo, unlock, recovery). Enrolment is in [`super::enroll`].

use crate::Bidkey;
use crate::error::{CoreError, Result};
use crate::wallet::StoredCert;
use bidkey_crypto::cosign::{
    DecryptResponse, DeviceDecryptor, DeviceShare, DeviceSigner, SignResponse,
};
use bidkey_crypto::sm2::{Sm2Ciphertext, Sm2PublicKey, Sm2Signature};
use bidkey_crypto::x509::Cert;
use bidkey_protocol::certs::*;
use bidkey_protocol::cosign::{self, CosignPurpose};
use zeroize::Zeroizing;

pub use super::enroll::EnrolledPair;

impl Bidkey {
    /// The device half of a co-decryption with `share` of the encryption key of certificate
    /// `serial` (the server refuses a signing key).
    pub(crate) async fn co_decrypt(
        &self,
        serial: &str,
        share: &DeviceShare,
        ct: &Sm2Ciphertext,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.co_decrypt_for(serial, share, ct, CosignPurpose::Decrypt, None)
            .await
    }

    /// [`Bidkey::co_decrypt`], refused (`too_early`, before anything is sent) while the
    /// server's clock is before `not_before`: a tender's opening time is judged by the
    /// server's trusted time, not by the phone's clock. In `session` when the relay's fetch
    /// already opened one for this key (ADR 0031), otherwise in a fresh one.
    pub(crate) async fn co_decrypt_in(
        &self,
        serial: &str,
        share: &DeviceShare,
        ct: &Sm2Ciphertext,
        not_before: i64,
        session: Option<cosign::Session>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.co_decrypt_session(
            serial,
            share,
            ct,
            CosignPurpose::Decrypt,
            Some(not_before),
            session,
        )
        .await
    }

    pub(super) async fn co_decrypt_for(
        &self,
        serial: &str,
        share: &DeviceShare,
        ct: &Sm2Ciphertext,
        purpose: CosignPurpose,
        not_before: Option<i64>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.co_decrypt_session(serial, share, ct, purpose, not_before, None)
            .await
    }

    async fn co_decrypt_session(
        &self,
        serial: &str,
        share: &DeviceShare,
        ct: &Sm2Ciphertext,
        purpose: CosignPurpose,
        not_before: Option<i64>,
        session: Option<cosign::Session>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let s = match session {
            Some(s) => s,
            None => self.open_cosign_session(serial, purpose).await?,
        };
        if not_before.is_some_and(|t| s.server_time < t) {
            return Err(CoreError::from(bidkey_protocol::ErrorBody::new(
                bidkey_protocol::ErrorCode::TooEarly,
            )));
        }
        let (decryptor, req) = DeviceDecryptor::start(share, ct, &s.session_id)?;
        let resp: cosign::DecryptResponse = self
            .api
            .post(
                "/v1/cosign/decrypt",
                &cosign::DecryptRequest {
                    session_id: s.session_id.clone(),
                    request: req.to_bytes().to_vec(),
                },
            )
            .await?;
        Ok(decryptor.finish(&DecryptResponse::from_bytes(&resp.response)?)?)
    }

    /// The device half of a co-signature over digest `e` with the signing key of `serial`.
    ///
    /// The phone verifies the combined signature under the key of `serial` for its own `e`
    /// before it sends it anywhere ([`CoreError::CosignerMisbehaved`] otherwise, and
    /// `/finish` is not called); the server checks it again, and what the server returns
    /// must be that same signature.
    pub(crate) async fn co_sign_digest(
        &self,
        serial: &str,
        share: &DeviceShare,
        e: &[u8; 32],
        purpose: CosignPurpose,
        session: Option<cosign::Session>,
    ) -> Result<Sm2Signature> {
        let s = match session {
            Some(s) => s,
            None => self.open_cosign_session(serial, purpose).await?,
        };
        let public = self.public_key_of(serial)?;
        let (signer, req) = DeviceSigner::start(share, &public, e, &s.session_id)?;
        let resp: cosign::SignResponse = self
            .api
            .post(
                "/v1/cosign/sign",
                &cosign::SignRequest {
                    session_id: s.session_id.clone(),
                    request: req.to_bytes().to_vec(),
                },
            )
            .await?;
        let sig = signer.finish(&SignResponse::from_bytes(&resp.response)?)?;
        let done: cosign::SignDone = self
            .api
            .post(
                "/v1/cosign/sign/finish",
                &cosign::SignFinish {
                    session_id: s.session_id,
                    signature: sig.to_der(),
                },
            )
            .await?;
        // The server hands back what it released; it must be the phone's own signature.
        if Sm2Signature::from_der(&done.signature).ok().as_ref() != Some(&sig) {
            return Err(CoreError::CosignerMisbehaved);
        }
        Ok(sig)
    }

    /// A session with the server share of the pair this phone's share of `serial` belongs
    /// to; a key the phone does not hold is never asked for (ADR 0005).
    pub(crate) async fn open_cosign_session(
        &self,
        serial: &str,
        purpose: CosignPurpose,
    ) -> Result<cosign::Session> {
        self.open_cosign_session_for(serial, purpose, None).await
    }

    /// A co-signing session; for `confirm`, naming the admin action (ADR 0018).
    pub(crate) async fn open_cosign_session_for(
        &self,
        serial: &str,
        purpose: CosignPurpose,
        confirm: Option<cosign::AdminAction>,
    ) -> Result<cosign::Session> {
        let Some(held) = self.wallet.share_meta(serial)? else {
            return Err(self.wallet.missing_key(serial)?);
        };
        self.api
            .post(
                "/v1/cosign/sessions",
                &cosign::OpenSession {
                    serial: serial.to_owned(),
                    purpose,
                    pair_id: Some(held.pair_id),
                    confirm,
                },
            )
            .await
    }

    /// Sign `message` (SM2 with the default ID) with the signing key of `serial`, asking the
    /// PIN. A wrong PIN is refused by the server with the tries left.
    pub async fn sign_message(
        &self,
        serial: &str,
        pin: &str,
        message: &[u8],
    ) -> Result<Sm2Signature> {
        self.require_login()?;
        let share = self
            .wallet
            .share_with_pin(serial, pin, self.pin_kdf)
            .await?;
        let public = self.public_key_of(serial)?;
        let e =
            bidkey_crypto::sm2::message_digest(&public, bidkey_crypto::sm2::DEFAULT_ID, message)?;
        self.co_sign_digest(serial, &share, &e, CosignPurpose::Sign, None)
            .await
    }

    /// Decrypt an SM2 ciphertext (GM/T 0009 DER) made for encryption certificate `serial`.
    pub async fn decrypt(
        &self,
        serial: &str,
        pin: &str,
        ciphertext_der: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.require_login()?;
        let ct = Sm2Ciphertext::from_der(ciphertext_der)?;
        let share = self
            .wallet
            .share_with_pin(serial, pin, self.pin_kdf)
            .await?;
        self.co_decrypt(serial, &share, &ct).await
    }

    pub(crate) fn public_key_of(&self, serial: &str) -> Result<Sm2PublicKey> {
        let share = self
            .wallet
            .shares()?
            .into_iter()
            .find(|s| s.key_id == serial)
            .ok_or_else(|| CoreError::NotFound(format!("certificate {serial} on this phone")))?;
        Ok(Sm2PublicKey::from_sec1(&share.public_key)?)
    }
}

/// The enterprise a certificate pair belongs to, none for a personal pair.
#[derive(Debug, Clone, Default)]
pub(super) struct Holder {
    pub(super) enterprise_id: Option<String>,
    pub(super) enterprise_name: Option<String>,
}

pub(super) fn stored_cert(
    pair_id: &str,
    holder: &Holder,
    usage: &str,
    cert: &Cert,
) -> Result<StoredCert> {
    // The certificate's own O is the name it was issued under (it changes only by
    // re-issuance); the application's name stands in when the subject has none.
    let enterprise_name = match &holder.enterprise_id {
        Some(_) => cert
            .subject_organization()?
            .or_else(|| holder.enterprise_name.clone()),
        None => cert.subject_organization()?,
    };
    Ok(StoredCert {
        serial: cert.serial_hex(),
        pair_id: pair_id.to_owned(),
        usage: usage.to_owned(),
        enterprise_id: holder.enterprise_id.clone(),
        enterprise_name,
        subject: cert.subject_string(),
        der: cert.to_der().to_vec(),
        not_before: cert.not_before() as i64,
        not_after: cert.not_after() as i64,
        status: "valid".into(),
    })
}

/// Applications, orders and the certificate lifecycle.
impl Bidkey {
    /// Apply for a personal certificate (个人证书) as a natural person.
    pub async fn apply_personal_certificate(&self) -> Result<bidkey_protocol::orders::Application> {
        self.require_login()?;
        let key = crate::api::idempotency_key()?;
        self.api
            .post(
                "/v1/applications/personal",
                &PersonalApplicationRequest {
                    idempotency_key: Some(key),
                },
            )
            .await
    }

    /// My applications with their orders and statuses, newest first.
    pub async fn applications(&self) -> Result<Vec<bidkey_protocol::orders::Application>> {
        self.require_login()?;
        self.api.get("/v1/applications").await
    }

    pub async fn application(&self, id: &str) -> Result<bidkey_protocol::orders::Application> {
        self.require_login()?;
        self.api.get(&format!("/v1/applications/{id}")).await
    }

    /// Pay an order with the sandbox provider (a real provider plugs in the same way).
    pub async fn pay_order(&self, order_id: &str) -> Result<bidkey_protocol::orders::Order> {
        self.require_login()?;
        self.api
            .post(
                &format!("/v1/orders/{order_id}/pay"),
                &bidkey_protocol::orders::PayRequest {
                    provider: "sandbox".into(),
                },
            )
            .await
    }

    /// The three lists of 证书管理, from the server, and the wallet brought up to date.
    pub async fn certificates(&self) -> Result<CertList> {
        self.require_login()?;
        let list: CertList = self.api.get("/v1/certs").await?;
        let t = self.now();
        for pair in list.in_force.iter().chain(list.invalid.iter()) {
            for c in [&pair.signing, &pair.encryption].into_iter().flatten() {
                self.wallet
                    .set_cert_status(&c.serial, status_word(c.status), t)?;
            }
        }
        Ok(list)
    }

    /// Certificates held in this wallet (works offline).
    pub fn local_certificates(&self) -> Result<Vec<StoredCert>> {
        self.wallet.certs()
    }

    /// 续期: only in the last 30 days; the application then goes to review and payment.
    pub async fn renew(&self, serial: &str) -> Result<bidkey_protocol::orders::Application> {
        self.require_login()?;
        let key = crate::api::idempotency_key()?;
        self.api
            .post(
                &format!("/v1/certs/{serial}/renew"),
                &RenewRequest {
                    idempotency_key: Some(key),
                },
            )
            .await
    }

    /// 重新申请 after expiry.
    pub async fn reapply(&self, serial: &str) -> Result<bidkey_protocol::orders::Application> {
        self.require_login()?;
        let key = crate::api::idempotency_key()?;
        self.api
            .post(
                &format!("/v1/certs/{serial}/reapply"),
                &RenewRequest {
                    idempotency_key: Some(key),
                },
            )
            .await
    }

    /// 注销 with the PIN (show [`crate::i18n::Text::RevokeWarning`] first). Irreversible:
    /// files encrypted to the certificate can no longer be decrypted.
    pub async fn revoke(&self, serial: &str, pin: &str) -> Result<PairChange> {
        self.require_login()?;
        let signing_serial = self.signing_serial_of_pair_with(serial)?;
        let share = self
            .wallet
            .share_with_pin(&signing_serial, pin, self.pin_kdf)
            .await?;
        let session = self
            .open_cosign_session(&signing_serial, CosignPurpose::Revoke)
            .await?;
        let challenge = session
            .challenge
            .clone()
            .ok_or_else(|| CoreError::check("the server sent no revocation challenge"))?;
        let public = self.public_key_of(&signing_serial)?;
        let e = bidkey_crypto::sm2::message_digest(
            &public,
            bidkey_crypto::sm2::DEFAULT_ID,
            &challenge,
        )?;
        let session_id = session.session_id.clone();
        self.co_sign_digest(
            &signing_serial,
            &share,
            &e,
            CosignPurpose::Revoke,
            Some(session),
        )
        .await?;
        let change: PairChange = self
            .api
            .post(
                &format!("/v1/certs/{signing_serial}/revoke"),
                &RevokeRequest { session_id },
            )
            .await?;
        self.forget_pairs(&change)?;
        Ok(change)
    }

    /// 挂失: works without a login (a lost phone), by phone number and SMS code
    /// (`SmsPurpose::LossReport`); one certificate, or all of the account's when `None`.
    pub async fn report_loss(
        &self,
        phone: &str,
        code: &str,
        serial: Option<&str>,
    ) -> Result<PairChange> {
        self.api
            .post(
                "/v1/certs/loss-report",
                &LossReportRequest {
                    phone: phone.to_owned(),
                    code: code.to_owned(),
                    serial: serial.map(str::to_owned),
                },
            )
            .await
    }

    /// 解挂 with a fresh SMS code (`SmsPurpose::LossReport`).
    pub async fn undo_loss_report(&self, serial: &str, code: &str) -> Result<PairChange> {
        self.require_login()?;
        self.api
            .post(
                &format!("/v1/certs/{serial}/undo-loss-report"),
                &UndoLossRequest {
                    code: code.to_owned(),
                },
            )
            .await
    }

    /// 解锁 after 5 wrong PINs: real-name again (the same person) and an SMS code
    /// (`SmsPurpose::Unlock`).
    pub async fn unlock(
        &self,
        serial: &str,
        realname: &bidkey_protocol::accounts::RealNameRequest,
        code: &str,
    ) -> Result<CertPairView> {
        self.require_login()?;
        self.api
            .post(
                &format!("/v1/certs/{serial}/unlock"),
                &IdentityCheck {
                    realname: realname.clone(),
                    code: code.to_owned(),
                },
            )
            .await
    }

    /// 证书找回 on a new phone: after login, real-name again and an SMS code
    /// (`SmsPurpose::Recover`). The answer is an application; once paid, [`Bidkey::enroll`]
    /// brings a new signing key and every escrowed encryption key to this phone.
    pub async fn recover(
        &self,
        realname: &bidkey_protocol::accounts::RealNameRequest,
        code: &str,
        enterprise_id: Option<&str>,
    ) -> Result<bidkey_protocol::orders::Application> {
        self.require_login()?;
        let key = crate::api::idempotency_key()?;
        self.api
            .post(
                "/v1/certs/recover",
                &RecoverRequest {
                    realname: realname.clone(),
                    code: code.to_owned(),
                    enterprise_id: enterprise_id.map(str::to_owned),
                    idempotency_key: Some(key),
                },
            )
            .await
    }

    /// 修改证书密码 for every certificate pair on this phone.
    ///
    /// The wallet cannot tell a wrong PIN (it unmasks to another valid share), so the server
    /// judges `old` for **each** pair, by a co-signature with the pair's signing key that it
    /// counts like any other. Only when every pair has proved `old` are all their shares
    /// re-masked under `new`, in one wallet transaction; otherwise nothing changes and the
    /// error of the first pair that refused is returned (`WrongPin` with its tries left). A
    /// phone holding pairs under different PINs changes them one at a time with
    /// [`Bidkey::change_pin_of`]. Shares of an enrolment not yet finished are left as they are.
    pub async fn change_pin(&self, old: &str, new: &str) -> Result<()> {
        self.require_login()?;
        crate::wallet::check_pin(new)?;
        let pairs = self.pairs_on_phone()?;
        if pairs.is_empty() {
            return Err(CoreError::NotFound("a certificate on this phone".into()));
        }
        self.change_pin_of_pairs(&pairs, old, new).await
    }

    /// 修改证书密码 for the certificate pair of `serial` only: `old` proved by the server with
    /// the pair's signing key, then the pair's shares re-masked in one wallet transaction.
    pub async fn change_pin_of(&self, serial: &str, old: &str, new: &str) -> Result<()> {
        self.require_login()?;
        crate::wallet::check_pin(new)?;
        let signing = self.signing_serial_of_pair_with(serial)?;
        let pair = self
            .pairs_on_phone()?
            .into_iter()
            .find(|p| p.0 == signing)
            .ok_or_else(|| CoreError::NotFound(format!("certificate {serial} on this phone")))?;
        self.change_pin_of_pairs(&[pair], old, new).await
    }

    /// `(signing serial, every key id of the pair)` for each pair held here.
    fn pairs_on_phone(&self) -> Result<Vec<(String, Vec<String>)>> {
        let shares = self.wallet.shares()?;
        let mut pairs: Vec<(String, Vec<String>)> = Vec::new();
        for s in shares
            .iter()
            .filter(|s| s.usage == "signing" && !s.key_id.starts_with("pending-"))
        {
            let keys = shares
                .iter()
                .filter(|k| k.pair_id == s.pair_id && !k.key_id.starts_with("pending-"))
                .map(|k| k.key_id.clone())
                .collect();
            pairs.push((s.key_id.clone(), keys));
        }
        Ok(pairs)
    }

    async fn change_pin_of_pairs(
        &self,
        pairs: &[(String, Vec<String>)],
        old: &str,
        new: &str,
    ) -> Result<()> {
        for (signing, _) in pairs {
            let nonce = bidkey_crypto::rng::bytes::<16>()?;
            let message = [b"Bidkey PIN check ".as_slice(), &nonce].concat();
            self.sign_message(signing, old, &message).await?;
        }
        let keys: Vec<String> = pairs.iter().flat_map(|p| p.1.iter().cloned()).collect();
        self.wallet
            .rekey_shares(&keys, old, new, self.pin_kdf)
            .await?;
        self.wallet.log(self.now(), "certificate PIN changed")
    }

    fn signing_serial_of_pair_with(&self, serial: &str) -> Result<String> {
        let shares = self.wallet.shares()?;
        let pair = shares
            .iter()
            .find(|s| s.key_id == serial)
            .map(|s| s.pair_id.clone())
            .ok_or_else(|| CoreError::NotFound(format!("certificate {serial} on this phone")))?;
        shares
            .into_iter()
            .find(|s| s.pair_id == pair && s.usage == "signing")
            .map(|s| s.key_id)
            .ok_or_else(|| CoreError::NotFound("the signing key of this pair".into()))
    }

    fn forget_pairs(&self, change: &PairChange) -> Result<()> {
        let t = self.now();
        for serial in &change.serials {
            self.wallet.set_cert_status(serial, "revoked", t)?;
        }
        for pair in &change.pair_ids {
            self.wallet.delete_shares_of_pair(pair)?;
        }
        Ok(())
    }
}

fn status_word(s: RevocationStatus) -> &'static str {
    match s {
        RevocationStatus::Good => "valid",
        RevocationStatus::Revoked => "revoked",
        RevocationStatus::Suspended => "suspended",
        RevocationStatus::Unknown => "unknown",
    }
}

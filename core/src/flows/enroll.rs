//! Enrolment (and renewal, re-application, change of information and recovery, which share
//! its steps): a paid application becomes a certificate pair on this phone, resumable from
//! any point (ADR 0005).
//!
//! ```text
//! start → keygen → csr/sign        nothing issued; a failure here starts again
//! [save the share, id and CSR]     the wallet's `enrollments` row and `pending-<id>` share
//! finish                           sent again on resume: the server answers its stored result
//! store the signing share, then each delivered key not yet held (co-decrypted with the new
//!   signing key, stored once)
//! confirm                          the server ends the pairs this one replaces
//! [forget the pending row]
//! ```
//! Every write to the wallet is durable before the next request, so a crash, a lost answer
//! or a server restart at any point leaves a state the next [`Bidkey::enroll`] of the same
//! application finishes, without asking the co-signing service for a key the phone does not
//! hold.

use super::certs::{Holder, stored_cert};
use crate::Bidkey;
use crate::error::{CoreError, Result};
use crate::wallet::{PendingEnrollment, StoredShare};
use bidkey_crypto::cosign::{
    DeviceKeygen, DeviceShare, DeviceSigner, ServerKeygenMsg, SignResponse,
};
use bidkey_crypto::envelope::EnvelopedKey;
use bidkey_crypto::sm2::Sm2PublicKey;
use bidkey_crypto::x509::{Cert, CsrDraft, Name};
use bidkey_protocol::certs::*;
use bidkey_protocol::cosign::CosignPurpose;
use bidkey_protocol::orders::Status;
use der::Decode;

/// What an enrolment stored on this phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolledPair {
    pub pair_id: String,
    pub signing_serial: String,
    pub encryption_serial: String,
    /// Encryption keys delivered (the current one and every past one of this holder).
    pub encryption_keys: usize,
}

/// Where an enrolment of an application resumes, from what the wallet holds (pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrolmentStep {
    /// Nothing saved: start, two-party key generation, the CSR's co-signature.
    Begin,
    /// Saved before `finish`: send `finish` again (the server answers what it issued, or
    /// issues now); never a new key.
    ResendFinish(PendingEnrollment),
}

impl EnrolmentStep {
    pub fn resume_from(pending: Option<PendingEnrollment>) -> EnrolmentStep {
        match pending {
            Some(p) => EnrolmentStep::ResendFinish(p),
            None => EnrolmentStep::Begin,
        }
    }
}

/// What a `finish` that failed means for the saved enrolment (pure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailedFinish {
    /// Keep it and resume later: the failure says nothing about the server's side (a lost
    /// answer), or the application moved on (it may have been issued).
    Keep,
    /// The server refused and the application still waits to be issued: this enrolment
    /// can never finish (expired, refused for good), forget it and start a new one.
    Abandon,
    /// Ask the application's status first.
    AskStatus,
}

impl AfterFailedFinish {
    /// `status`: the application's, once asked.
    pub fn of(e: &CoreError, status: Option<Status>) -> AfterFailedFinish {
        match (e, status) {
            (CoreError::Server { .. }, None) => AfterFailedFinish::AskStatus,
            (CoreError::Server { .. }, Some(Status::Paid)) => AfterFailedFinish::Abandon,
            _ => AfterFailedFinish::Keep,
        }
    }
}

impl Bidkey {
    /// Fetch certificates for a paid application: a new two-party signing key (the phone's
    /// share stored under `pin`), the CSR co-signed, both certificates stored, and every
    /// escrowed encryption key delivered by the KMC re-shared onto this phone.
    ///
    /// Resumable: after a lost connection, a server restart or a crash of the app, call it
    /// again for the same application with the same PIN; it carries on from what the wallet
    /// holds (the server answers a repeated `finish` with the same certificates, and keys
    /// already stored are not fetched again).
    pub async fn enroll(&self, application_id: &str, pin: &str) -> Result<EnrolledPair> {
        self.require_login()?;
        crate::wallet::check_pin(pin)?;
        super::id_segment(application_id, "application_id")?;
        // The application says whose certificates these are: an enterprise's (claim, join,
        // change of information, or renewal / recovery of one) or the person's own.
        let app = self.application(application_id).await?;
        let holder = Holder {
            enterprise_id: app.enterprise_id,
            enterprise_name: app.enterprise_name,
        };
        if let EnrolmentStep::ResendFinish(pending) =
            EnrolmentStep::resume_from(self.wallet.pending_enrollment_for(application_id)?)
        {
            match self.send_finish(&pending).await {
                Ok(result) => {
                    return self
                        .complete_enrollment(&pending, &result, &holder, pin)
                        .await;
                }
                Err(e) => {
                    if !self.abandon_unissued(&pending, &e).await? {
                        return Err(e);
                    }
                }
            }
        }
        self.wallet.drop_orphan_pending_shares()?;
        let pending = self.begin_enrollment(application_id, pin).await?;
        let result = match self.send_finish(&pending).await {
            Ok(result) => result,
            Err(e) => {
                self.abandon_unissued(&pending, &e).await?;
                return Err(e);
            }
        };
        self.complete_enrollment(&pending, &result, &holder, pin)
            .await
    }

    /// Application ids of the enrolments this phone has not finished (resume each with
    /// [`Bidkey::enroll`]).
    pub fn unfinished_enrollments(&self) -> Result<Vec<String>> {
        Ok(self
            .wallet
            .pending_enrollments()?
            .into_iter()
            .map(|p| p.application_id)
            .collect())
    }

    /// Start, two-party key generation and the CSR's co-signature; then the new share, the
    /// enrolment id and the CSR are saved before anything can be issued.
    async fn begin_enrollment(&self, application_id: &str, pin: &str) -> Result<PendingEnrollment> {
        let start: EnrollStart = self
            .api
            .post(
                &format!("/v1/applications/{application_id}/enroll/start"),
                &serde_json::json!({}),
            )
            .await?;
        super::id_segment(&start.enrollment_id, "enrollment_id")?;
        let (keygen, msg) = DeviceKeygen::start(&start.keygen_session)?;
        let kg: KeygenResponse = self
            .api
            .post(
                &format!("/v1/enrollments/{}/keygen", start.enrollment_id),
                &KeygenRequest {
                    device_msg: msg.to_bytes().to_vec(),
                },
            )
            .await?;
        let server_msg = ServerKeygenMsg::from_bytes(&kg.server_msg)?;
        let (share, joint) = keygen.finish(&server_msg)?;

        let subject = Name::from_der(&start.subject_der)
            .map_err(|_| CoreError::check("server sent a malformed subject"))?;
        let draft = CsrDraft::new(subject, &joint.to_spki_der()?)?;
        let e = draft.sm2_digest()?;
        let (signer, req) = DeviceSigner::start(&share, &joint, &e, &kg.csr_sign_session)?;
        let resp: CsrSignResponse = self
            .api
            .post(
                &format!("/v1/enrollments/{}/csr/sign", start.enrollment_id),
                &CsrSignRequest {
                    request: req.to_bytes().to_vec(),
                },
            )
            .await?;
        let sig = signer.finish(&SignResponse::from_bytes(&resp.response)?)?;
        let csr = draft.assemble(&sig.to_der())?;

        // Keep the new share, then what resuming needs, before the server commits the
        // issuance (a share without its row is dropped as an orphan later).
        let pending = PendingEnrollment {
            id: start.enrollment_id,
            application_id: application_id.to_owned(),
            public_key: joint.to_sec1(),
            csr_der: csr.to_der().to_vec(),
            created_at: self.now(),
        };
        self.wallet
            .put_share(
                &StoredShare {
                    key_id: pending.share_key_id(),
                    pair_id: String::new(),
                    usage: "signing".into(),
                    public_key: pending.public_key.clone(),
                },
                &share,
                pin,
                self.pin_kdf,
                pending.created_at,
            )
            .await?;
        self.wallet.put_pending_enrollment(&pending)?;
        Ok(pending)
    }

    /// `finish`, first or again: the server issues, or answers what it issued.
    async fn send_finish(&self, pending: &PendingEnrollment) -> Result<EnrollResult> {
        self.api
            .post(
                &format!("/v1/enrollments/{}/finish", pending.id),
                &EnrollFinishRequest {
                    csr_der: pending.csr_der.clone(),
                },
            )
            .await
    }

    /// After `finish` was refused: if the application is still waiting to be issued, this
    /// enrolment can never finish (expired, or refused for good), so it is forgotten and a
    /// new one may start. Returns whether it was. A transport failure says nothing: keep it.
    async fn abandon_unissued(&self, pending: &PendingEnrollment, e: &CoreError) -> Result<bool> {
        let mut next = AfterFailedFinish::of(e, None);
        if next == AfterFailedFinish::AskStatus {
            let app = self.application(&pending.application_id).await?;
            next = AfterFailedFinish::of(e, Some(app.status));
        }
        if next != AfterFailedFinish::Abandon {
            return Ok(false);
        }
        self.wallet.delete_pending_enrollment(&pending.id)?;
        Ok(true)
    }

    /// Store what `finish` issued, each piece once, then confirm and forget the enrolment.
    async fn complete_enrollment(
        &self,
        pending: &PendingEnrollment,
        result: &EnrollResult,
        holder: &Holder,
        pin: &str,
    ) -> Result<EnrolledPair> {
        let joint = Sm2PublicKey::from_sec1(&pending.public_key)?;
        let signing = Cert::from_der(&result.signing_cert)?;
        if signing.sm2_public_key()? != joint {
            return Err(CoreError::check(
                "the signing certificate is not for this phone's key",
            ));
        }
        let t = self.now();
        if !self.holds(&result.signing_serial, &result.pair_id)? {
            // The saved share moves under the certificate's serial as it is stored, so a
            // wrong PIN given on resume cannot spoil it.
            self.wallet.copy_share(
                &pending.share_key_id(),
                &StoredShare {
                    key_id: result.signing_serial.clone(),
                    pair_id: result.pair_id.clone(),
                    usage: "signing".into(),
                    public_key: joint.to_sec1(),
                },
                t,
            )?;
        }
        let share = self
            .wallet
            .share_with_pin(&pending.share_key_id(), pin, self.pin_kdf)
            .await?;
        self.wallet.put_cert(
            &stored_cert(&result.pair_id, holder, "signing", &signing)?,
            t,
        )?;
        for key in &result.delivered_keys {
            let enc = Cert::from_der(&key.cert_der)?;
            // A key stored by an earlier attempt is not fetched again: one co-decryption,
            // one stored share per delivery. A share is stored only after its co-decryption
            // proved the PIN.
            if !self.holds(&key.serial, &result.pair_id)? {
                let enc_share = self
                    .open_delivered_key(&result.signing_serial, &share, &joint, key)
                    .await?;
                self.wallet
                    .put_share(
                        &StoredShare {
                            key_id: key.serial.clone(),
                            pair_id: result.pair_id.clone(),
                            usage: "encryption".into(),
                            public_key: enc.sm2_public_key()?.to_sec1(),
                        },
                        &enc_share,
                        pin,
                        self.pin_kdf,
                        t,
                    )
                    .await?;
            }
            self.wallet.put_cert(
                &stored_cert(&result.pair_id, holder, "encryption", &enc)?,
                t,
            )?;
        }
        let confirmed: EnrollConfirmation = self
            .api
            .post(
                &format!("/v1/enrollments/{}/confirm", pending.id),
                &serde_json::json!({}),
            )
            .await?;
        let t = self.now();
        for serial in &confirmed.revoked_serials {
            self.wallet.set_cert_status(serial, "revoked", t)?;
        }
        for pair in &confirmed.superseded_pair_ids {
            // Keys delivered again already moved to the new pair; what is left of the old
            // pair (its signing key) can no longer be used.
            if *pair != result.pair_id {
                self.wallet.delete_shares_of_pair(pair)?;
            }
        }
        self.wallet.delete_pending_enrollment(&pending.id)?;
        self.wallet.log(
            t,
            &format!(
                "certificates {} / {} stored",
                result.signing_serial, result.encryption_serial
            ),
        )?;
        Ok(EnrolledPair {
            pair_id: result.pair_id.clone(),
            signing_serial: result.signing_serial.clone(),
            encryption_serial: result.encryption_serial.clone(),
            encryption_keys: result.delivered_keys.len(),
        })
    }

    /// Whether this phone holds its share of key `key_id` for pair `pair_id`.
    fn holds(&self, key_id: &str, pair_id: &str) -> Result<bool> {
        Ok(self
            .wallet
            .share_meta(key_id)?
            .is_some_and(|s| s.pair_id == pair_id))
    }

    /// Open a key envelope addressed to the signing key by co-decrypting its SM4 key.
    async fn open_delivered_key(
        &self,
        signing_serial: &str,
        share: &DeviceShare,
        joint: &Sm2PublicKey,
        key: &DeliveredKey,
    ) -> Result<DeviceShare> {
        let env = EnvelopedKey::from_der(&key.envelope)?;
        let sym = self
            .co_decrypt_for(
                signing_serial,
                share,
                env.sym_key_ciphertext(),
                CosignPurpose::KeyDelivery,
                None,
            )
            .await?;
        let secret = env.open_with_sym_key(joint, &sym)?;
        Ok(DeviceShare::from_bytes(secret.as_slice())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::NetworkError;
    use bidkey_protocol::{ErrorBody, ErrorCode};

    fn pending() -> PendingEnrollment {
        PendingEnrollment {
            id: "e1".into(),
            application_id: "a1".into(),
            public_key: vec![4],
            csr_der: vec![0x30],
            created_at: 1,
        }
    }

    #[test]
    fn a_saved_enrolment_resumes_at_finish_never_with_a_new_key() {
        assert_eq!(EnrolmentStep::resume_from(None), EnrolmentStep::Begin);
        assert_eq!(
            EnrolmentStep::resume_from(Some(pending())),
            EnrolmentStep::ResendFinish(pending())
        );
    }

    #[test]
    fn only_a_refusal_while_still_unissued_abandons_an_enrolment() {
        let refused = CoreError::from(ErrorBody::new(ErrorCode::InvalidState));
        assert_eq!(
            AfterFailedFinish::of(&refused, None),
            AfterFailedFinish::AskStatus
        );
        assert_eq!(
            AfterFailedFinish::of(&refused, Some(Status::Paid)),
            AfterFailedFinish::Abandon
        );
        // Issued meanwhile (by this very finish, its answer lost): keep and resume.
        assert_eq!(
            AfterFailedFinish::of(&refused, Some(Status::Issued)),
            AfterFailedFinish::Keep
        );
        // A lost answer says nothing about the server's side.
        let lost = CoreError::Network(NetworkError::Down);
        assert_eq!(AfterFailedFinish::of(&lost, None), AfterFailedFinish::Keep);
        assert_eq!(
            AfterFailedFinish::of(&CoreError::WrongPin { tries_left: 2 }, None),
            AfterFailedFinish::Keep
        );
    }
}

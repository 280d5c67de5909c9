//! Where a recovery (证书找回) stands, cancelling one from another device, and the proof a
//! phone-number change needs (ADR 0011).
//!
//! A recovery is reviewed by the RA, who may approve it only after a cooling-off period (by
//! the server's clock) during which the account's other devices (a message) and its number
//! (an SMS) are told; any logged-in device of the account may cancel it until it enrols.

use super::id_segment;
use crate::Bidkey;
use crate::error::Result;
use bidkey_protocol::orders::{Application, ApplicationKind, Status};
use zeroize::Zeroizing;

/// Where a recovery application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryState {
    /// In the RA's review and waiting out the cooling-off until `until` (server time): the
    /// account's other devices and its number were told and may cancel it; the RA cannot
    /// approve it before `until`.
    CoolingOff { until: i64 },
    /// The cooling-off is over; the RA reviews it (待审核).
    InReview,
    /// Approved, the order not paid yet.
    AwaitingPayment,
    /// Approved and paid: [`Bidkey::enroll`] may run.
    Ready,
    /// Cancelled (by a device of the account) or closed.
    Cancelled,
    /// The RA refused it.
    Rejected,
    /// The new pair is issued.
    Done,
}

/// Where `app` stands at server time `server_now` (the apps use the time of the server's
/// last answer; a phone's own clock decides nothing here, the server refuses an early
/// approval anyway). `None` for an application that is not a recovery.
pub fn recovery_state(app: &Application, server_now: i64) -> Option<RecoveryState> {
    if app.kind != ApplicationKind::Recover {
        return None;
    }
    Some(match app.status {
        Status::PendingReview | Status::PendingAdmin => {
            match app.not_before.filter(|t| *t > server_now) {
                Some(until) => RecoveryState::CoolingOff { until },
                None => RecoveryState::InReview,
            }
        }
        Status::AwaitingPayment => RecoveryState::AwaitingPayment,
        Status::Paid => RecoveryState::Ready,
        Status::Issued => RecoveryState::Done,
        Status::Closed => RecoveryState::Cancelled,
        Status::Rejected => RecoveryState::Rejected,
    })
}

/// What proves a phone-number change comes from the account's holder.
#[derive(Debug, Clone)]
pub enum PhoneChangeProof {
    /// The login password.
    Password(Zeroizing<String>),
    /// A code sent to the current (old) number (`SmsPurpose::ChangePhoneOld`).
    OldNumberCode(String),
}

impl Bidkey {
    /// Cancel a recovery (取消找回) from any logged-in device of the account, typically the
    /// old phone after the notice; refused once the recovery enrolled.
    pub async fn cancel_recovery(&self, application_id: &str) -> Result<Application> {
        self.require_login()?;
        let id = id_segment(application_id, "application id")?;
        self.api
            .post(
                &format!("/v1/certs/recover/{id}/cancel"),
                &serde_json::json!({}),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(status: Status, not_before: Option<i64>) -> Application {
        Application {
            id: "a".into(),
            kind: ApplicationKind::Recover,
            status,
            enterprise_id: None,
            enterprise_name: None,
            reason: None,
            order: None,
            created_at: 0,
            updated_at: 0,
            not_before,
            review_materials: None,
        }
    }

    #[test]
    fn a_recovery_is_reviewed_then_cools_off_then_enrols() {
        assert_eq!(
            recovery_state(&app(Status::PendingReview, Some(100)), 99),
            Some(RecoveryState::CoolingOff { until: 100 })
        );
        assert_eq!(
            recovery_state(&app(Status::PendingReview, Some(100)), 100),
            Some(RecoveryState::InReview)
        );
        assert_eq!(
            recovery_state(&app(Status::Paid, Some(100)), 0),
            Some(RecoveryState::Ready)
        );
        assert_eq!(
            recovery_state(&app(Status::Closed, Some(100)), 0),
            Some(RecoveryState::Cancelled)
        );
        let mut other = app(Status::Paid, None);
        other.kind = ApplicationKind::Renew;
        assert_eq!(recovery_state(&other, 0), None);
    }
}

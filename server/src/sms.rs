//! SMS delivery. A message names a template (one per purpose, set by the operator with the
//! SMS vendor) and its parameters; the sandbox provider writes the rendered text to the
//! `sms_outbox` table, which the operator command `bidkey-server --sandbox sms-outbox`, the
//! demo and the tests read. The vendors' adapters live in [`crate::providers`] (ADR 0014).

use crate::db::Tx;
use crate::error::Result;
use crate::params;
use crate::util::new_id;
use bidkey_protocol::accounts::SmsPurpose;

/// What a message is for: each has its own template at the SMS vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsTemplate {
    /// A one-time code; parameter `code`.
    Code(SmsPurpose),
    /// A recovery was asked for; parameter `hours` (the cooling-off period).
    RecoveryStarted,
    /// The account's number changed; parameter `phone` (the new number, masked).
    PhoneChanged,
}

impl SmsTemplate {
    /// Every template a deployment must configure.
    pub const ALL: [SmsTemplate; 10] = [
        SmsTemplate::Code(SmsPurpose::Signup),
        SmsTemplate::Code(SmsPurpose::Login),
        SmsTemplate::Code(SmsPurpose::ResetPassword),
        SmsTemplate::Code(SmsPurpose::ChangePhone),
        SmsTemplate::Code(SmsPurpose::ChangePhoneOld),
        SmsTemplate::Code(SmsPurpose::Unlock),
        SmsTemplate::Code(SmsPurpose::Recover),
        SmsTemplate::Code(SmsPurpose::LossReport),
        SmsTemplate::RecoveryStarted,
        SmsTemplate::PhoneChanged,
    ];

    /// The configuration key of the template (`signup`, …, `recovery_started`).
    pub fn key(self) -> &'static str {
        match self {
            SmsTemplate::Code(p) => p.as_str(),
            SmsTemplate::RecoveryStarted => "recovery_started",
            SmsTemplate::PhoneChanged => "phone_changed",
        }
    }
}

/// One text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// Mainland mobile number, 11 digits.
    pub phone: String,
    pub template: SmsTemplate,
    /// Template parameters, named (Aliyun) and in order (Tencent).
    pub params: Vec<(&'static str, String)>,
    /// The whole text, as the sandbox shows it.
    pub text: String,
}

/// Sends a text message. Runs inside the transaction that created the code: when delivery
/// fails the error rolls the transaction back, so a code is never recorded as sent without
/// its message having been accepted by the vendor.
pub trait SmsProvider: Send + Sync {
    fn send(&self, tx: &mut dyn Tx, now: i64, msg: &SmsMessage) -> Result<()>;
}

/// The sandbox: writes messages to the outbox table (sandbox mode only).
#[derive(Debug, Default)]
pub struct OutboxSms;

impl SmsProvider for OutboxSms {
    fn send(&self, tx: &mut dyn Tx, now: i64, msg: &SmsMessage) -> Result<()> {
        tx.execute(
            "INSERT INTO sms_outbox (id, phone, body, created_at) VALUES ($1, $2, $3, $4)",
            &params![new_id()?, msg.phone.clone(), msg.text.clone(), now],
        )?;
        Ok(())
    }
}

//! SMS delivery. The default provider writes to the `sms_outbox` table, which the operator
//! command `bidkey-server sms-outbox` and the tests read; a real gateway implements the
//! same trait.

use crate::db::Tx;
use crate::error::Result;
use crate::params;
use crate::util::new_id;

/// Sends a text message. Runs inside the transaction that created the code, so a code is
/// never stored without its message (and vice versa).
pub trait SmsProvider: Send + Sync {
    fn send(&self, tx: &mut dyn Tx, now: i64, phone: &str, body: &str) -> Result<()>;
}

/// Writes messages to the outbox table.
#[derive(Debug, Default)]
pub struct OutboxSms;

impl SmsProvider for OutboxSms {
    fn send(&self, tx: &mut dyn Tx, now: i64, phone: &str, body: &str) -> Result<()> {
        tx.execute(
            "INSERT INTO sms_outbox (id, phone, body, created_at) VALUES ($1, $2, $3, $4)",
            &params![new_id()?, phone, body, now],
        )?;
        Ok(())
    }
}

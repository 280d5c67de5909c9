//! Refunds (退款) of paid orders whose application is rejected (ADR 0028).
//!
//! ```text
//! order: paid ──(application rejected)──▶ rejected, refund pending ──(vendor accepts)──▶ refunded
//! ```
//! The rejection and `refund_status = 'pending'` commit together; the vendor is called after
//! the commit (never inside a transaction), with the refund number derived from the order
//! (`pay_api::refund_no`), so a call retried after a timeout, or by the operator
//! (`POST /v1/operator/orders/{id}/refund`) or by the background [`sweeper`], is the same
//! refund at the vendor. Only an answer the vendor signed makes it `refunded`; until then it
//! stays pending, and the sweeper asks again with backoff ([`due`]).

use crate::applications::{self, Application};
use crate::audit::{self, Event};
use crate::auth::Operator;
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::orders::get_order;
use crate::params;
use crate::providers::pay_api;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::orders::{self as wire, Status};

/// The reason the vendor shows the payer.
const REASON: &str = "申请被驳回，全额退款";

/// In the transaction that rejects a paid application: its order is rejected and, if money
/// was taken, its refund pending. Returns the order to refund.
pub fn on_rejected(tx: &mut dyn Tx, now: i64, app: &Application) -> Result<Option<String>> {
    let Some(order_id) = app.order_id.as_deref() else {
        return Ok(None);
    };
    let (order, _) = get_order(tx, order_id)?;
    if order.status != Status::Paid {
        return Ok(None);
    }
    let refund = order.amount_fen > 0;
    tx.execute(
        "UPDATE orders SET status = 'rejected', refund_status = $1, updated_at = $2 \
         WHERE id = $3 AND status = 'paid'",
        &params![refund.then_some("pending"), now, order_id],
    )?;
    Ok(refund.then(|| order_id.to_owned()))
}

/// Where the money came from, by the payment reference `settle` stored.
fn vendor_of(tx: &mut dyn Tx, order_id: &str) -> Result<(String, i64)> {
    let r = tx
        .query_opt(
            "SELECT payment_ref, refund_attempts FROM orders WHERE id = $1",
            &params![order_id],
        )?
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    Ok((r.opt_text(0)?.unwrap_or_default(), r.i64(1)?))
}

/// Ask the vendor for the refund of `order_id` (pending), and record it once accepted.
/// Idempotent: a refunded order is answered as it is.
pub async fn run(st: &AppState, order_id: &str) -> Result<wire::Order> {
    let now = st.clock.now();
    let id = order_id.to_owned();
    let (order, payment_ref) = st
        .db
        .write(move |tx| {
            let (order, _) = get_order(tx, &id)?;
            if order.refund_status.as_deref() != Some("pending") {
                return Ok((order, None));
            }
            let (payment_ref, _) = vendor_of(tx, &id)?;
            tx.execute(
                "UPDATE orders SET refund_attempts = refund_attempts + 1, updated_at = $1 WHERE id = $2",
                &params![now, id.as_str()],
            )?;
            Ok::<_, ServerError>((order, Some(payment_ref)))
        })
        .await?;
    let Some(payment_ref) = payment_ref else {
        return match order.refund_status.as_deref() {
            Some("refunded") => Ok(order),
            _ => Err(ErrorCode::InvalidState.into()),
        };
    };
    let (id, amount) = (order.id.clone(), order.amount_fen);
    let refunded = match payment_ref.split_once('-').map(|(v, _)| v) {
        Some("sandbox") if st.sandbox => pay_api::Refunded {
            refund_ref: format!("sandbox-{}", pay_api::refund_no(&id)),
        },
        Some("alipay") => {
            let cfg = st
                .payments
                .alipay
                .clone()
                .ok_or(ServerError::Api(ErrorCode::ProviderUnavailable))?;
            pay_api::alipay_refund(&cfg, &id, amount, REASON, now).await?
        }
        Some("wechat") => {
            let cfg = st
                .payments
                .wechat
                .clone()
                .ok_or(ServerError::Api(ErrorCode::ProviderUnavailable))?;
            pay_api::wechat_refund(&cfg, &id, amount, REASON, now).await?
        }
        _ => return Err(ErrorCode::InvalidState.into()),
    };
    st.db
        .write(move |tx| {
            let n = tx.execute(
                "UPDATE orders SET refund_status = 'refunded', refund_ref = $1, refunded_at = $2, \
                 updated_at = $2 WHERE id = $3 AND refund_status = 'pending'",
                &params![refunded.refund_ref.as_str(), now, id.as_str()],
            )?;
            let (order, owner) = get_order(tx, &id)?;
            if n == 1 {
                applications::notify(
                    tx,
                    now,
                    &owner,
                    order.application_id.as_deref(),
                    &format!("订单退款已受理：{}.{:02} 元。", amount / 100, amount % 100),
                    &format!(
                        "The refund of {}.{:02} yuan was accepted.",
                        amount / 100,
                        amount % 100
                    ),
                )?;
                audit::record(
                    tx,
                    now,
                    Event {
                        actor: "payment",
                        action: "order.refunded",
                        target: Some(&id),
                        detail: Some(format!("{amount} {}", refunded.refund_ref)),
                        ..Default::default()
                    },
                )?;
            }
            Ok::<_, ServerError>(order)
        })
        .await
}

/// `POST /v1/operator/orders/{id}/refund`: ask again for a pending refund (after a vendor
/// failure); a refunded order is answered as it is.
pub async fn retry(
    State(st): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
) -> Result<Json<wire::Order>> {
    // The operator who asked is named in the audit log (ADR 0020), whatever the vendor says.
    let (now, actor, target) = (st.clock.now(), op.actor(), id.clone());
    st.db
        .write(move |tx| {
            audit::record(
                tx,
                now,
                Event {
                    actor: &actor,
                    action: "order.refund_retried",
                    target: Some(&target),
                    ..Default::default()
                },
            )
        })
        .await?;
    Ok(Json(run(&st, &id).await?))
}

/// First wait (server-clock seconds) before a pending refund is asked again; it doubles with
/// each attempt up to [`RETRY_MAX`].
pub const RETRY_FIRST: i64 = 60;
pub const RETRY_MAX: i64 = 3600;

/// How often the sweeper looks for due refunds (wall time; whether one is due is judged on
/// the server clock).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Refunds claimed per sweep, at most: a vendor outage does not become a burst.
const SWEEP_BATCH: i64 = 20;

/// Whether a pending refund last touched at `updated_at` after `attempts` attempts is due at
/// `now`: never tried, at once; then after 60 s, 120 s, … up to an hour.
pub fn due(now: i64, updated_at: i64, attempts: i64) -> bool {
    if attempts <= 0 {
        return true;
    }
    let shift = u32::try_from(attempts - 1).unwrap_or(u32::MAX).min(16);
    let wait = RETRY_FIRST.saturating_mul(1 << shift).min(RETRY_MAX);
    now >= updated_at.saturating_add(wait)
}

/// Claim the pending refunds that are due: each claim moves `updated_at` so another process
/// sweeping the same database skips it (the vendor would take a second call as the same
/// refund anyway).
async fn claim_due(st: &AppState) -> Result<Vec<String>> {
    let now = st.clock.now();
    st.db
        .write(move |tx| {
            let rows = tx.query(
                "SELECT id, updated_at, refund_attempts FROM orders \
                 WHERE refund_status = 'pending' ORDER BY updated_at LIMIT $1",
                &params![SWEEP_BATCH],
            )?;
            let mut claimed = Vec::new();
            for r in rows {
                let (id, updated_at, attempts) = (r.text(0)?, r.i64(1)?, r.i64(2)?);
                if !due(now, updated_at, attempts) {
                    continue;
                }
                let n = tx.execute(
                    "UPDATE orders SET updated_at = $1 WHERE id = $2 \
                     AND refund_status = 'pending' AND updated_at = $3 AND refund_attempts = $4",
                    &params![now, id.as_str(), updated_at, attempts],
                )?;
                if n == 1 {
                    claimed.push(id);
                }
            }
            Ok::<_, ServerError>(claimed)
        })
        .await
}

/// Ask the vendor again for every due pending refund, until `stop` says stop. A failure
/// (vendor down, database gone) is logged and waits for the next due time.
pub async fn sweeper(st: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        match claim_due(&st).await {
            Ok(ids) => {
                for id in ids {
                    match run(&st, &id).await {
                        Ok(o) => {
                            tracing::info!(order = %id, status = ?o.refund_status, "refund retried")
                        }
                        Err(e) => {
                            tracing::warn!(order = %id, error = %e, "refund still pending")
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "refund sweep skipped"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert!(due(100, 100, 0));
        assert!(!due(159, 100, 1));
        assert!(due(160, 100, 1));
        assert!(!due(219, 100, 2));
        assert!(due(220, 100, 2));
        assert!(!due(100 + 3599, 100, 7));
        assert!(due(100 + 3600, 100, 7));
        assert!(due(100 + 3600, 100, i64::MAX));
        assert!(!due(100 + 3599, 100, i64::MAX));
    }
}

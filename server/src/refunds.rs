//! Refunds (退款) of paid orders whose application is rejected (ADR 0028).
//!
//! ```text
//! order: paid ──(application rejected)──▶ rejected, refund pending ──(vendor accepts)──▶ refunded
//! ```
//! The rejection and `refund_status = 'pending'` commit together; the vendor is called after
//! the commit (never inside a transaction), with the refund number derived from the order
//! (`pay_api::refund_no`), so a call retried after a timeout, or by the operator
//! (`POST /v1/operator/orders/{id}/refund`), is the same refund at the vendor. Only an
//! answer the vendor signed makes it `refunded`; until then it stays pending.

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

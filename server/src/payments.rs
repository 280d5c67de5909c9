//! Payment by Alipay and WeChat Pay (ADR 0014): the signed Alipay order string for the
//! app, the two vendors' asynchronous notifications (verified, then the order is paid),
//! and invoice download. The sandbox provider stays in [`crate::orders`] (sandbox mode).

use crate::applications;
use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::orders::get_order;
use crate::params;
use crate::providers::{pay_alipay, pay_wechat};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::orders::{Invoice, Status};
use std::collections::BTreeMap;

/// The payment vendors a deployment offers (none by default).
#[derive(Debug, Clone, Default)]
pub struct PaymentConfig {
    pub alipay: Option<pay_alipay::AlipayConfig>,
    pub wechat: Option<pay_wechat::WechatConfig>,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/orders/{id}/alipay", post(alipay_order))
        .route("/v1/orders/{id}/alipay/precreate", post(alipay_precreate))
        .route("/v1/orders/{id}/wechat/native", post(wechat_native))
        .route("/v1/orders/{id}/wechat/jsapi", post(wechat_jsapi))
        .route("/v1/payments/alipay/notify", post(alipay_notify))
        .route("/v1/payments/wechat/notify", post(wechat_notify))
        .route("/v1/invoices/{id}", get(download_invoice))
}

/// `POST /v1/orders/{id}/alipay`: the signed order string for the Alipay SDK.
async fn alipay_order(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let cfg = st
        .payments
        .alipay
        .clone()
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    let now = st.clock.now();
    let order = st
        .db
        .read(move |tx| {
            let (order, owner) = get_order(tx, &id)?;
            if owner != user.account_id {
                return Err(ServerError::Api(ErrorCode::NotFound));
            }
            if order.status != Status::AwaitingPayment {
                return Err(ErrorCode::InvalidState.into());
            }
            Ok(order)
        })
        .await?;
    let s = pay_alipay::order_string(&cfg, &order.id, order.amount_fen, &order.item_zh, now)?;
    Ok(Json(serde_json::json!({ "order_string": s })))
}

/// The caller's order awaiting payment.
async fn awaiting_order(
    st: &AppState,
    user: AuthUser,
    id: String,
) -> Result<bidkey_protocol::orders::Order> {
    st.db
        .read(move |tx| {
            let (order, owner) = get_order(tx, &id)?;
            if owner != user.account_id {
                return Err(ServerError::Api(ErrorCode::NotFound));
            }
            if order.status != Status::AwaitingPayment {
                return Err(ErrorCode::InvalidState.into());
            }
            Ok(order)
        })
        .await
}

/// `POST /v1/orders/{id}/alipay/precreate`: an Alipay QR-code order
/// (`alipay.trade.precreate`); the payer scans `qr_code`, Alipay notifies.
async fn alipay_precreate(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let cfg = st
        .payments
        .alipay
        .clone()
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    let order = awaiting_order(&st, user, id).await?;
    let now = st.clock.now();
    let qr = crate::providers::pay_api::alipay_precreate(
        &cfg,
        &order.id,
        order.amount_fen,
        &order.item_zh,
        now,
    )
    .await?;
    Ok(Json(serde_json::json!({ "qr_code": qr })))
}

/// `POST /v1/orders/{id}/wechat/native`: a WeChat Pay Native order; the payer scans
/// `code_url`, WeChat Pay notifies.
async fn wechat_native(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let cfg = st
        .payments
        .wechat
        .clone()
        .filter(|w| w.merchant_key_pkcs8.is_some())
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    let order = awaiting_order(&st, user, id).await?;
    let now = st.clock.now();
    let code_url = crate::providers::pay_api::wechat_native(
        &cfg,
        &order.id,
        order.amount_fen,
        &order.item_zh,
        now,
    )
    .await?;
    Ok(Json(serde_json::json!({ "code_url": code_url })))
}

/// `POST /v1/orders/{id}/wechat/jsapi`: a WeChat Pay JSAPI order for the payer's `openid`;
/// answers the signed parameters for `WeixinJSBridge` / `wx.requestPayment`.
async fn wechat_jsapi(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(req): Json<bidkey_protocol::orders::WechatJsapiRequest>,
) -> Result<Json<serde_json::Value>> {
    let cfg = st
        .payments
        .wechat
        .clone()
        .filter(|w| w.merchant_key_pkcs8.is_some())
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    // An openid is 28 URL-safe characters; allow some room, nothing else.
    let openid = req.openid.trim().to_owned();
    if openid.is_empty()
        || openid.len() > 128
        || !openid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ErrorCode::BadRequest.into());
    }
    let order = awaiting_order(&st, user, id).await?;
    let now = st.clock.now();
    let params = crate::providers::pay_api::wechat_jsapi(
        &cfg,
        &order.id,
        order.amount_fen,
        &order.item_zh,
        &openid,
        now,
    )
    .await?;
    Ok(Json(params))
}

/// `POST /v1/payments/alipay/notify`: Alipay's asynchronous notification. Answers the
/// plain `success` Alipay expects once the order is paid (again: Alipay repeats).
async fn alipay_notify(State(st): State<AppState>, body: Bytes) -> Result<Response> {
    let cfg = st
        .payments
        .alipay
        .clone()
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    let params = form_decode(&body);
    let paid = pay_alipay::verify_notification(&cfg, &params).map_err(|e| {
        tracing::warn!(error = %e, "Alipay notification refused");
        ServerError::Api(ErrorCode::Forbidden)
    })?;
    let now = st.clock.now();
    st.db
        .write(move |tx| {
            settle(
                tx,
                now,
                &paid.order_id,
                paid.amount_fen,
                &format!("alipay-{}", paid.trade_no),
            )
        })
        .await?;
    Ok((StatusCode::OK, "success").into_response())
}

/// `POST /v1/payments/wechat/notify`: WeChat Pay's v3 notification. 204 once paid.
async fn wechat_notify(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let cfg = st
        .payments
        .wechat
        .clone()
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let hs = pay_wechat::Headers {
        timestamp: h("wechatpay-timestamp"),
        nonce: h("wechatpay-nonce"),
        signature: h("wechatpay-signature"),
        serial: h("wechatpay-serial"),
    };
    let now = st.clock.now();
    let paid = pay_wechat::verify_notification(&cfg, &hs, &body, now).map_err(|e| {
        tracing::warn!(error = %e, "WeChat Pay notification refused");
        ServerError::Api(ErrorCode::Forbidden)
    })?;
    st.db
        .write(move |tx| {
            settle(
                tx,
                now,
                &paid.order_id,
                paid.amount_fen,
                &format!("wechat-{}", paid.transaction_id),
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pay `order_id` from a verified notification: the amount must be the order's; a repeat
/// of the same payment changes nothing.
pub fn settle(
    tx: &mut dyn Tx,
    now: i64,
    order_id: &str,
    amount_fen: i64,
    payment_ref: &str,
) -> Result<()> {
    let (order, _owner) = get_order(tx, order_id)?;
    if order.amount_fen != amount_fen {
        return Err(ErrorCode::BadRequest.into());
    }
    if matches!(order.status, Status::Paid | Status::Issued) {
        return Ok(());
    }
    if order.status != Status::AwaitingPayment {
        return Err(ErrorCode::InvalidState.into());
    }
    tx.execute(
        "UPDATE orders SET status = 'paid', paid_at = $1, payment_ref = $2, updated_at = $1 WHERE id = $3 AND status = 'awaiting_payment'",
        &params![now, payment_ref, order_id],
    )?;
    if let Some(app_id) = &order.application_id {
        applications::transition(tx, now, app_id, Status::AwaitingPayment, Status::Paid, None)?;
        crate::enterprises::change::on_paid(tx, now, app_id)?;
    }
    audit::record(
        tx,
        now,
        Event {
            actor: "payment",
            action: "order.paid",
            target: Some(order_id),
            detail: Some(format!("{} {} {payment_ref}", order.item, order.amount_fen)),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// `GET /v1/invoices/{id}`: the invoice, as a file to keep (the owner's only).
async fn download_invoice(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Response> {
    let inv = st
        .db
        .read(move |tx| {
            let row = tx
                .query_opt(
                    "SELECT i.id, i.order_id, i.title, i.tax_number, i.amount_fen, i.created_at, o.account_id \
                     FROM invoices i JOIN orders o ON o.id = i.order_id WHERE i.id = $1",
                    &params![id.as_str()],
                )?
                .ok_or(ServerError::Api(ErrorCode::NotFound))?;
            if row.text(6)? != user.account_id {
                return Err(ServerError::Api(ErrorCode::NotFound));
            }
            Ok(Invoice {
                id: row.text(0)?,
                order_id: row.text(1)?,
                title: row.text(2)?,
                tax_number: row.opt_text(3)?,
                amount_fen: row.i64(4)?,
                created_at: row.i64(5)?,
            })
        })
        .await?;
    let body = serde_json::to_vec_pretty(&inv).map_err(|e| ServerError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"invoice-{}.json\"", inv.id),
            ),
        ],
        body,
    )
        .into_response())
}

/// `application/x-www-form-urlencoded` into a map (`+` is a space).
pub fn form_decode(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let m = form_decode(b"a=1&b=x+y%2Bz&c=%E6%94%AF&bad");
        assert_eq!(m.get("a").map(String::as_str), Some("1"));
        assert_eq!(m.get("b").map(String::as_str), Some("x y+z"));
        assert_eq!(m.get("c").map(String::as_str), Some("支"));
        assert_eq!(m.len(), 3);
    }
}

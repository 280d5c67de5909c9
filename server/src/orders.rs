//! Orders (订单), the sandbox payment provider, invoices, and the RA review queue that
//! turns a reviewed application into an order.

use crate::applications::{self, Application};
use crate::audit::{self, Event};
use crate::auth::{AuthUser, Operator};
use crate::db::{Row, Tx};
use crate::error::{Result, ServerError};
use crate::fees;
use crate::params;
use crate::state::AppState;
use crate::util::new_id;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::orders::{
    self as wire, ApplicationKind, Invoice, InvoiceRequest, PayRequest, ReviewDecision, Status,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/applications", get(my_applications))
        .route("/v1/applications/{id}", get(my_application))
        .route("/v1/orders/{id}/pay", post(pay))
        .route("/v1/orders/{id}/invoice", post(invoice))
}

/// The RA's review queue, on the operator listener only (ADR 0020).
pub fn operator_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/operator/reviews", get(review_queue))
        .route("/v1/operator/reviews/{id}", post(review))
        .route(
            "/v1/operator/reviews/{id}/materials/{material_id}",
            get(crate::enterprises::change::material),
        )
        .route(
            "/v1/operator/orders/{id}/refund",
            post(crate::refunds::retry),
        )
}

/// The fee item an application kind is charged under.
pub fn fee_item(kind: ApplicationKind, enterprise: bool) -> Option<&'static str> {
    use ApplicationKind::*;
    match (kind, enterprise) {
        (Claim | Join | Reapply, true) => Some("enterprise_cert_new"),
        (Personal | Reapply, false) => Some("personal_cert_new"),
        (Renew, true) => Some("enterprise_cert_renew"),
        (Renew, false) => Some("personal_cert_renew"),
        (Recover, _) => Some("cert_reissue"),
        // Charged by what it changes: `enterprises::change::fee_item`.
        (ChangeInfo, _) => None,
        _ => None,
    }
}

const ORDER_COLUMNS: &str = "id, item, amount_fen, status, reason, application_id, created_at, paid_at, account_id, \
     refund_status, refunded_at";

fn order_from_row(r: &Row) -> Result<(wire::Order, String)> {
    let item = r.text(1)?;
    let item_zh = fees::fee(&item).map(|(zh, _)| zh).unwrap_or("").to_owned();
    let status = Status::parse(&r.text(3)?)
        .ok_or_else(|| ServerError::Internal("bad order status".into()))?;
    Ok((
        wire::Order {
            id: r.text(0)?,
            item,
            item_zh,
            amount_fen: r.i64(2)?,
            status,
            reason: r.opt_text(4)?,
            application_id: r.opt_text(5)?,
            created_at: r.i64(6)?,
            paid_at: r.opt_i64(7)?,
            refund_status: r.opt_text(9)?,
            refunded_at: r.opt_i64(10)?,
        },
        r.text(8)?,
    ))
}

/// Load an order and its owner's account id.
pub fn get_order(tx: &mut dyn Tx, id: &str) -> Result<(wire::Order, String)> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
    let r = tx
        .query_opt(&sql, &params![id])?
        .ok_or(ServerError::Api(ErrorCode::NotFound))?;
    order_from_row(&r)
}

/// Create an order for `app` under `item`.
pub fn create_for(tx: &mut dyn Tx, now: i64, app: &Application, item: &str) -> Result<wire::Order> {
    let (_, amount) =
        fees::fee(item).ok_or_else(|| ServerError::Internal(format!("no fee item {item}")))?;
    let id = new_id()?;
    let status = if amount == 0 {
        Status::Paid
    } else {
        Status::AwaitingPayment
    };
    tx.execute(
        "INSERT INTO orders (id, account_id, enterprise_id, application_id, item, amount_fen, status, created_at, updated_at, paid_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
        &params![
            id.as_str(),
            app.account_id.as_str(),
            app.enterprise_id.as_deref(),
            app.id.as_str(),
            item,
            amount,
            status.as_str(),
            now,
            (amount == 0).then_some(now)
        ],
    )?;
    applications::set_order(tx, &app.id, &id)?;
    Ok(get_order(tx, &id)?.0)
}

/// The RA's decision on an application in review. Approval creates the order; a free item
/// goes straight to `paid`. A recovery cannot be approved before its cooling-off ends.
pub fn decide(
    tx: &mut dyn Tx,
    now: i64,
    operator: &str,
    app_id: &str,
    decision: &ReviewDecision,
) -> Result<Application> {
    let app = applications::get(tx, app_id)?;
    // A recovery is approved only after its cooling-off period (ADR 0011), by the server
    // clock: until then the account's other devices and its number may cancel it, and
    // nothing can be paid or enrolled. Refusing it is possible at any time.
    if decision.approve
        && let Some(at) = app.not_before.filter(|at| *at > now)
    {
        return Err(ServerError::NotBefore {
            code: ErrorCode::RecoveryCoolingOff,
            at,
        });
    }
    if decision.approve {
        let item = if app.kind == ApplicationKind::ChangeInfo {
            crate::enterprises::change::fee_item(&app)?
        } else {
            fee_item(app.kind, app.enterprise_id.is_some())
                .ok_or(ServerError::Api(ErrorCode::InvalidState))?
        };
        let order = create_for(tx, now, &app, item)?;
        applications::transition(tx, now, &app.id, Status::PendingReview, order.status, None)?;
        if order.status == Status::Paid {
            crate::enterprises::change::on_paid(tx, now, &app.id)?;
        }
        applications::notify(
            tx,
            now,
            &app.account_id,
            Some(&app.id),
            "您的申请已审核通过，请支付后下载证书。",
            "Your application was approved; pay to download the certificates.",
        )?;
    } else {
        let reason = decision
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .ok_or(ServerError::Api(ErrorCode::BadRequest))?;
        // A paid application not yet issued may still be rejected (the CA finds the
        // materials wrong): its money goes back (`refunds`, ADR 0028).
        let from = if app.status == Status::Paid {
            // A change of information takes effect when paid (ADR 0028): the record and the
            // members' applications are changed already, so it is not undone by a refund.
            if app.kind == ApplicationKind::ChangeInfo {
                return Err(ErrorCode::InvalidState.into());
            }
            Status::Paid
        } else {
            Status::PendingReview
        };
        applications::transition(tx, now, &app.id, from, Status::Rejected, Some(reason))?;
        if from == Status::Paid {
            crate::refunds::on_rejected(tx, now, &app)?;
        }
        applications::notify(
            tx,
            now,
            &app.account_id,
            Some(&app.id),
            &format!("您的申请被驳回：{reason}"),
            &format!("Your application was rejected: {reason}"),
        )?;
    }
    audit::record(
        tx,
        now,
        Event {
            actor: operator,
            action: if decision.approve {
                "review.approved"
            } else {
                "review.rejected"
            },
            target: Some(&app.id),
            detail: Some(app.kind.as_str().to_owned()),
            ..Default::default()
        },
    )?;
    applications::get(tx, app_id)
}

/// Mark an order paid through the sandbox provider; its application becomes `paid`.
pub fn pay_order(
    tx: &mut dyn Tx,
    now: i64,
    account_id: &str,
    order_id: &str,
) -> Result<wire::Order> {
    let (order, owner) = get_order(tx, order_id)?;
    if owner != account_id {
        return Err(ErrorCode::NotFound.into());
    }
    if order.status == Status::Paid || order.status == Status::Issued {
        return Ok(order); // paying twice is harmless: same answer
    }
    if order.status != Status::AwaitingPayment {
        return Err(ErrorCode::InvalidState.into());
    }
    let payment_ref = format!("sandbox-{}", new_id()?);
    tx.execute(
        "UPDATE orders SET status = 'paid', paid_at = $1, payment_ref = $2, updated_at = $1 WHERE id = $3 AND status = 'awaiting_payment'",
        &params![now, payment_ref.as_str(), order_id],
    )?;
    if let Some(app_id) = &order.application_id {
        applications::transition(tx, now, app_id, Status::AwaitingPayment, Status::Paid, None)?;
        crate::enterprises::change::on_paid(tx, now, app_id)?;
    }
    audit::record(
        tx,
        now,
        Event {
            actor: account_id,
            action: "order.paid",
            target: Some(order_id),
            detail: Some(format!("{} {}", order.item, order.amount_fen)),
            ..Default::default()
        },
    )?;
    Ok(get_order(tx, order_id)?.0)
}

/// Mark the order of an application issued (called when its certificates are issued).
pub fn mark_issued(tx: &mut dyn Tx, now: i64, order_id: &str) -> Result<()> {
    tx.execute(
        "UPDATE orders SET status = 'issued', updated_at = $1 WHERE id = $2 AND status = 'paid'",
        &params![now, order_id],
    )?;
    Ok(())
}

/// The applicant's view of an application, with its order.
pub fn view(tx: &mut dyn Tx, app: &Application) -> Result<wire::Application> {
    let order = app
        .order_id
        .as_deref()
        .map(|id| get_order(tx, id).map(|(o, _)| o))
        .transpose()?;
    let enterprise_name = match &app.enterprise_id {
        Some(e) => tx
            .query_opt(
                "SELECT name FROM enterprises WHERE id = $1",
                &params![e.as_str()],
            )?
            .map(|r| r.text(0))
            .transpose()?,
        None => None,
    };
    Ok(wire::Application {
        id: app.id.clone(),
        kind: app.kind,
        status: app.status,
        enterprise_id: app.enterprise_id.clone(),
        enterprise_name,
        reason: app.reason.clone(),
        order,
        created_at: app.created_at,
        updated_at: app.updated_at,
        not_before: app.not_before,
        review_materials: None,
    })
}

/// The reviewer's view: the applicant's, with the materials of a recovery (who asks, from
/// which device, the person's masked identity, the key's lock and the cooling-off).
pub fn review_view(tx: &mut dyn Tx, app: &Application) -> Result<wire::Application> {
    let mut v = view(tx, app)?;
    match app.kind {
        ApplicationKind::Recover => v.review_materials = app.detail.clone(),
        ApplicationKind::ChangeInfo => {
            v.review_materials = Some(crate::enterprises::change::review_materials(tx, app)?)
        }
        _ => {}
    }
    Ok(v)
}

async fn my_applications(
    State(st): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<wire::Application>>> {
    let list = st
        .db
        .read(move |tx| {
            applications::list_for_account(tx, &user.account_id)?
                .iter()
                .map(|a| view(tx, a))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(list))
}

async fn my_application(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<wire::Application>> {
    let app = st
        .db
        .read(move |tx| {
            let app = applications::get(tx, &id)?;
            if app.account_id != user.account_id {
                return Err(ErrorCode::ApplicationNotFound.into());
            }
            view(tx, &app)
        })
        .await?;
    Ok(Json(app))
}

async fn pay(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(req): Json<PayRequest>,
) -> Result<Json<wire::Order>> {
    // The sandbox pays without money: only in sandbox mode (ADR 0014).
    if req.provider != "sandbox" || !st.sandbox {
        return Err(ErrorCode::BadRequest.into());
    }
    let now = st.clock.now();
    let order = st
        .db
        .write(move |tx| pay_order(tx, now, &user.account_id, &id))
        .await?;
    Ok(Json(order))
}

async fn invoice(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(req): Json<InvoiceRequest>,
) -> Result<Json<Invoice>> {
    let title = req.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 100 {
        return Err(ErrorCode::BadRequest.into());
    }
    let now = st.clock.now();
    let inv = st
        .db
        .write(move |tx| {
            let (order, owner) = get_order(tx, &id)?;
            if owner != user.account_id {
                return Err(ServerError::Api(ErrorCode::NotFound));
            }
            if !matches!(order.status, Status::Paid | Status::Issued) || order.amount_fen == 0 {
                return Err(ErrorCode::InvalidState.into());
            }
            let inv_id = new_id()?;
            tx.execute(
                "INSERT INTO invoices (id, order_id, title, tax_number, amount_fen, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &params![inv_id.as_str(), id.as_str(), title.as_str(), req.tax_number.as_deref(), order.amount_fen, now],
            )?;
            Ok(Invoice {
                id: inv_id,
                order_id: id.clone(),
                title: title.clone(),
                tax_number: req.tax_number.clone(),
                amount_fen: order.amount_fen,
                created_at: now,
            })
        })
        .await?;
    Ok(Json(inv))
}

async fn review_queue(
    State(st): State<AppState>,
    _op: Operator,
) -> Result<Json<Vec<wire::Application>>> {
    let list = st
        .db
        .read(|tx| {
            applications::list_in_status(tx, Status::PendingReview)?
                .iter()
                .map(|a| review_view(tx, a))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(list))
}

async fn review(
    State(st): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    Json(decision): Json<ReviewDecision>,
) -> Result<Json<wire::Application>> {
    let now = st.clock.now();
    let app = st
        .db
        .write(move |tx| {
            let app = decide(tx, now, &op.actor(), &id, &decision)?;
            view(tx, &app)
        })
        .await?;
    // A rejected paid order: ask for the refund now; if the vendor fails it stays pending
    // for `POST /v1/operator/orders/{id}/refund`.
    if let Some(order) = app
        .order
        .as_ref()
        .filter(|o| o.refund_status.as_deref() == Some("pending"))
    {
        match crate::refunds::run(&st, &order.id).await {
            Ok(order) => {
                let mut app = app;
                app.order = Some(order);
                return Ok(Json(app));
            }
            Err(e) => tracing::warn!(error = %e, order = %order.id, "refund left pending"),
        }
    }
    Ok(Json(app))
}

//! 搜索企业: by USCC (check character verified) or by a part of the name, with what the
//! caller may do about each hit.

use super::{Enterprise, by_name, by_uscc, normalize_uscc, wire_role};
use crate::auth::AuthUser;
use crate::db::Tx;
use crate::error::Result;
use crate::memberships;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::enterprises::{EnterpriseAction, EnterpriseHit, EnterpriseSearch, SearchBy};
use serde::Deserialize;

/// At most this many hits for a name search.
const MAX_HITS: i64 = 20;

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: String,
}

/// Whether a query is meant as a USCC: 18 letters and digits.
fn looks_like_uscc(q: &str) -> bool {
    q.len() == 18 && q.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What `account_id` may do about `e`.
fn hit(tx: &mut dyn Tx, account_id: &str, e: &Enterprise) -> Result<EnterpriseHit> {
    let my_role = memberships::role_of(tx, &e.id, account_id)?;
    let actions = match (my_role, e.claimed) {
        (Some(_), _) => vec![],
        (None, false) => vec![EnterpriseAction::Claim, EnterpriseAction::Micropay],
        (None, true) => vec![EnterpriseAction::Join, EnterpriseAction::Micropay],
    };
    Ok(EnterpriseHit {
        id: Some(e.id.clone()),
        uscc: e.uscc.clone(),
        name: Some(e.name.clone()),
        registered: true,
        claimed: e.claimed,
        my_role: my_role.map(wire_role),
        actions,
    })
}

/// Run a search for `account_id`.
pub fn run(tx: &mut dyn Tx, account_id: &str, q: &str) -> Result<EnterpriseSearch> {
    let q = q.trim();
    if looks_like_uscc(q) {
        let uscc = normalize_uscc(q)?;
        let results = match by_uscc(tx, &uscc)? {
            Some(e) => vec![hit(tx, account_id, &e)?],
            None => vec![EnterpriseHit {
                id: None,
                uscc,
                name: None,
                registered: false,
                claimed: false,
                my_role: None,
                actions: vec![EnterpriseAction::Claim, EnterpriseAction::Micropay],
            }],
        };
        return Ok(EnterpriseSearch {
            by: SearchBy::Uscc,
            results,
        });
    }
    if q.chars().count() < 2 || q.chars().count() > 100 {
        return Err(ErrorCode::BadRequest.into());
    }
    let found = by_name(tx, q, MAX_HITS)?;
    let results = found
        .iter()
        .map(|e| hit(tx, account_id, e))
        .collect::<Result<Vec<_>>>()?;
    Ok(EnterpriseSearch {
        by: SearchBy::Name,
        results,
    })
}

pub async fn search(
    State(st): State<AppState>,
    user: AuthUser,
    Query(query): Query<SearchQuery>,
) -> Result<Json<EnterpriseSearch>> {
    let out = st
        .db
        .read(move |tx| run(tx, &user.account_id, &query.q))
        .await?;
    Ok(Json(out))
}

//! A change of enterprise information (变更企业信息) once it is paid: the enterprise record
//! takes the new name / legal representative, and **every** member holding an enterprise
//! certificate pair gets a `change_info` application of their own, already `paid` (the
//! enterprise paid once, on the admin's order), under which their phone enrols a new pair
//! with the new subject. Enrolment delivers every escrowed encryption key of the holder
//! again (see `kmc`), so bid files encrypted to the old certificates still open; the old
//! pairs end at the member's `confirm` with reason `affiliationChanged`. Every member is
//! told in the message list.
//!
//! The fee (ADR 0028): the reference guides (file 003: CFCA and 国信CA 收费标准) list the
//! certificate change itself as free (信息变更 免费) and the electronic-seal change as
//! 名称变更 80 元 and 法人变更 50 元 per change; a change of name re-makes the seal model
//! too, so a change of name is charged `change_name` (80 元, covering a legal representative
//! changed in the same request) and a change of only the legal representative
//! `change_legal_rep` (50 元).

use crate::applications::{self, Application, NewApplication};
use crate::audit::{self, Event};
use crate::ca::issue::Holder;
use crate::certs::store;
use crate::db::Tx;
use crate::error::{Result, ServerError};
use crate::params;
use bidkey_protocol::ErrorCode;
use bidkey_protocol::orders::{ApplicationKind, Status};

/// What a `change_info` application asks for, from its `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub old_name: String,
    pub new_name: String,
    pub old_legal_rep: Option<String>,
    pub new_legal_rep: Option<String>,
    /// For a member's application made by the fan-out: the admin's application.
    pub parent: Option<String>,
}

impl Change {
    pub fn of(app: &Application) -> Result<Change> {
        if app.kind != ApplicationKind::ChangeInfo {
            return Err(ErrorCode::InvalidState.into());
        }
        let d: serde_json::Value = app
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .ok_or_else(|| ServerError::Internal("change_info without detail".into()))?;
        let text = |k: &str| d[k].as_str().map(str::to_owned);
        Ok(Change {
            old_name: text("old_name")
                .ok_or_else(|| ServerError::Internal("change_info without old_name".into()))?,
            new_name: text("new_name")
                .ok_or_else(|| ServerError::Internal("change_info without new_name".into()))?,
            old_legal_rep: text("old_legal_rep"),
            new_legal_rep: text("new_legal_rep"),
            parent: text("parent"),
        })
    }

    /// The fee item: a change of name (with or without the legal representative), else a
    /// change of the legal representative only.
    pub fn fee_item(&self) -> &'static str {
        if self.new_name != self.old_name {
            "change_name"
        } else {
            "change_legal_rep"
        }
    }
}

/// The fee item of a `change_info` application.
pub fn fee_item(app: &Application) -> Result<&'static str> {
    Ok(Change::of(app)?.fee_item())
}

/// What the RA reviewer sees of a change (JSON): the old and new values and the uploaded
/// materials (name, type, size, SHA-256), so the licence change notice is checked against
/// what is asked.
pub fn review_materials(tx: &mut dyn Tx, app: &Application) -> Result<String> {
    let mut v: serde_json::Value = app
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .ok_or_else(|| ServerError::Internal("change_info without detail".into()))?;
    let rows = tx.query(
        "SELECT id, name, content_type, size, sha256 FROM uploads WHERE application_id = $1 \
         ORDER BY created_at, id",
        &params![app.id.as_str()],
    )?;
    let mut files = Vec::with_capacity(rows.len());
    for r in &rows {
        files.push(serde_json::json!({
            "id": r.text(0)?,
            "name": r.text(1)?,
            "content_type": r.text(2)?,
            "size": r.i64(3)?,
            "sha256": r.text(4)?,
        }));
    }
    v["materials"] = serde_json::Value::Array(files);
    Ok(v.to_string())
}

/// `GET /v1/operator/reviews/{id}/materials/{material_id}` (operator): one uploaded material
/// of an application, as it was uploaded, for the reviewer to read.
pub async fn material(
    axum::extract::State(st): axum::extract::State<crate::state::AppState>,
    _op: crate::auth::Operator,
    axum::extract::Path((app_id, material_id)): axum::extract::Path<(String, String)>,
) -> Result<axum::response::Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let (content_type, data) = st
        .db
        .read(move |tx| {
            let r = tx
                .query_opt(
                    "SELECT content_type, data FROM uploads WHERE id = $1 AND application_id = $2",
                    &params![material_id.as_str(), app_id.as_str()],
                )?
                .ok_or(ServerError::Api(ErrorCode::NotFound))?;
            Ok::<_, ServerError>((r.text(0)?, r.bytes(1)?))
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, "attachment".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        data,
    )
        .into_response())
}

/// Called in the transaction that makes an application `paid`: for the admin's
/// `change_info` application, apply the change and fan it out to the members. Nothing for
/// any other application (nor for the members' own, which are born paid).
pub fn on_paid(tx: &mut dyn Tx, now: i64, app_id: &str) -> Result<()> {
    let app = applications::get(tx, app_id)?;
    if app.kind != ApplicationKind::ChangeInfo {
        return Ok(());
    }
    let change = Change::of(&app)?;
    if change.parent.is_some() {
        return Ok(());
    }
    let enterprise_id = app
        .enterprise_id
        .clone()
        .ok_or(ServerError::Api(ErrorCode::InvalidState))?;
    crate::enterprises::admin::apply_change_info(tx, now, &app)?;
    // A member who never enrolled under an earlier change would otherwise be issued the
    // earlier name: that application ends here; this change supersedes it.
    let stale = tx.query(
        "SELECT id FROM applications WHERE enterprise_id = $1 AND kind = 'change_info' \
         AND status = 'paid' AND id <> $2",
        &params![enterprise_id.as_str(), app.id.as_str()],
    )?;
    for r in &stale {
        applications::close_open(tx, now, &r.text(0)?, "superseded by a later change")?;
    }
    let members = tx.query(
        "SELECT account_id FROM memberships WHERE enterprise_id = $1 AND status = 'active' \
         ORDER BY created_at, account_id",
        &params![enterprise_id.as_str()],
    )?;
    let mut detail: serde_json::Value = app
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .ok_or_else(|| ServerError::Internal("change_info without detail".into()))?;
    detail["parent"] = serde_json::Value::String(app.id.clone());
    let detail = detail.to_string();
    let key = format!("change-{}", app.id);
    let mut reissued = 0usize;
    for r in &members {
        let account_id = r.text(0)?;
        let holder = Holder {
            account_id: account_id.clone(),
            enterprise_id: Some(enterprise_id.clone()),
        };
        let holds = !store::live_pairs_of(tx, &holder)?.is_empty();
        let own = if account_id == app.account_id {
            // The admin downloads under their own (paid) application.
            Some(app.id.clone())
        } else if holds {
            let child = applications::insert(
                tx,
                now,
                NewApplication {
                    kind: ApplicationKind::ChangeInfo,
                    account_id: &account_id,
                    enterprise_id: Some(&enterprise_id),
                    status: Status::Paid,
                    detail: Some(detail.clone()),
                    idempotency_key: Some(&key),
                },
            )?;
            reissued += 1;
            Some(child.id)
        } else {
            None
        };
        let (zh, en) = message(&change, own.is_some());
        applications::notify(tx, now, &account_id, own.as_deref(), &zh, &en)?;
    }
    audit::record(
        tx,
        now,
        Event {
            actor: "system",
            action: "enterprise.change_fanned_out",
            target: Some(&enterprise_id),
            detail: Some(format!("{} members re-issued under {}", reissued, app.id)),
            ..Default::default()
        },
    )
}

/// The member's message: what changed and, for a certificate holder, to download the new
/// certificate (old bid files still open: their keys come with it).
fn message(c: &Change, download: bool) -> (String, String) {
    let mut zh = format!("企业信息已变更：名称“{}”", c.new_name);
    let mut en = format!("The enterprise information changed: name {}", c.new_name);
    if let Some(rep) = &c.new_legal_rep {
        zh.push_str(&format!("，法定代表人“{rep}”"));
        en.push_str(&format!(", legal representative {rep}"));
    }
    zh.push('。');
    en.push('.');
    if download {
        zh.push_str(
            "请下载新的企业证书；原证书的加密密钥随新证书一并下载，已加密的投标文件仍可解密。",
        );
        en.push_str(
            " Download the new enterprise certificate; the old encryption keys come with it, \
             so bid files encrypted before still open.",
        );
    }
    (zh, en)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(name: &str, rep: Option<&str>) -> Change {
        Change {
            old_name: "宿迁甲有限公司".into(),
            new_name: name.into(),
            old_legal_rep: Some("张三".into()),
            new_legal_rep: rep.map(str::to_owned),
            parent: None,
        }
    }

    #[test]
    fn the_fee_follows_what_changes() {
        assert_eq!(
            change("宿迁乙有限公司", Some("张三")).fee_item(),
            "change_name"
        );
        assert_eq!(
            change("宿迁乙有限公司", Some("赵六")).fee_item(),
            "change_name"
        );
        assert_eq!(
            change("宿迁甲有限公司", Some("赵六")).fee_item(),
            "change_legal_rep"
        );
        assert_eq!(crate::fees::fee("change_name").map(|f| f.1), Some(8_000));
        assert_eq!(
            crate::fees::fee("change_legal_rep").map(|f| f.1),
            Some(5_000)
        );
    }

    #[test]
    fn holders_are_told_to_download() {
        let (zh, en) = message(&change("宿迁乙有限公司", Some("赵六")), true);
        assert!(zh.contains("宿迁乙有限公司") && zh.contains("赵六") && zh.contains("下载"));
        assert!(en.contains("Download"));
        let (zh, _) = message(&change("宿迁乙有限公司", None), false);
        assert!(!zh.contains("下载"));
    }
}

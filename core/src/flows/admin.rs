//! The enterprise admin's screens: 人员管理 (staff list, invite by phone, remove, join
//! requests, 转授管理员), 变更企业信息, 印章管理 (seals), 授权管理 (grants of a member's
//! certificate for a platform) and 专区 (zones). The server checks the caller is the admin of
//! *that* enterprise; a staff member gets `ErrorCode::NotAdmin`.
//!
//! Transferring the admin role, removing staff, adding or replacing seals and changing
//! grants take the admin's PIN (ADR 0018): the phone co-signs the server's challenge naming
//! exactly that action (the mechanism of 注销) and sends the finished session with the
//! action, so a stolen login token alone cannot do them.

use super::{id_segment, query_value};
use crate::Bidkey;
use crate::error::{CoreError, Result};
use crate::i18n::Text;
use crate::wallet::StoredCert;
use bidkey_crypto::sm2::{DEFAULT_ID, message_digest};
use bidkey_protocol::cosign::{AdminAction, CosignPurpose, confirm_challenge};
use bidkey_protocol::enterprises::*;
use bidkey_protocol::orders::Application;
use bidkey_protocol::platforms::*;

/// Largest seal image (the server's limit).
pub const MAX_SEAL_BYTES: usize = 512 * 1024;

/// A change of enterprise information, recorded for review; show `warning` (CA证书一经变更，
/// 不能恢复) with it. Once reviewed and paid, [`Bidkey::enroll`] with the application id
/// re-issues the certificates under the new name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoChange {
    pub application: Application,
    pub warning: Text,
}

/// Which grants to list: by platform, by person, or both; revoked ones on request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    pub platform_id: Option<String>,
    pub account_id: Option<String>,
    /// Also the revoked grants (历史授权记录).
    pub include_revoked: bool,
}

impl GrantFilter {
    pub fn by_platform(platform_id: &str) -> Self {
        GrantFilter {
            platform_id: Some(platform_id.to_owned()),
            ..Default::default()
        }
    }

    pub fn by_person(account_id: &str) -> Self {
        GrantFilter {
            account_id: Some(account_id.to_owned()),
            ..Default::default()
        }
    }

    fn query(&self) -> Result<String> {
        let mut parts = Vec::new();
        if let Some(p) = &self.platform_id {
            parts.push(format!(
                "platform_id={}",
                query_value(id_segment(p, "platform")?)
            ));
        }
        if let Some(a) = &self.account_id {
            parts.push(format!(
                "account_id={}",
                query_value(id_segment(a, "account")?)
            ));
        }
        if self.include_revoked {
            parts.push("include_revoked=true".into());
        }
        Ok(if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        })
    }
}

/// A seal image must be a PNG (checked fully by the server: size, dimensions, chunks).
fn check_seal_png(image: &[u8]) -> Result<()> {
    if image.len() > MAX_SEAL_BYTES {
        return Err(CoreError::InvalidInput {
            field: "seal image size (at most 512 KiB)",
        });
    }
    if !image.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(CoreError::InvalidInput {
            field: "seal image (PNG required)",
        });
    }
    Ok(())
}

fn check_seal_name(name: &str) -> Result<String> {
    let n = name.trim();
    let len = n.chars().count();
    if (1..=50).contains(&len) && !n.chars().any(char::is_control) {
        Ok(n.to_owned())
    } else {
        Err(CoreError::InvalidInput { field: "seal name" })
    }
}

/// The SM3 (hex) of a seal image, as a PIN confirmation names it.
fn image_sm3(png: &[u8]) -> String {
    hex::encode(bidkey_crypto::sm3::sm3(png))
}

/// The signing certificate whose PIN confirms an admin action in `enterprise_id`: the
/// enterprise's own first, then another enterprise's, then a personal one; the newest of each.
fn confirming_cert(certs: Vec<StoredCert>, enterprise_id: &str, at: i64) -> Option<StoredCert> {
    let mut usable: Vec<StoredCert> = certs
        .into_iter()
        .filter(|c| {
            c.usage == "signing" && c.status == "valid" && c.not_before <= at && at < c.not_after
        })
        .collect();
    usable.sort_by_key(|c| {
        (
            c.enterprise_id.as_deref() != Some(enterprise_id),
            c.enterprise_id.is_none(),
            -c.not_after,
        )
    });
    usable.into_iter().next()
}

/// PIN confirmation of admin actions (ADR 0018).
impl Bidkey {
    /// Confirm `action` with the PIN: co-sign the server's challenge for it (checked to name
    /// exactly this action) and return the finished session's id (hex) to send with it. A
    /// wrong PIN is [`CoreError::WrongPin`] and nothing is confirmed.
    async fn confirm_action(&self, action: &AdminAction, pin: &str) -> Result<String> {
        self.require_login()?;
        crate::wallet::check_pin(pin)?;
        let cert = confirming_cert(self.wallet.certs()?, action.enterprise_id(), self.now())
            .ok_or_else(|| {
                CoreError::NotFound("a valid signing certificate to confirm with".into())
            })?;
        let share = self
            .wallet
            .share_with_pin(&cert.serial, pin, self.pin_kdf)
            .await?;
        let session = self
            .open_cosign_session_for(&cert.serial, CosignPurpose::Confirm, Some(action.clone()))
            .await?;
        let sid = hex::encode(&session.session_id);
        // The phone signs only the challenge it expects for this action, never another.
        let challenge = confirm_challenge(&cert.serial, &sid, action);
        if session.challenge.as_deref() != Some(challenge.as_slice()) {
            return Err(CoreError::check(
                "the server's confirmation challenge does not name this action",
            ));
        }
        let public = self.public_key_of(&cert.serial)?;
        let e = message_digest(&public, DEFAULT_ID, &challenge)?;
        self.co_sign_digest(
            &cert.serial,
            &share,
            &e,
            CosignPurpose::Confirm,
            Some(session),
        )
        .await?;
        Ok(sid)
    }
}

/// 人员管理.
impl Bidkey {
    /// The live members, admin first.
    pub async fn staff(&self, enterprise_id: &str) -> Result<Vec<Member>> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        self.api
            .get(&format!("/v1/enterprises/{eid}/members"))
            .await
    }

    /// Invite a real-named account by phone number: a join application already approved
    /// by the admin, waiting for CA review.
    pub async fn invite_staff(&self, enterprise_id: &str, phone: &str) -> Result<Application> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let phone = phone.trim();
        let b = phone.as_bytes();
        if !(b.len() == 11 && b.iter().all(u8::is_ascii_digit) && b[0] == b'1') {
            return Err(CoreError::InvalidInput {
                field: "phone number",
            });
        }
        self.api
            .post(
                &format!("/v1/enterprises/{eid}/members"),
                &InviteRequest {
                    phone: phone.to_owned(),
                    idempotency_key: crate::api::idempotency_key()?,
                },
            )
            .await
    }

    /// Remove a staff member, confirmed with the admin's PIN: their enterprise certificates
    /// and grants are revoked.
    pub async fn remove_staff(
        &self,
        enterprise_id: &str,
        account_id: &str,
        pin: &str,
    ) -> Result<Removed> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let aid = id_segment(account_id, "account")?;
        let action = AdminAction::RemoveStaff {
            enterprise_id: eid.to_owned(),
            account_id: aid.to_owned(),
        };
        let confirmation = self.confirm_action(&action, pin).await?;
        self.api
            .call_confirmed(
                reqwest::Method::DELETE,
                &format!("/v1/enterprises/{eid}/members/{aid}"),
                None::<&()>,
                &confirmation,
            )
            .await
    }

    /// Join requests waiting for the admin.
    pub async fn join_requests(&self, enterprise_id: &str) -> Result<Vec<JoinRequestView>> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        self.api
            .get(&format!("/v1/enterprises/{eid}/join-requests"))
            .await
    }

    /// Approve a join request (it goes on to CA review).
    pub async fn approve_join(
        &self,
        enterprise_id: &str,
        application_id: &str,
    ) -> Result<Application> {
        self.decide_join(enterprise_id, application_id, true, None)
            .await
    }

    /// Reject a join request with a reason the applicant sees.
    pub async fn reject_join(
        &self,
        enterprise_id: &str,
        application_id: &str,
        reason: &str,
    ) -> Result<Application> {
        let r = reason.trim();
        let len = r.chars().count();
        if !(1..=200).contains(&len) {
            return Err(CoreError::InvalidInput {
                field: "reason (1 to 200 characters)",
            });
        }
        self.decide_join(enterprise_id, application_id, false, Some(r))
            .await
    }

    async fn decide_join(
        &self,
        enterprise_id: &str,
        application_id: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<Application> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let app = id_segment(application_id, "application")?;
        self.api
            .post(
                &format!("/v1/enterprises/{eid}/join-requests/{app}"),
                &JoinDecision {
                    approve,
                    reason: reason.map(str::to_owned),
                },
            )
            .await
    }

    /// 转授管理员, confirmed with the admin's PIN: a staff member becomes the admin and the
    /// caller staff. Answers the member list as the new admin sees it.
    pub async fn transfer_admin(
        &self,
        enterprise_id: &str,
        to_account_id: &str,
        pin: &str,
    ) -> Result<Vec<Member>> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let to = id_segment(to_account_id, "account")?;
        let action = AdminAction::TransferAdmin {
            enterprise_id: eid.to_owned(),
            to_account_id: to.to_owned(),
        };
        let confirmation = self.confirm_action(&action, pin).await?;
        self.api
            .call_confirmed(
                reqwest::Method::POST,
                &format!("/v1/enterprises/{eid}/transfer-admin"),
                Some(&TransferAdminRequest {
                    account_id: to.to_owned(),
                }),
                &confirmation,
            )
            .await
    }

    /// 变更企业信息: a new name and/or legal representative, for review. Show
    /// [`InfoChange::warning`] before confirming.
    pub async fn change_enterprise_info(
        &self,
        enterprise_id: &str,
        name: Option<&str>,
        legal_rep: Option<&str>,
    ) -> Result<InfoChange> {
        self.change_enterprise_info_with_materials(enterprise_id, name, legal_rep, Vec::new())
            .await
    }

    /// [`Self::change_enterprise_info`] with the materials for the RA reviewer (工商变更通知书,
    /// the licence): 0 to 5 PNG, JPEG or PDF files as `(name, content type, bytes)`, checked
    /// as a claim's (ADR 0028).
    pub async fn change_enterprise_info_with_materials(
        &self,
        enterprise_id: &str,
        name: Option<&str>,
        legal_rep: Option<&str>,
        materials: Vec<(String, String, Vec<u8>)>,
    ) -> Result<InfoChange> {
        self.require_login()?;
        if materials.len() > crate::flows::enterprise::MAX_MATERIALS {
            return Err(CoreError::InvalidInput {
                field: "change materials (at most 5 files)",
            });
        }
        let materials = materials
            .into_iter()
            .map(|(n, t, d)| crate::flows::enterprise::material(n, t, d))
            .collect::<Result<Vec<_>>>()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let check = |s: &str, field| {
            let n = s.trim();
            let len = n.chars().count();
            if (2..=100).contains(&len) && !n.chars().any(char::is_control) {
                Ok(n.to_owned())
            } else {
                Err(CoreError::InvalidInput { field })
            }
        };
        let name = name.map(|n| check(n, "enterprise name")).transpose()?;
        let legal_rep = legal_rep
            .map(|r| check(r, "legal representative"))
            .transpose()?;
        if name.is_none() && legal_rep.is_none() {
            return Err(CoreError::InvalidInput {
                field: "new name or legal representative",
            });
        }
        let application = self
            .api
            .post(
                &format!("/v1/enterprises/{eid}/change-info"),
                &ChangeInfoRequest {
                    name,
                    legal_rep,
                    materials,
                    idempotency_key: crate::api::idempotency_key()?,
                },
            )
            .await?;
        Ok(InfoChange {
            application,
            warning: Text::ChangeInfoWarning,
        })
    }
}

/// 印章管理.
impl Bidkey {
    /// The enterprise's seals (without images).
    pub async fn seals(&self, enterprise_id: &str) -> Result<Vec<Seal>> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        self.api.get(&format!("/v1/enterprises/{eid}/seals")).await
    }

    /// The GB/T 38540 electronic seals this account may use on `platform_id`, with their
    /// `SESeal` (approved by the CA, within validity, held by this account, granted).
    pub async fn usable_seals_on(
        &self,
        platform_id: &str,
    ) -> Result<Vec<bidkey_protocol::platforms::UsableSealEntry>> {
        self.require_login()?;
        let pid = id_segment(platform_id, "platform")?;
        self.api
            .get(&format!("/v1/seals/usable?platform_id={pid}"))
            .await
    }

    /// Revoke a GB/T 38540 electronic seal (admin).
    pub async fn revoke_seal(&self, enterprise_id: &str, seal_id: &str) -> Result<Seal> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let sid = id_segment(seal_id, "seal")?;
        self.api
            .post(
                &format!("/v1/enterprises/{eid}/seals/{sid}/revoke"),
                &serde_json::json!({}),
            )
            .await
    }

    /// 新增印章 from a PNG, as a GB/T 38540 electronic seal to be approved by the CA: type,
    /// printed size in millimetres and the members granted it; confirmed with the admin's PIN.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_electronic_seal(
        &self,
        enterprise_id: &str,
        name: &str,
        png: Vec<u8>,
        seal_type: u32,
        size_mm: (u32, u32),
        holders: Vec<String>,
        pin: &str,
    ) -> Result<Seal> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let name = check_seal_name(name)?;
        check_seal_png(&png)?;
        let action = AdminAction::AddSeal {
            enterprise_id: eid.to_owned(),
            image_sm3: image_sm3(&png),
        };
        let confirmation = self.confirm_action(&action, pin).await?;
        self.api
            .call_confirmed(
                reqwest::Method::POST,
                &format!("/v1/enterprises/{eid}/seals"),
                Some(&NewSeal {
                    name,
                    image: png,
                    idempotency_key: crate::api::idempotency_key()?,
                    seal_type,
                    width_mm: size_mm.0,
                    height_mm: size_mm.1,
                    holders,
                }),
                &confirmation,
            )
            .await
    }

    /// 新增印章 from a PNG (a round 40 mm official seal nobody holds yet), confirmed with the
    /// admin's PIN.
    pub async fn add_seal(
        &self,
        enterprise_id: &str,
        name: &str,
        png: Vec<u8>,
        pin: &str,
    ) -> Result<Seal> {
        self.add_electronic_seal(enterprise_id, name, png, 1, (40, 40), vec![], pin)
            .await
    }

    /// Rename a seal.
    pub async fn rename_seal(
        &self,
        enterprise_id: &str,
        seal_id: &str,
        name: &str,
    ) -> Result<Seal> {
        let name = check_seal_name(name)?;
        self.update_seal(
            enterprise_id,
            seal_id,
            SealUpdate {
                name: Some(name),
                image: None,
                ..Default::default()
            },
        )
        .await
    }

    /// Replace a seal's image with another PNG, confirmed with the admin's PIN.
    pub async fn replace_seal_image(
        &self,
        enterprise_id: &str,
        seal_id: &str,
        png: Vec<u8>,
        pin: &str,
    ) -> Result<Seal> {
        self.require_login()?;
        check_seal_png(&png)?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let sid = id_segment(seal_id, "seal")?;
        let action = AdminAction::ReplaceSeal {
            enterprise_id: eid.to_owned(),
            seal_id: sid.to_owned(),
            image_sm3: image_sm3(&png),
        };
        let confirmation = self.confirm_action(&action, pin).await?;
        self.api
            .call_confirmed(
                reqwest::Method::PUT,
                &format!("/v1/enterprises/{eid}/seals/{sid}"),
                Some(&SealUpdate {
                    name: None,
                    image: Some(png),
                    ..Default::default()
                }),
                &confirmation,
            )
            .await
    }

    async fn update_seal(
        &self,
        enterprise_id: &str,
        seal_id: &str,
        update: SealUpdate,
    ) -> Result<Seal> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let sid = id_segment(seal_id, "seal")?;
        self.api
            .put(&format!("/v1/enterprises/{eid}/seals/{sid}"), &update)
            .await
    }

    /// The PNG of a seal.
    pub async fn seal_image(&self, enterprise_id: &str, seal_id: &str) -> Result<Vec<u8>> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let sid = id_segment(seal_id, "seal")?;
        self.api
            .get_bytes(&format!("/v1/enterprises/{eid}/seals/{sid}/image"))
            .await
    }

    /// Delete a seal.
    pub async fn delete_seal(&self, enterprise_id: &str, seal_id: &str) -> Result<()> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let sid = id_segment(seal_id, "seal")?;
        let _: serde_json::Value = self
            .api
            .delete(&format!("/v1/enterprises/{eid}/seals/{sid}"))
            .await?;
        Ok(())
    }
}

/// 授权管理 and 专区.
impl Bidkey {
    /// Allow a member's enterprise certificate on a platform, confirmed with the admin's PIN.
    pub async fn add_grant(
        &self,
        enterprise_id: &str,
        account_id: &str,
        platform_id: &str,
        pin: &str,
    ) -> Result<Grant> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let account_id = id_segment(account_id, "account")?;
        let platform_id = id_segment(platform_id, "platform")?;
        let action = AdminAction::AddGrant {
            enterprise_id: eid.to_owned(),
            account_id: account_id.to_owned(),
            platform_id: platform_id.to_owned(),
        };
        let confirmation = self.confirm_action(&action, pin).await?;
        self.api
            .call_confirmed(
                reqwest::Method::POST,
                &format!("/v1/enterprises/{eid}/grants"),
                Some(&GrantRequest {
                    account_id: account_id.to_owned(),
                    platform_id: platform_id.to_owned(),
                }),
                &confirmation,
            )
            .await
    }

    /// Grants of the enterprise, newest first: the admin sees all, staff their own.
    pub async fn grants(&self, enterprise_id: &str, filter: &GrantFilter) -> Result<Vec<Grant>> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let q = filter.query()?;
        self.api
            .get(&format!("/v1/enterprises/{eid}/grants{q}"))
            .await
    }

    /// Revoke a grant, confirmed with the admin's PIN.
    pub async fn revoke_grant(
        &self,
        enterprise_id: &str,
        grant_id: &str,
        pin: &str,
    ) -> Result<Grant> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let gid = id_segment(grant_id, "grant")?;
        let action = AdminAction::RevokeGrant {
            enterprise_id: eid.to_owned(),
            grant_id: gid.to_owned(),
        };
        let confirmation = self.confirm_action(&action, pin).await?;
        self.api
            .call_confirmed(
                reqwest::Method::DELETE,
                &format!("/v1/enterprises/{eid}/grants/{gid}"),
                None::<&()>,
                &confirmation,
            )
            .await
    }

    /// 绑定专区: allowed when the platform's directory lists the enterprise with exactly its
    /// name and USCC (otherwise `ErrorCode::ZoneMismatch`).
    pub async fn bind_zone(&self, enterprise_id: &str, platform_id: &str) -> Result<Zone> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let pid = id_segment(platform_id, "platform")?;
        self.api
            .post(
                &format!("/v1/enterprises/{eid}/zones"),
                &ZoneRequest {
                    platform_id: pid.to_owned(),
                },
            )
            .await
    }

    /// 解绑专区.
    pub async fn unbind_zone(&self, enterprise_id: &str, platform_id: &str) -> Result<()> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let pid = id_segment(platform_id, "platform")?;
        let _: serde_json::Value = self
            .api
            .delete(&format!("/v1/enterprises/{eid}/zones/{pid}"))
            .await?;
        Ok(())
    }

    /// The enterprise's zones (every member sees them).
    pub async fn zones(&self, enterprise_id: &str) -> Result<Vec<Zone>> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        self.api.get(&format!("/v1/enterprises/{eid}/zones")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(serial: &str, enterprise: Option<&str>, not_after: i64) -> StoredCert {
        StoredCert {
            serial: serial.into(),
            pair_id: "p".into(),
            usage: "signing".into(),
            enterprise_id: enterprise.map(str::to_owned),
            enterprise_name: None,
            subject: String::new(),
            der: vec![],
            not_before: 0,
            not_after,
            status: "valid".into(),
        }
    }

    #[test]
    fn the_enterprises_own_certificate_confirms_first() {
        let certs = || {
            vec![
                cert("personal", None, 300),
                cert("other", Some("e2"), 300),
                cert("own-old", Some("e1"), 200),
                cert("own", Some("e1"), 250),
            ]
        };
        let pick = |eid| confirming_cert(certs(), eid, 100).map(|c| c.serial);
        assert_eq!(pick("e1").as_deref(), Some("own"));
        assert_eq!(pick("e3").as_deref(), Some("other"));
        let mut expired = cert("own", Some("e1"), 50);
        expired.status = "valid".into();
        assert_eq!(
            confirming_cert(vec![expired, cert("personal", None, 300)], "e1", 100)
                .map(|c| c.serial)
                .as_deref(),
            Some("personal")
        );
        assert!(confirming_cert(vec![], "e1", 100).is_none());
    }

    #[test]
    fn seal_images_are_png() {
        assert!(check_seal_png(b"\x89PNG\r\n\x1a\n....").is_ok());
        assert!(check_seal_png(b"\xFF\xD8\xFF jpeg").is_err());
        assert!(check_seal_png(&vec![0u8; MAX_SEAL_BYTES + 1]).is_err());
    }

    #[test]
    fn grant_filters() {
        assert_eq!(GrantFilter::default().query().expect("q"), "");
        assert_eq!(
            GrantFilter::by_platform("p1").query().expect("q"),
            "?platform_id=p1"
        );
        let f = GrantFilter {
            account_id: Some("a1".into()),
            include_revoked: true,
            ..Default::default()
        };
        assert_eq!(f.query().expect("q"), "?account_id=a1&include_revoked=true");
        assert!(GrantFilter::by_person("../x").query().is_err());
    }
}

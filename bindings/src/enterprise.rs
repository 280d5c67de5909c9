//! The enterprise and admin screens on the exported object: search, claim, 对公打款, join,
//! messages; 人员管理, 变更企业信息, 印章管理, 授权管理 and 专区. One-line delegations.

use crate::Bidkey;
use crate::convert::{Application, list};
use crate::convert_enterprise::*;
use crate::convert_platforms::{Grant, GrantFilter, Seal, Zone};
use crate::error::BidkeyError;

type Result<T, E = BidkeyError> = std::result::Result<T, E>;

/// Check and normalise a unified social credit code (统一社会信用代码) without the network:
/// 18 characters with a correct check character. Throws `InvalidInput`.
#[uniffi::export]
pub fn check_uscc(uscc: String) -> Result<String> {
    Ok(bidkey_core::flows::enterprise::check_uscc(&uscc)?)
}

/// 企业: as an applicant and member.
#[uniffi::export(async_runtime = "tokio")]
impl Bidkey {
    /// 搜索企业 by part of its name or by its USCC; each hit says what the caller may do.
    pub async fn search_enterprises(&self, query: String) -> Result<EnterpriseSearch> {
        Ok(self.core.search_enterprises(&query).await?.into())
    }

    /// 认领企业 with 1 to 5 material files; the application goes to review, then payment,
    /// then `enroll` fetches the enterprise certificates.
    pub async fn claim_enterprise(
        &self,
        uscc: String,
        name: String,
        legal_rep: Option<String>,
        materials: Vec<MaterialFile>,
    ) -> Result<Application> {
        let files = materials.into_iter().map(Into::into).collect();
        Ok(self
            .core
            .claim_enterprise(&uscc, &name, legal_rep.as_deref(), files)
            .await?
            .into())
    }

    /// 对公打款认证: what to transfer from the corporate account ending in `account_last6`.
    /// Show `micropaymentInstructions`, then poll `micropayment(id)`.
    pub async fn request_micropayment(
        &self,
        uscc: String,
        name: String,
        account_last6: String,
    ) -> Result<Micropayment> {
        Ok(self
            .core
            .request_micropayment(&uscc, &name, &account_last6)
            .await?
            .into())
    }

    /// Where a micro-payment request stands (`MATCHED`: the caller is now a member).
    pub async fn micropayment(&self, id: String) -> Result<Micropayment> {
        Ok(self.core.micropayment(&id).await?.into())
    }

    /// My micro-payment requests.
    pub async fn micropayments(&self) -> Result<Vec<Micropayment>> {
        Ok(list(self.core.micropayments().await?))
    }

    /// 加入企业: ask the admin to become staff.
    pub async fn join_enterprise(&self, enterprise_id: String) -> Result<Application> {
        Ok(self.core.join_enterprise(&enterprise_id).await?.into())
    }

    /// The enterprises I am a member of, with my role in each.
    pub async fn my_enterprises(&self) -> Result<Vec<Enterprise>> {
        Ok(list(self.core.my_enterprises().await?))
    }

    /// One enterprise I am a member of.
    pub async fn enterprise(&self, enterprise_id: String) -> Result<Enterprise> {
        Ok(self.core.enterprise(&enterprise_id).await?.into())
    }

    /// My messages (消息), newest first.
    pub async fn messages(&self) -> Result<Vec<Message>> {
        Ok(list(self.core.messages().await?))
    }

    /// The messages about one application, newest first.
    pub async fn application_messages(&self, application_id: String) -> Result<Vec<Message>> {
        Ok(list(self.core.application_messages(&application_id).await?))
    }

    /// Mark a message read.
    pub async fn mark_message_read(&self, message_id: String) -> Result<()> {
        Ok(self.core.mark_message_read(&message_id).await?)
    }
}

/// 管理员: the server checks the caller is the admin of that enterprise (`not_admin`).
/// Transferring the role, removing staff, adding or replacing seals and changing grants take
/// the admin's certificate PIN (ADR 0018); a wrong one is `WrongPin`, a phone without a
/// signing certificate `NotFound`.
#[uniffi::export(async_runtime = "tokio")]
impl Bidkey {
    /// The live members, admin first.
    pub async fn staff(&self, enterprise_id: String) -> Result<Vec<Member>> {
        Ok(list(self.core.staff(&enterprise_id).await?))
    }

    /// Invite a real-named account by phone: a join application approved by the admin.
    pub async fn invite_staff(&self, enterprise_id: String, phone: String) -> Result<Application> {
        Ok(self.core.invite_staff(&enterprise_id, &phone).await?.into())
    }

    /// Remove a staff member, confirmed with the admin's certificate PIN: their enterprise
    /// certificates and grants are revoked.
    pub async fn remove_staff(
        &self,
        enterprise_id: String,
        account_id: String,
        pin: String,
    ) -> Result<Removed> {
        Ok(self
            .core
            .remove_staff(&enterprise_id, &account_id, &pin)
            .await?
            .into())
    }

    /// Join requests waiting for the admin.
    pub async fn join_requests(&self, enterprise_id: String) -> Result<Vec<JoinRequestView>> {
        Ok(list(self.core.join_requests(&enterprise_id).await?))
    }

    /// Approve a join request (it goes on to CA review).
    pub async fn approve_join(
        &self,
        enterprise_id: String,
        application_id: String,
    ) -> Result<Application> {
        Ok(self
            .core
            .approve_join(&enterprise_id, &application_id)
            .await?
            .into())
    }

    /// Reject a join request with a reason (1 to 200 characters) the applicant sees.
    pub async fn reject_join(
        &self,
        enterprise_id: String,
        application_id: String,
        reason: String,
    ) -> Result<Application> {
        Ok(self
            .core
            .reject_join(&enterprise_id, &application_id, &reason)
            .await?
            .into())
    }

    /// 转授管理员, confirmed with the admin's certificate PIN: a staff member becomes the
    /// admin and the caller staff; answers the member list.
    pub async fn transfer_admin(
        &self,
        enterprise_id: String,
        to_account_id: String,
        pin: String,
    ) -> Result<Vec<Member>> {
        Ok(list(
            self.core
                .transfer_admin(&enterprise_id, &to_account_id, &pin)
                .await?,
        ))
    }

    /// 变更企业信息 (a new name and/or legal representative), for review; show the warning
    /// before confirming.
    pub async fn change_enterprise_info(
        &self,
        enterprise_id: String,
        name: Option<String>,
        legal_rep: Option<String>,
    ) -> Result<InfoChange> {
        Ok(self
            .core
            .change_enterprise_info(&enterprise_id, name.as_deref(), legal_rep.as_deref())
            .await?
            .into())
    }

    /// The enterprise's seals (without images).
    pub async fn seals(&self, enterprise_id: String) -> Result<Vec<Seal>> {
        Ok(list(self.core.seals(&enterprise_id).await?))
    }

    /// 新增印章 from a PNG of at most 512 KiB, confirmed with the admin's certificate PIN.
    pub async fn add_seal(
        &self,
        enterprise_id: String,
        name: String,
        png: Vec<u8>,
        pin: String,
    ) -> Result<Seal> {
        Ok(self
            .core
            .add_seal(&enterprise_id, &name, png, &pin)
            .await?
            .into())
    }

    /// Rename a seal.
    pub async fn rename_seal(
        &self,
        enterprise_id: String,
        seal_id: String,
        name: String,
    ) -> Result<Seal> {
        Ok(self
            .core
            .rename_seal(&enterprise_id, &seal_id, &name)
            .await?
            .into())
    }

    /// Replace a seal's image with another PNG, confirmed with the admin's certificate PIN.
    pub async fn replace_seal_image(
        &self,
        enterprise_id: String,
        seal_id: String,
        png: Vec<u8>,
        pin: String,
    ) -> Result<Seal> {
        Ok(self
            .core
            .replace_seal_image(&enterprise_id, &seal_id, png, &pin)
            .await?
            .into())
    }

    /// The PNG of a seal.
    pub async fn seal_image(&self, enterprise_id: String, seal_id: String) -> Result<Vec<u8>> {
        Ok(self.core.seal_image(&enterprise_id, &seal_id).await?)
    }

    /// Delete a seal.
    pub async fn delete_seal(&self, enterprise_id: String, seal_id: String) -> Result<()> {
        Ok(self.core.delete_seal(&enterprise_id, &seal_id).await?)
    }

    /// Allow a member's enterprise certificate on a platform, confirmed with the admin's
    /// certificate PIN.
    pub async fn add_grant(
        &self,
        enterprise_id: String,
        account_id: String,
        platform_id: String,
        pin: String,
    ) -> Result<Grant> {
        Ok(self
            .core
            .add_grant(&enterprise_id, &account_id, &platform_id, &pin)
            .await?
            .into())
    }

    /// Grants of the enterprise, newest first: the admin sees all, staff their own.
    pub async fn grants(&self, enterprise_id: String, filter: GrantFilter) -> Result<Vec<Grant>> {
        Ok(list(
            self.core.grants(&enterprise_id, &filter.into()).await?,
        ))
    }

    /// Revoke a grant, confirmed with the admin's certificate PIN.
    pub async fn revoke_grant(
        &self,
        enterprise_id: String,
        grant_id: String,
        pin: String,
    ) -> Result<Grant> {
        Ok(self
            .core
            .revoke_grant(&enterprise_id, &grant_id, &pin)
            .await?
            .into())
    }

    /// 绑定专区: the platform's directory must list the enterprise by exactly its name and
    /// USCC (otherwise `Server{code = "zone_mismatch"}`).
    pub async fn bind_zone(&self, enterprise_id: String, platform_id: String) -> Result<Zone> {
        Ok(self
            .core
            .bind_zone(&enterprise_id, &platform_id)
            .await?
            .into())
    }

    /// 解绑专区.
    pub async fn unbind_zone(&self, enterprise_id: String, platform_id: String) -> Result<()> {
        Ok(self.core.unbind_zone(&enterprise_id, &platform_id).await?)
    }

    /// The enterprise's zones (every member sees them).
    pub async fn zones(&self, enterprise_id: String) -> Result<Vec<Zone>> {
        Ok(list(self.core.zones(&enterprise_id).await?))
    }
}

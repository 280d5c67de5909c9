//! Enterprises (企业) as an applicant and member sees them: search by name or USCC, claim
//! (认领企业) with materials, micro-payment verification (对公打款), join (加入企业), my
//! enterprises, and the messages about each application.
//!
//! Certificates for a claim or join application are fetched with [`Bidkey::enroll`] once
//! the application is paid; the wallet records them under the enterprise.

use super::{id_segment, query_value};
use crate::Bidkey;
use crate::error::{CoreError, Result};
use bidkey_protocol::enterprises::*;
use bidkey_protocol::orders::Application;

/// At most this many files per claim (the server's limit).
pub const MAX_MATERIALS: usize = 5;
/// Largest material file (the server's limit).
pub const MAX_MATERIAL_BYTES: usize = 2 * 1024 * 1024;

/// Normalise and check a unified social credit code (统一社会信用代码) locally: 18
/// characters of the GB 32100 alphabet with a correct check character.
pub fn check_uscc(uscc: &str) -> Result<String> {
    let u = uscc.trim().to_ascii_uppercase();
    bidkey_crypto::x509::name::validate_uscc(&u).map_err(|_| CoreError::InvalidInput {
        field: "unified social credit code",
    })?;
    Ok(u)
}

/// Whether a search query is meant as a USCC (as the server reads it).
fn looks_like_uscc(q: &str) -> bool {
    q.len() == 18 && q.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn check_enterprise_name(name: &str, field: &'static str) -> Result<String> {
    let n = name.trim();
    let len = n.chars().count();
    if (2..=100).contains(&len) && !n.chars().any(char::is_control) {
        Ok(n.to_owned())
    } else {
        Err(CoreError::InvalidInput { field })
    }
}

/// Check one claim file: a PNG, JPEG or PDF whose first bytes match its type.
pub(crate) fn material(name: String, content_type: String, data: Vec<u8>) -> Result<Material> {
    let name_len = name.chars().count();
    if name_len == 0 || name_len > 100 || name.chars().any(char::is_control) {
        return Err(CoreError::InvalidInput {
            field: "material file name",
        });
    }
    if data.len() > MAX_MATERIAL_BYTES {
        return Err(CoreError::InvalidInput {
            field: "material size (at most 2 MiB)",
        });
    }
    let content_type = content_type.trim().to_ascii_lowercase();
    let magic_ok = match content_type.as_str() {
        "image/png" => data.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => data.starts_with(&[0xFF, 0xD8, 0xFF]),
        "application/pdf" => data.starts_with(b"%PDF-"),
        _ => false,
    };
    if !magic_ok {
        return Err(CoreError::InvalidInput {
            field: "material type (PNG, JPEG or PDF)",
        });
    }
    Ok(Material {
        name,
        content_type,
        data,
    })
}

impl Bidkey {
    /// 搜索企业 by a part of its name or by its USCC. An 18-character code is checked here
    /// first, so a mistyped code gets a clear error without a round trip.
    pub async fn search_enterprises(&self, query: &str) -> Result<EnterpriseSearch> {
        self.require_login()?;
        let q = query.trim();
        let q = if looks_like_uscc(q) {
            check_uscc(q)?
        } else {
            let len = q.chars().count();
            if !(2..=100).contains(&len) {
                return Err(CoreError::InvalidInput {
                    field: "search text (2 to 100 characters)",
                });
            }
            q.to_owned()
        };
        self.api
            .get(&format!("/v1/enterprises/search?q={}", query_value(&q)))
            .await
    }

    /// 认领企业: apply to become the admin, with the materials for review (营业执照,
    /// 授权书 …) as (file name, content type, bytes). The application then waits for review
    /// and payment; [`Bidkey::enroll`] fetches the enterprise certificates.
    pub async fn claim_enterprise(
        &self,
        uscc: &str,
        name: &str,
        legal_rep: Option<&str>,
        materials: Vec<(String, String, Vec<u8>)>,
    ) -> Result<Application> {
        self.require_login()?;
        let uscc = check_uscc(uscc)?;
        let name = check_enterprise_name(name, "enterprise name")?;
        let legal_rep = legal_rep
            .map(|r| check_enterprise_name(r, "legal representative"))
            .transpose()?;
        if materials.is_empty() || materials.len() > MAX_MATERIALS {
            return Err(CoreError::InvalidInput {
                field: "materials (1 to 5 files)",
            });
        }
        let materials = materials
            .into_iter()
            .map(|(n, t, d)| material(n, t, d))
            .collect::<Result<Vec<_>>>()?;
        let key = crate::api::idempotency_key()?;
        self.api
            .post(
                "/v1/enterprises/claims",
                &ClaimRequest {
                    uscc,
                    name,
                    legal_rep,
                    materials,
                    idempotency_key: key,
                },
            )
            .await
    }

    /// 对公打款认证: ask what to transfer from the corporate account ending in
    /// `account_last6`. Show the amount, the reference (附言), the payee and the deadline
    /// ([`crate::i18n::micropayment_instructions`]); then poll [`Bidkey::micropayment`].
    pub async fn request_micropayment(
        &self,
        uscc: &str,
        name: &str,
        account_last6: &str,
    ) -> Result<Micropayment> {
        self.require_login()?;
        let uscc = check_uscc(uscc)?;
        let name = check_enterprise_name(name, "enterprise name")?;
        let last6 = account_last6.trim();
        if last6.len() != 6 || !last6.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CoreError::InvalidInput {
                field: "last six digits of the account",
            });
        }
        let key = crate::api::idempotency_key()?;
        self.api
            .post(
                "/v1/enterprises/micropayments",
                &MicropaymentRequest {
                    uscc,
                    name,
                    account_last6: last6.to_owned(),
                    idempotency_key: key,
                },
            )
            .await
    }

    /// Where a micro-payment request stands (`matched`: the caller is now a member).
    pub async fn micropayment(&self, id: &str) -> Result<Micropayment> {
        self.require_login()?;
        let id = id_segment(id, "micro-payment")?;
        self.api
            .get(&format!("/v1/enterprises/micropayments/{id}"))
            .await
    }

    /// My micro-payment requests.
    pub async fn micropayments(&self) -> Result<Vec<Micropayment>> {
        self.require_login()?;
        self.api.get("/v1/enterprises/micropayments").await
    }

    /// 加入企业: ask the admin of a claimed enterprise to become staff. After the admin and
    /// the CA approve and the order is paid, [`Bidkey::enroll`] fetches the certificates.
    pub async fn join_enterprise(&self, enterprise_id: &str) -> Result<Application> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        let key = crate::api::idempotency_key()?;
        self.api
            .post(
                &format!("/v1/enterprises/{eid}/join-requests"),
                &JoinRequest {
                    idempotency_key: key,
                },
            )
            .await
    }

    /// The enterprises I am a member of, with my role in each.
    pub async fn my_enterprises(&self) -> Result<Vec<EnterpriseInfo>> {
        self.require_login()?;
        self.api.get("/v1/enterprises/mine").await
    }

    /// One enterprise I am a member of.
    pub async fn enterprise(&self, enterprise_id: &str) -> Result<EnterpriseInfo> {
        self.require_login()?;
        let eid = id_segment(enterprise_id, "enterprise")?;
        self.api.get(&format!("/v1/enterprises/{eid}")).await
    }

    /// My messages (消息), newest first.
    pub async fn messages(&self) -> Result<Vec<Message>> {
        self.require_login()?;
        self.api.get("/v1/messages").await
    }

    /// The messages about one application, newest first.
    pub async fn application_messages(&self, application_id: &str) -> Result<Vec<Message>> {
        let id = id_segment(application_id, "application")?;
        Ok(self
            .messages()
            .await?
            .into_iter()
            .filter(|m| m.application_id.as_deref() == Some(id))
            .collect())
    }

    /// Mark a message read.
    pub async fn mark_message_read(&self, message_id: &str) -> Result<()> {
        self.require_login()?;
        let id = id_segment(message_id, "message")?;
        let _: serde_json::Value = self
            .api
            .post(&format!("/v1/messages/{id}/read"), &serde_json::json!({}))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uscc_check_character() {
        assert_eq!(
            check_uscc(" 91500000ma5u8xgq8q ").expect("valid"),
            "91500000MA5U8XGQ8Q"
        );
        assert!(check_uscc("91500000MA5U8XGQ8A").is_err());
        assert!(check_uscc("9150000").is_err());
    }

    #[test]
    fn materials_must_match_their_type() {
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        assert!(material("a.png".into(), "image/png".into(), png.clone()).is_ok());
        assert!(material("a.png".into(), "application/pdf".into(), png.clone()).is_err());
        assert!(material("".into(), "image/png".into(), png).is_err());
        assert!(
            material(
                "a.exe".into(),
                "application/x-msdownload".into(),
                b"MZ".to_vec()
            )
            .is_err()
        );
    }
}

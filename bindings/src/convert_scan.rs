//! FFI records and enums of the scan flow (扫码): what a platform's QR code asks, what a
//! confirmation did, and the sessions the phone holds. Converted from the core and protocol
//! types at the edge; the wrapped bid-file keys stay in the core (only their file names and
//! recipients are shown).

use crate::convert::{LocalCertificate, list};
use bidkey_core::flows::scan as core_scan;
use bidkey_protocol::scan as wire;

/// The kind of a request, as a plain tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ScanKind {
    /// 绑定
    Bind,
    /// 扫码登录
    Login,
    /// 签名 / 签章
    Sign,
    /// 解密 (开标)
    Decrypt,
    /// 会话
    Session,
}

impl From<wire::ScanKind> for ScanKind {
    fn from(k: wire::ScanKind) -> Self {
        match k {
            wire::ScanKind::Bind => ScanKind::Bind,
            wire::ScanKind::Login => ScanKind::Login,
            wire::ScanKind::Sign => ScanKind::Sign,
            wire::ScanKind::Decrypt => ScanKind::Decrypt,
            wire::ScanKind::Session => ScanKind::Session,
        }
    }
}

impl From<ScanKind> for wire::ScanKind {
    fn from(k: ScanKind) -> Self {
        match k {
            ScanKind::Bind => Self::Bind,
            ScanKind::Login => Self::Login,
            ScanKind::Sign => Self::Sign,
            ScanKind::Decrypt => Self::Decrypt,
            ScanKind::Session => Self::Session,
        }
    }
}

/// Which digest the platform hashed a document with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DigestAlg {
    Sm3,
    Sha256,
}

impl From<wire::DigestAlg> for DigestAlg {
    fn from(a: wire::DigestAlg) -> Self {
        match a {
            wire::DigestAlg::Sm3 => DigestAlg::Sm3,
            wire::DigestAlg::Sha256 => DigestAlg::Sha256,
        }
    }
}

/// Where a seal image goes (盖章位置), in the document's own page coordinates.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SealPlacement {
    /// One of the enterprise's seals (印章管理).
    pub seal_id: String,
    /// 1-based page.
    pub page: u32,
    /// Millimetres from the page's left and top edges; the seal's size in millimetres.
    pub x_mm: u32,
    pub y_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
}

impl From<wire::SealPlacement> for SealPlacement {
    fn from(s: wire::SealPlacement) -> Self {
        Self {
            seal_id: s.seal_id,
            page: s.page,
            x_mm: s.x_mm,
            y_mm: s.y_mm,
            width_mm: s.width_mm,
            height_mm: s.height_mm,
        }
    }
}

/// A seal to place, as the confirmation screen shows it: its name and image (PNG, from the
/// server), page, position and size.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SealView {
    pub seal_id: String,
    pub seal_name: String,
    pub image_png: Vec<u8>,
    pub page: u32,
    pub x_mm: u32,
    pub y_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
}

impl From<bidkey_core::scan::SealView> for SealView {
    fn from(s: bidkey_core::scan::SealView) -> Self {
        Self {
            seal_id: s.seal_id,
            seal_name: s.seal_name,
            image_png: s.image_png,
            page: s.page,
            x_mm: s.x_mm,
            y_mm: s.y_mm,
            width_mm: s.width_mm,
            height_mm: s.height_mm,
        }
    }
}

/// One document as the phone shows it before signing; it signs exactly this (the digest
/// becomes the CMS messageDigest).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DocumentView {
    pub name: String,
    pub digest_alg: DigestAlg,
    /// The whole digest, lower-case hex.
    pub digest_hex: String,
    /// `1a2b3c4d…9e8f7a6b`.
    pub digest_short: String,
    pub page_count: u32,
    pub seal: Option<SealView>,
}

impl From<bidkey_core::scan::DocumentView> for DocumentView {
    fn from(d: bidkey_core::scan::DocumentView) -> Self {
        Self {
            name: d.name,
            digest_alg: d.digest_alg.into(),
            digest_hex: d.digest_hex,
            digest_short: d.digest_short,
            page_count: d.page_count,
            seal: d.seal.map(Into::into),
        }
    }
}

/// One document the platform asks to sign (or seal); it hashed the file itself.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DocumentToSign {
    pub name: String,
    pub digest_alg: DigestAlg,
    pub digest: Vec<u8>,
    /// Lower-case hex of `digest`, to show beside the name.
    pub digest_hex: String,
    pub page_count: u32,
    pub seal: Option<SealPlacement>,
}

impl From<wire::DocumentToSign> for DocumentToSign {
    fn from(d: wire::DocumentToSign) -> Self {
        Self {
            name: d.name,
            digest_alg: d.digest_alg.into(),
            digest_hex: hex_of(&d.digest),
            digest: d.digest,
            page_count: d.page_count,
            seal: d.seal.map(Into::into),
        }
    }
}

/// A bid file whose key the platform asks this phone to unwrap at the opening.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WrappedFileKey {
    pub file_name: String,
    /// Serial (hex) of the encryption certificate the key was wrapped to.
    pub recipient_serial: String,
}

impl From<wire::WrappedFileKey> for WrappedFileKey {
    fn from(f: wire::WrappedFileKey) -> Self {
        Self {
            file_name: f.file_name,
            recipient_serial: f.recipient_serial,
        }
    }
}

/// What exactly the platform asks for.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ScanAction {
    /// 绑定: link the certificate to the user's account `platform_user` on the platform.
    Bind {
        platform_user: String,
        uscc: Option<String>,
    },
    /// 扫码登录: sign a login challenge.
    Login { uscc: Option<String> },
    /// 签名 / 签章: sign each document's digest (and place a seal).
    Sign {
        uscc: Option<String>,
        documents: Vec<DocumentToSign>,
    },
    /// 解密 (开标): unwrap the keys of the bidder's files; not before `opening_at`.
    Decrypt {
        tender_id: String,
        tender_name: String,
        opening_at: i64,
        files: Vec<WrappedFileKey>,
    },
    /// 会话: further requests may come without a QR code for `ttl_secs`; with
    /// `auto_confirm_allowed` the user may let the phone confirm sign and login requests.
    Session {
        ttl_secs: u64,
        auto_confirm_allowed: bool,
        uscc: Option<String>,
    },
}

impl From<wire::ScanAction> for ScanAction {
    fn from(a: wire::ScanAction) -> Self {
        match a {
            wire::ScanAction::Bind {
                platform_user,
                uscc,
            } => ScanAction::Bind {
                platform_user,
                uscc,
            },
            wire::ScanAction::Login { uscc } => ScanAction::Login { uscc },
            wire::ScanAction::Sign { uscc, documents } => ScanAction::Sign {
                uscc,
                documents: list(documents),
            },
            wire::ScanAction::Decrypt {
                tender_id,
                tender_name,
                opening_at,
                files,
            } => ScanAction::Decrypt {
                tender_id,
                tender_name,
                opening_at,
                files: list(files),
            },
            wire::ScanAction::Session {
                ttl_secs,
                auto_confirm_allowed,
                uscc,
            } => ScanAction::Session {
                ttl_secs,
                auto_confirm_allowed,
                uscc,
            },
        }
    }
}

/// A verified request, ready to show (扫码确认页): who asks (name and origin from the
/// platform's certificate), the four digits its page also shows, and what exactly is asked.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScanView {
    pub request_id: String,
    pub kind: ScanKind,
    pub platform_id: String,
    pub platform_name: String,
    pub origin: String,
    /// Compare with the four digits on the platform's page.
    pub verification_code: String,
    pub expires_at: i64,
    /// Set when the request came inside a session.
    pub session_id: Option<String>,
    pub action: ScanAction,
    /// For sign: each document as shown (name, digest, pages, seal image and place).
    pub documents: Vec<DocumentView>,
    /// The certificate that will sign (bind, login, sign, session); null for decrypt.
    pub certificate: Option<LocalCertificate>,
    /// For decrypt: the files whose key this phone can unwrap.
    pub decryptable_files: Vec<String>,
    /// The confirmation page in the core's words, one line each (platform, origin, the
    /// four digits to compare, the action, documents or files, certificate, validity):
    /// show these, not words of the app's own.
    pub page_zh: Vec<String>,
    pub page_en: Vec<String>,
}

impl From<core_scan::ScanView> for ScanView {
    fn from(v: core_scan::ScanView) -> Self {
        use bidkey_core::i18n::Lang;
        use bidkey_core::scan::words::lines;
        let (page_zh, page_en) = (lines(&v, Lang::Zh), lines(&v, Lang::En));
        Self {
            page_zh,
            page_en,
            request_id: v.request_id,
            kind: v.kind.into(),
            platform_id: v.platform_id,
            platform_name: v.platform_name,
            origin: v.origin,
            verification_code: v.verification_code,
            expires_at: v.expires_at,
            session_id: v.session_id,
            action: v.action.into(),
            documents: list(v.documents),
            certificate: v.certificate.map(Into::into),
            decryptable_files: v.decryptable_files,
        }
    }
}

/// A session opened by confirming a session request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionGrant {
    pub session_id: String,
    pub expires_at: i64,
    pub auto_confirm: bool,
}

impl From<wire::SessionGrant> for SessionGrant {
    fn from(g: wire::SessionGrant) -> Self {
        Self {
            session_id: g.session_id,
            expires_at: g.expires_at,
            auto_confirm: g.auto_confirm,
        }
    }
}

/// What a confirmation did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScanDone {
    pub request_id: String,
    pub kind: ScanKind,
    pub signatures: u32,
    pub files_decrypted: u32,
    pub session: Option<SessionGrant>,
    /// Confirmed by the phone itself in an auto-confirm session.
    pub auto_confirmed: bool,
}

impl From<core_scan::ScanDone> for ScanDone {
    fn from(d: core_scan::ScanDone) -> Self {
        Self {
            request_id: d.request_id,
            kind: d.kind.into(),
            signatures: count(d.signatures),
            files_decrypted: count(d.files_decrypted),
            session: d.session.map(Into::into),
            auto_confirmed: d.auto_confirmed,
        }
    }
}

/// A session this account holds with a platform (会话列表).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScanSession {
    pub session_id: String,
    pub platform_id: String,
    pub platform_name: String,
    pub origin: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// This phone confirms the session's sign and login requests by itself.
    pub auto_confirm: bool,
    pub ended_at: Option<i64>,
}

impl From<wire::ScanSession> for ScanSession {
    fn from(s: wire::ScanSession) -> Self {
        Self {
            session_id: s.session_id,
            platform_id: s.platform_id,
            platform_name: s.platform_name,
            origin: s.origin,
            created_at: s.created_at,
            expires_at: s.expires_at,
            auto_confirm: s.auto_confirm,
            ended_at: s.ended_at,
        }
    }
}

/// A session request that reached the phone without a scan; `done` is set when the phone
/// already confirmed it (auto-confirm session): show it as done, not as a question.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionRequest {
    pub view: ScanView,
    pub done: Option<ScanDone>,
}

impl From<core_scan::SessionRequest> for SessionRequest {
    fn from(r: core_scan::SessionRequest) -> Self {
        Self {
            view: r.view.into(),
            done: r.done.map(Into::into),
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_action_keeps_documents_and_shows_digests() {
        let a = ScanAction::from(wire::ScanAction::Sign {
            uscc: Some("91500000MA5U8XGQ8Q".into()),
            documents: vec![wire::DocumentToSign {
                name: "商务标.pdf".into(),
                digest_alg: wire::DigestAlg::Sm3,
                digest: vec![0xab, 0x01],
                page_count: 4,
                seal: Some(wire::SealPlacement {
                    seal_id: "s1".into(),
                    page: 3,
                    x_mm: 120,
                    y_mm: 240,
                    width_mm: 42,
                    height_mm: 42,
                }),
            }],
        });
        let ScanAction::Sign { uscc, documents } = a else {
            panic!("sign expected");
        };
        assert_eq!(uscc.as_deref(), Some("91500000MA5U8XGQ8Q"));
        assert_eq!(documents[0].digest_hex, "ab01");
        assert_eq!(documents[0].digest_alg, DigestAlg::Sm3);
        assert_eq!(documents[0].seal.as_ref().map(|s| s.page), Some(3));
    }

    #[test]
    fn decrypt_action_drops_the_wrapped_bytes() {
        let a = ScanAction::from(wire::ScanAction::Decrypt {
            tender_id: "T1".into(),
            tender_name: "道路工程".into(),
            opening_at: 42,
            files: vec![wire::WrappedFileKey {
                file_name: "投标文件.bid".into(),
                recipient_serial: "0a".into(),
                wrapped_key: vec![1, 2, 3],
                header_hash: vec![4; 32],
            }],
        });
        assert_eq!(
            a,
            ScanAction::Decrypt {
                tender_id: "T1".into(),
                tender_name: "道路工程".into(),
                opening_at: 42,
                files: vec![WrappedFileKey {
                    file_name: "投标文件.bid".into(),
                    recipient_serial: "0a".into(),
                }],
            }
        );
    }
}

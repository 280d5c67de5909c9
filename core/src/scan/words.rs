//! The words of the scan confirmation page (扫码确认), in zh and en: who asks, the four
//! digits to compare, what is asked and with which certificate. Every shell shows these
//! lines as they are (the Android and iOS pages, the CLI's `scan show`), so a person sees
//! the same page whichever app they use.

use crate::flows::scan::ScanView;
use crate::i18n::{Lang, beijing_time};
use bidkey_protocol::scan::{DigestAlg, ScanAction, ScanKind};

/// The name of what a request asks for.
pub fn kind_label(kind: ScanKind, lang: Lang) -> &'static str {
    match (kind, lang) {
        (ScanKind::Bind, Lang::Zh) => "绑定证书",
        (ScanKind::Bind, Lang::En) => "Bind certificate",
        (ScanKind::Login, Lang::Zh) => "扫码登录",
        (ScanKind::Login, Lang::En) => "Log in",
        (ScanKind::Sign, Lang::Zh) => "签名签章",
        (ScanKind::Sign, Lang::En) => "Sign",
        (ScanKind::Decrypt, Lang::Zh) => "开标解密",
        (ScanKind::Decrypt, Lang::En) => "Decrypt bids",
        (ScanKind::Session, Lang::Zh) => "开启会话",
        (ScanKind::Session, Lang::En) => "Open a session",
    }
}

const COMPARE: [&str; 2] = [
    "（请与平台页面核对）",
    " (compare with the platform's page)",
];
const AUTO_ALLOWED: [&str; 2] = [
    "平台允许自动确认签名和登录",
    "The platform allows auto-confirm of signing and login",
];
const NOT_MINE: [&str; 2] = ["（非本机证书）", " (not for this phone)"];

fn pick(pair: [&'static str; 2], lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => pair[0],
        Lang::En => pair[1],
    }
}

/// The fixed sentences of the page (for the check that no shell repeats them).
pub fn fixed(lang: Lang) -> [&'static str; 3] {
    [
        pick(COMPARE, lang),
        pick(AUTO_ALLOWED, lang),
        pick(NOT_MINE, lang),
    ]
}

/// Everything the person must see before the PIN, one line each.
pub fn lines(v: &ScanView, lang: Lang) -> Vec<String> {
    let zh = lang == Lang::Zh;
    let t = |z: &'static str, e: &'static str| if zh { z } else { e };
    let mut lines = vec![
        format!("{}{}", t("平台：", "Platform: "), v.platform_name),
        format!("{}{}", t("网址：", "Origin: "), v.origin),
        format!(
            "{}{}{}",
            t("校验码：", "Verification code: "),
            v.verification_code,
            pick(COMPARE, lang)
        ),
        format!("{}{}", t("操作：", "Action: "), kind_label(v.kind, lang)),
    ];
    match &v.action {
        ScanAction::Bind { platform_user, .. } => {
            lines.push(format!(
                "{}{platform_user}",
                t("平台账号：", "Platform account: ")
            ));
        }
        ScanAction::Login { .. } => {}
        // The core's own view of each document: exactly what it will sign.
        ScanAction::Sign { .. } => {
            for d in &v.documents {
                let alg = match d.digest_alg {
                    DigestAlg::Sm3 => "SM3",
                    DigestAlg::Sha256 => "SHA-256",
                };
                lines.push(if zh {
                    format!(
                        "· {}（{alg} {}，共{}页）",
                        d.name, d.digest_short, d.page_count
                    )
                } else {
                    format!(
                        "· {} ({alg} {}, {} pages)",
                        d.name, d.digest_short, d.page_count
                    )
                });
                if let Some(s) = &d.seal {
                    lines.push(if zh {
                        format!(
                            "  盖章：{}，第{}页，距左{}毫米、距上{}毫米，{}×{}毫米",
                            s.seal_name, s.page, s.x_mm, s.y_mm, s.width_mm, s.height_mm
                        )
                    } else {
                        format!(
                            "  Seal: {}, page {}, {} mm from the left, {} mm from the top, {}×{} mm",
                            s.seal_name, s.page, s.x_mm, s.y_mm, s.width_mm, s.height_mm
                        )
                    });
                }
            }
        }
        ScanAction::Decrypt {
            tender_name,
            opening_at,
            files,
            ..
        } => {
            lines.push(format!("{}{tender_name}", t("项目：", "Tender: ")));
            lines.push(format!(
                "{}{}",
                t("开标时间：", "Opening: "),
                beijing_time(*opening_at)
            ));
            for f in files {
                let mine = v.decryptable_files.contains(&f.file_name);
                let note = if mine { "" } else { pick(NOT_MINE, lang) };
                lines.push(format!("· {}{note}", f.file_name));
            }
        }
        ScanAction::Session {
            ttl_secs,
            auto_confirm_allowed,
            ..
        } => {
            let minutes = ttl_secs / 60;
            lines.push(if zh {
                format!("会话时长：{minutes}分钟")
            } else {
                format!("Session length: {minutes} min")
            });
            if *auto_confirm_allowed {
                lines.push(pick(AUTO_ALLOWED, lang).to_owned());
            }
        }
    }
    if let Some(c) = &v.certificate {
        let who = c.enterprise_name.as_deref().unwrap_or(&c.subject);
        lines.push(format!(
            "{}{who} · {}",
            t("使用证书：", "Certificate: "),
            c.serial
        ));
    }
    lines.push(format!(
        "{}{}",
        t("有效期至 ", "Valid until "),
        beijing_time(v.expires_at)
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet::StoredCert;
    use bidkey_protocol::scan::WrappedFileKey;

    fn view(action: ScanAction, kind: ScanKind) -> ScanView {
        ScanView {
            request_id: "r".into(),
            kind,
            platform_id: "p".into(),
            platform_name: "重庆公共资源交易平台".into(),
            origin: "https://ggzy.example.cn".into(),
            verification_code: "4821".into(),
            expires_at: 0,
            session_id: None,
            action,
            documents: vec![],
            certificate: Some(StoredCert {
                serial: "0A1B".into(),
                pair_id: "p1".into(),
                usage: "signing".into(),
                enterprise_id: None,
                enterprise_name: Some("重庆比德科技有限公司".into()),
                subject: "CN=x".into(),
                der: vec![],
                not_before: 0,
                not_after: 0,
                status: "active".into(),
            }),
            decryptable_files: vec!["mine.bid".into()],
        }
    }

    #[test]
    fn the_page_names_the_platform_the_digits_and_the_certificate() {
        let v = view(ScanAction::Login { uscc: None }, ScanKind::Login);
        let zh = lines(&v, Lang::Zh);
        assert_eq!(zh[0], "平台：重庆公共资源交易平台");
        assert_eq!(zh[2], "校验码：4821（请与平台页面核对）");
        assert_eq!(zh[3], "操作：扫码登录");
        assert_eq!(zh[4], "使用证书：重庆比德科技有限公司 · 0A1B");
        assert_eq!(zh[5], "有效期至 1970-01-01 08:00");
        let en = lines(&v, Lang::En);
        assert_eq!(
            en[2],
            "Verification code: 4821 (compare with the platform's page)"
        );
    }

    #[test]
    fn decrypt_marks_files_for_other_phones_and_sessions_say_auto_confirm() {
        let file = |n: &str| WrappedFileKey {
            file_name: n.into(),
            recipient_serial: "01".into(),
            wrapped_key: vec![],
            header_hash: vec![0; 32],
        };
        let v = view(
            ScanAction::Decrypt {
                tender_id: "t".into(),
                tender_name: "某某工程".into(),
                opening_at: 0,
                files: vec![file("mine.bid"), file("other.bid")],
            },
            ScanKind::Decrypt,
        );
        let zh = lines(&v, Lang::Zh);
        assert!(zh.contains(&"· mine.bid".to_owned()), "{zh:?}");
        assert!(
            zh.contains(&"· other.bid（非本机证书）".to_owned()),
            "{zh:?}"
        );
        let s = view(
            ScanAction::Session {
                ttl_secs: 1800,
                auto_confirm_allowed: true,
                uscc: None,
            },
            ScanKind::Session,
        );
        let en = lines(&s, Lang::En);
        assert!(en.contains(&"Session length: 30 min".to_owned()), "{en:?}");
        assert!(en.contains(&AUTO_ALLOWED[1].to_owned()), "{en:?}");
    }
}

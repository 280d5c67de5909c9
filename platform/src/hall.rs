//! The opening hall (开标大厅, issue 17 §5): one row per bid with its recipients, the
//! bidder's self-check, its pre-authorisation, who opened it and how, and why it did not
//! open, each in Chinese and English a bidder understands. Pure: the platform gathers the
//! facts (the file's header, what the phone reported, the server's pre-authorisation state,
//! its own opening record) and [`row`] words them; the demo platform's page and the
//! gateway's `POST /v1/opening-hall` both show these rows.

use crate::opening::Words;
use bidkey_protocol::platforms::PreauthState;
use serde::{Deserialize, Serialize};

/// How a bid was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenedHow {
    /// A recipient's phone answered a decrypt request at the opening.
    OnlineScan,
    /// The server released the bidder's pre-authorisation at the opening time.
    Preauthorised,
    /// k of the n recipients each released their share.
    KOfN,
}

impl OpenedHow {
    /// In the opening hall's words.
    pub fn zh(self) -> &'static str {
        match self {
            OpenedHow::OnlineScan => "扫码解密",
            OpenedHow::Preauthorised => "预授权解密",
            OpenedHow::KOfN => "多人联合解密",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            OpenedHow::OnlineScan => "opened by a scan",
            OpenedHow::Preauthorised => "opened by pre-authorisation",
            OpenedHow::KOfN => "opened jointly (k-of-n)",
        }
    }
}

/// A 解密自检 the bidder's phone reported for the file as the platform stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfCheckSeen {
    pub ok: bool,
    /// The phone's clock when it checked, unix seconds.
    pub checked_at: i64,
    pub device: String,
    /// Why it would not open (when `ok` is false), as the phone worded it.
    #[serde(default)]
    pub reason_zh: Option<String>,
    #[serde(default)]
    pub reason_en: Option<String>,
}

/// The platform's record of an opening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenedSeen {
    pub how: OpenedHow,
    /// The person who scanned, the share holders, or the bidder who pre-authorised.
    pub by: String,
    pub opened_at: i64,
    /// The opened file is the one signed at upload (SM3) and every chunk authenticated.
    #[serde(default = "yes")]
    pub intact: bool,
}

fn yes() -> bool {
    true
}

/// What the platform knows about one bid.
#[derive(Debug, Clone, Copy)]
pub struct HallFacts<'a> {
    /// The recipients' encryption-certificate serials, in the header's order.
    pub recipients: &'a [String],
    /// The header's threshold (1: any one recipient).
    pub threshold: u8,
    /// The recipients known able to answer now (valid encryption certificate, granted);
    /// `None` when not known.
    pub able: Option<&'a [String]>,
    pub self_check: Option<&'a SelfCheckSeen>,
    /// The server's `GET /v1/preauth/state` for the file; `None` when not asked.
    pub preauth: Option<&'a PreauthState>,
    pub opened: Option<&'a OpenedSeen>,
    /// Why the last attempt to open it failed ([`crate::opening::failure_words`]).
    pub failure: Option<&'a Words>,
    /// k-of-n shares received so far at the opening.
    pub shares_received: usize,
}

/// One line of the hall: a state a program can test and its words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub state: String,
    pub zh: String,
    pub en: String,
}

fn line(state: &str, zh: impl Into<String>, en: impl Into<String>) -> Line {
    Line {
        state: state.to_owned(),
        zh: zh.into(),
        en: en.into(),
    }
}

/// One bid in the hall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HallRow {
    /// The recipients' encryption-certificate serials, in the header's order.
    pub recipients: Vec<String>,
    /// 1: any recipient opens it; k: any k together.
    pub threshold: u8,
    pub recipients_line: Line,
    /// `none`, `ok` or `failed`.
    pub self_check: Line,
    /// `unknown`, `none`, `withdrawn`, `partial` (k-of-n, fewer than k), `ready`, `released`.
    pub preauth: Line,
    /// `waiting`, `collecting` (k-of-n shares), `failed`, `opened`, `mismatch`.
    pub opening: Line,
    pub opened_how: Option<OpenedHow>,
    /// Something the bidder must act on before the opening, in words.
    pub warnings: Vec<Words>,
}

/// Unix seconds as `YYYY-MM-DD HH:MM` in Beijing time (UTC+8), as the hall shows times.
pub fn fmt_time(t: i64) -> String {
    let t = t + 8 * 3600;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// The hall's row for one bid.
pub fn row(f: &HallFacts<'_>) -> HallRow {
    let recipients = f.recipients.to_vec();
    let n = recipients.len();
    let k = f.threshold.max(1);
    let mut warnings = Vec::new();
    let recipients_line = if k >= 2 {
        line(
            "k_of_n",
            format!("{n} 人，需其中 {k} 人联合解密"),
            format!("{n} recipients, any {k} of them together open it"),
        )
    } else {
        line(
            "any_one",
            format!("{n} 人，任一人可解密"),
            format!("{n} recipient(s), any one opens it"),
        )
    };
    if let Some(able) = f.able {
        let have = recipients.iter().filter(|s| able.contains(s)).count();
        if have < usize::from(k) && f.opened.is_none() {
            warnings.push(if have == 0 {
                Words {
                    zh: "⚠ 无人可解密：接收人的加密证书均已失效或不再获授权，请重新加密上传".into(),
                    en: "⚠ no recipient can open it: every recipient's encryption certificate is no longer valid or granted; encrypt and upload again".into(),
                }
            } else {
                Words {
                    zh: format!(
                        "⚠ 只有 {have} 位接收人仍可解密，需要 {k} 位：请重新加密上传"
                    ),
                    en: format!(
                        "⚠ only {have} recipient(s) can still open it and {k} are needed; encrypt and upload again"
                    ),
                }
            });
        }
    }
    let self_check = match f.self_check {
        None => {
            if f.opened.is_none() {
                warnings.push(Words {
                    zh: "尚未解密自检：请在开标前用手机确认可以解密".into(),
                    en: "not self-checked yet: check on the phone before the opening that it opens"
                        .into(),
                });
            }
            line("none", "未自检", "not self-checked")
        }
        Some(c) if c.ok => line(
            "ok",
            format!("可解密 ✓（{}，{}）", fmt_time(c.checked_at), c.device),
            format!(
                "decryptable ✓ ({} UTC+8, {})",
                fmt_time(c.checked_at),
                c.device
            ),
        ),
        Some(c) => {
            let zh = c.reason_zh.as_deref().unwrap_or("自检未通过");
            let en = c
                .reason_en
                .as_deref()
                .or(c.reason_zh.as_deref())
                .unwrap_or("the self-check failed");
            if f.opened.is_none() {
                warnings.push(Words {
                    zh: format!("⚠ 自检未通过：{zh}"),
                    en: format!("⚠ the self-check failed: {en}"),
                });
            }
            line("failed", format!("✗ {zh}"), format!("✗ {en}"))
        }
    };
    let preauth = match f.preauth {
        None => line("unknown", "—", "—"),
        Some(p) if p.released_at.is_some() => {
            let t = fmt_time(p.released_at.unwrap_or_default());
            line(
                "released",
                format!("已预授权，已于 {t} 释放给本平台"),
                format!("pre-authorised; released to this platform at {t} UTC+8"),
            )
        }
        Some(p) if p.live == 0 && p.withdrawn > 0 => line(
            "withdrawn",
            "投标人已撤回预授权",
            "the bidder withdrew the pre-authorisation",
        ),
        Some(p) if p.live == 0 => line("none", "未预授权", "not pre-authorised"),
        Some(p) if p.threshold >= 2 && p.live < u32::from(p.threshold) => line(
            "partial",
            format!(
                "已有 {} / {} 位授权人员预授权，尚不足以不经扫码开标",
                p.live, p.threshold
            ),
            format!(
                "{} of {} members pre-authorised: not enough to open without a scan",
                p.live, p.threshold
            ),
        ),
        Some(p) => {
            let t = p.opening_at.map(fmt_time).unwrap_or_default();
            let who = if p.threshold >= 2 {
                format!("{} 位授权人员", p.live)
            } else {
                "投标人".to_owned()
            };
            line(
                "ready",
                format!("{who}已预授权：{t} 开标时无需手机在线即可解密"),
                format!("pre-authorised: opens at {t} UTC+8 with no phone online"),
            )
        }
    };
    let opening = match (f.opened, f.failure) {
        (Some(o), _) if o.intact => line(
            "opened",
            format!(
                "已解密（{}，{}，{}）",
                o.how.zh(),
                o.by,
                fmt_time(o.opened_at)
            ),
            format!(
                "opened ({}, by {}, {} UTC+8)",
                o.how.en(),
                o.by,
                fmt_time(o.opened_at)
            ),
        ),
        (Some(_), _) => line(
            "mismatch",
            "解密结果与上传时签名的文件不符",
            "what opened is not the file signed at upload",
        ),
        (None, Some(w)) => line("failed", w.zh.clone(), w.en.clone()),
        (None, None) if k >= 2 && f.shares_received > 0 => line(
            "collecting",
            format!("需 {k} / {n} 人联合解密（已收到 {} 份）", f.shares_received),
            format!(
                "needs {k} of {n} to open together ({} share(s) received)",
                f.shares_received
            ),
        ),
        (None, None) => line("waiting", "待解密", "not opened yet"),
    };
    HallRow {
        recipients,
        threshold: k,
        recipients_line,
        self_check,
        preauth,
        opening,
        opened_how: f.opened.map(|o| o.how),
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct H {
        recipients: Vec<String>,
        threshold: u8,
    }

    fn header(n: usize, k: u8) -> H {
        H {
            recipients: (0..n).map(|i| format!("0{i}")).collect(),
            threshold: k,
        }
    }

    fn facts(h: &H) -> HallFacts<'_> {
        HallFacts {
            recipients: &h.recipients,
            threshold: h.threshold,
            able: None,
            self_check: None,
            preauth: None,
            opened: None,
            failure: None,
            shares_received: 0,
        }
    }

    #[test]
    fn times_show_in_beijing_time() {
        // 2026-01-01T00:00:00Z is 08:00 in Beijing.
        assert_eq!(fmt_time(1_767_225_600), "2026-01-01 08:00");
        assert_eq!(fmt_time(0), "1970-01-01 08:00");
    }

    #[test]
    fn a_fresh_bid_asks_for_a_self_check() {
        let h = header(2, 1);
        let r = row(&facts(&h));
        assert_eq!(r.recipients.len(), 2);
        assert_eq!(r.self_check.state, "none");
        assert_eq!(r.opening.state, "waiting");
        assert!(r.warnings[0].zh.contains("尚未解密自检"));
    }

    #[test]
    fn self_check_pre_authorisation_and_opening_in_words() {
        let h = header(3, 2);
        let check = SelfCheckSeen {
            ok: true,
            checked_at: 1_767_225_600,
            device: "Pixel 8".into(),
            reason_zh: None,
            reason_en: None,
        };
        let partial = PreauthState {
            live: 1,
            withdrawn: 0,
            threshold: 2,
            opening_at: Some(1_767_225_600),
            released_at: None,
        };
        let able = vec![h.recipients[0].clone()];
        let r = row(&HallFacts {
            self_check: Some(&check),
            preauth: Some(&partial),
            able: Some(&able),
            shares_received: 1,
            ..facts(&h)
        });
        assert_eq!(r.self_check.zh, "可解密 ✓（2026-01-01 08:00，Pixel 8）");
        assert_eq!(r.preauth.state, "partial");
        assert!(r.preauth.zh.contains("1 / 2"), "{:?}", r.preauth);
        assert_eq!(r.opening.state, "collecting");
        assert!(
            r.warnings[0].zh.contains("只有 1 位接收人"),
            "{:?}",
            r.warnings
        );
        let opened = OpenedSeen {
            how: OpenedHow::KOfN,
            by: "李四、王五".into(),
            opened_at: 1_767_225_660,
            intact: true,
        };
        let r = row(&HallFacts {
            opened: Some(&opened),
            ..facts(&h)
        });
        assert_eq!(
            r.opening.zh,
            "已解密（多人联合解密，李四、王五，2026-01-01 08:01）"
        );
        assert_eq!(r.opened_how, Some(OpenedHow::KOfN));
        assert!(r.warnings.is_empty());
        let withdrawn = PreauthState {
            live: 0,
            withdrawn: 1,
            ..partial
        };
        let failure =
            crate::opening::failure_words(&crate::PlatformError::Server("InvalidState: x".into()));
        let r = row(&HallFacts {
            preauth: Some(&withdrawn),
            failure: Some(&failure),
            able: Some(&[]),
            ..facts(&h)
        });
        assert_eq!(r.preauth.state, "withdrawn");
        assert_eq!(r.opening.en, "the bidder withdrew the pre-authorisation");
        assert!(r.warnings.iter().any(|w| w.zh.contains("无人可解密")));
    }
}

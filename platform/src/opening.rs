//! The opening hall's words (issue 17 §5): why a bid did not open, in Chinese and English a
//! bidder understands, from the SDK's errors.

use crate::error::PlatformError;

/// A sentence in Chinese and in English.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    pub zh: String,
    pub en: String,
}

fn w(zh: impl Into<String>, en: impl Into<String>) -> Words {
    Words {
        zh: zh.into(),
        en: en.into(),
    }
}

/// Why opening a bid failed, for the bidder and the hall.
pub fn failure_words(e: &PlatformError) -> Words {
    match e {
        PlatformError::WrongKey => w(
            "得到的密钥打不开这份投标文件（不是它的密钥）",
            "the key received does not open this bid file (it is not its key)",
        ),
        PlatformError::HeaderTampered => w(
            "投标文件的文件头在上传后被改动",
            "the bid file's header was changed after upload",
        ),
        PlatformError::ChunkTampered { index } | PlatformError::ChunkReordered { index, .. } => w(
            format!("投标文件第 {index} 块已损坏"),
            format!("part {index} of the bid file is damaged"),
        ),
        PlatformError::Truncated { .. } | PlatformError::TrailingData => w(
            "平台保存的投标文件不完整",
            "the bid file the platform keeps is incomplete",
        ),
        PlatformError::NotEnoughShares { have, need } => w(
            format!(
                "还需要 {} 位授权人员扫码（已有 {have} / 需要 {need}）",
                usize::from(*need).saturating_sub(*have)
            ),
            format!(
                "{} more authorised member(s) must scan ({have} of {need})",
                usize::from(*need).saturating_sub(*have)
            ),
        ),
        PlatformError::NotEnoughPreauths { have, need } => w(
            format!(
                "只有 {have} 位授权人员预授权，需要 {need} 位，不能预授权解密：请 {need} 位授权人员扫码解密"
            ),
            format!(
                "only {have} of the {need} authorised members pre-authorised, so it cannot open by pre-authorisation: {need} of them must scan"
            ),
        ),
        PlatformError::Rejected(reason) => w(
            format!(
                "投标人在手机上拒绝了解密{}",
                reason
                    .as_deref()
                    .map(|r| format!("：{r}"))
                    .unwrap_or_default()
            ),
            format!(
                "the bidder refused on the phone{}",
                reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        ),
        PlatformError::Server(m) if m.starts_with("TooEarly") => w(
            "尚未到开标时间（以 Bidkey 服务器时间为准）",
            "the opening time has not come yet (by the Bidkey server's clock)",
        ),
        PlatformError::Server(m) if m.starts_with("NotFound") => w(
            "这份投标文件没有预授权开标",
            "this bid file was not pre-authorised for opening",
        ),
        PlatformError::Server(m) if m.starts_with("InvalidState") => w(
            "投标人已撤回预授权",
            "the bidder withdrew the pre-authorisation",
        ),
        PlatformError::Network(_) => w(
            "暂时无法连接 Bidkey 服务，请稍后重试",
            "cannot reach the Bidkey service right now; try again shortly",
        ),
        e => w(format!("解密失败：{e}"), format!("opening failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_in_words() {
        let too_early = failure_words(&PlatformError::Server("TooEarly: not yet".into()));
        assert!(too_early.zh.contains("尚未到开标时间"));
        assert!(too_early.en.contains("not come yet"));
        let shares = failure_words(&PlatformError::NotEnoughShares { have: 1, need: 3 });
        assert!(shares.zh.contains("还需要 2 位"), "{shares:?}");
        assert!(shares.en.starts_with("2 more"), "{shares:?}");
        let pre = failure_words(&PlatformError::NotEnoughPreauths { have: 1, need: 2 });
        assert!(pre.zh.starts_with("只有 1 位授权人员预授权"), "{pre:?}");
        assert!(pre.en.starts_with("only 1 of the 2"), "{pre:?}");
        let chunk = failure_words(&PlatformError::ChunkTampered { index: 4 });
        assert!(chunk.zh.contains("第 4 块"));
        assert_eq!(
            failure_words(&PlatformError::Server("InvalidState: x".into())).en,
            "the bidder withdrew the pre-authorisation"
        );
    }
}

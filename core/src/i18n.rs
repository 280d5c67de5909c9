//! User-visible strings of the core, in Chinese and English. Server refusals carry their own
//! two messages; these are the core's own.

/// A language the apps show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// A string the core shows people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// Shown before a certificate is revoked (the warning users know from 标证通).
    RevokeWarning,
    /// Shown before enterprise information is changed.
    ChangeInfoWarning,
    /// Shown when a key locks.
    KeyLockedHelp,
    /// Shown when the phone finds recoverable certificates after login.
    RecoverPrompt,
    /// The network is down.
    NetworkDown,
}

impl Text {
    pub fn get(self, lang: Lang) -> &'static str {
        use Text::*;
        match (self, lang) {
            (RevokeWarning, Lang::Zh) => {
                "CA证书一经注销，不能恢复，无法解密原有文件，请确认是否注销此证书？（注：注销证书不退还相关费用）"
            }
            (RevokeWarning, Lang::En) => {
                "A revoked certificate cannot be restored and files encrypted to it can no longer be decrypted. Revoke this certificate? (Fees are not refunded.)"
            }
            (ChangeInfoWarning, Lang::Zh) => "CA证书一经变更，不能恢复。",
            (ChangeInfoWarning, Lang::En) => {
                "Once the certificate is changed it cannot be restored."
            }
            (KeyLockedHelp, Lang::Zh) => {
                "证书密码连续输错5次，证书已锁定。请重新进行实名认证并输入短信验证码解锁。"
            }
            (KeyLockedHelp, Lang::En) => {
                "The PIN was wrong 5 times in a row and the key is locked. Verify your identity again and enter the SMS code to unlock it."
            }
            (RecoverPrompt, Lang::Zh) => "系统检测到您有未找回证书，是否前往找回？",
            (RecoverPrompt, Lang::En) => {
                "Certificates of yours can be recovered to this phone. Recover them now?"
            }
            (NetworkDown, Lang::Zh) => "网络不可用，请检查网络后重试。",
            (NetworkDown, Lang::En) => "No network. Check the connection and try again.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages() {
        use Text::*;
        for t in [
            RevokeWarning,
            ChangeInfoWarning,
            KeyLockedHelp,
            RecoverPrompt,
            NetworkDown,
        ] {
            assert!(!t.get(Lang::Zh).is_empty());
            assert!(t.get(Lang::En).is_ascii());
        }
    }
}

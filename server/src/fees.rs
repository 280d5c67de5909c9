//! The fee table (收费标准), in fen, as the CA guides list it for certificates on a phone.

/// `(item key, 中文 name, amount in fen)`.
pub const FEES: &[(&str, &str, i64)] = &[
    ("enterprise_cert_new", "单位数字证书新办（首年）", 15_000),
    ("enterprise_cert_renew", "单位数字证书延期（每年）", 10_000),
    ("personal_cert_new", "个人数字证书新办（首年）", 7_000),
    ("personal_cert_renew", "个人数字证书延期（每年）", 2_000),
    ("cert_reissue", "证书补办", 5_000),
    ("change_info", "证书变更", 0),
    ("unlock", "解锁（密码重置）", 0),
];

/// Look up a fee item.
pub fn fee(item: &str) -> Option<(&'static str, i64)> {
    FEES.iter()
        .find(|(k, _, _)| *k == item)
        .map(|(_, zh, fen)| (*zh, *fen))
}

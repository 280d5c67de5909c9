//! The fee table (收费标准), in fen, as the CA guides list it for certificates on a phone.

/// `(item key, 中文 name, amount in fen)`.
pub const FEES: &[(&str, &str, i64)] = &[
    ("enterprise_cert_new", "单位数字证书新办（首年）", 15_000),
    ("enterprise_cert_renew", "单位数字证书延期（每年）", 10_000),
    ("personal_cert_new", "个人数字证书新办（首年）", 7_000),
    ("personal_cert_renew", "个人数字证书延期（每年）", 2_000),
    ("cert_reissue", "证书补办", 5_000),
    // 变更 (file 003, CFCA and 国信CA 收费标准): the certificate change is free, the seal
    // change 80 元 (name) / 50 元 (legal representative): ADR 0028.
    ("change_name", "变更单位名称", 8_000),
    ("change_legal_rep", "变更法定代表人", 5_000),
    ("unlock", "解锁（密码重置）", 0),
];

/// Look up a fee item.
pub fn fee(item: &str) -> Option<(&'static str, i64)> {
    FEES.iter()
        .find(|(k, _, _)| *k == item)
        .map(|(_, zh, fen)| (*zh, *fen))
}

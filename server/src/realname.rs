//! Real-name verification (实名认证) through pluggable providers: CFCA (中金), Alipay
//! (支付宝) and bank-card four-factor (银行卡四要素), and enterprises in the registry. The
//! operator's verification gateway serves them in a deployment
//! ([`crate::providers::realname_http`]); the sandbox provider (sandbox mode only) stands in
//! for all: it accepts well-formed data and refuses the rest.

use crate::error::{Result, ServerError};
use bidkey_protocol::accounts::{RealNameMethod, RealNameRequest};

/// The verdict of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Verified,
    Refused(&'static str),
}

/// A real-name verification service. Calls may block on the network: reach them through
/// [`person`] and [`enterprise`], which run them off the async workers.
pub trait RealNameProvider: Send + Sync {
    /// A person: ID number and name (with face or phone at the provider), or the bank
    /// card's four factors. An error is the provider failing, not a refusal.
    fn verify(&self, req: &RealNameRequest) -> Result<Verdict>;
    /// An enterprise in the registry: its unified social credit code and registered name.
    fn verify_enterprise(&self, uscc: &str, name: &str) -> Result<Verdict>;
}

/// [`RealNameProvider::verify`] on a blocking thread.
pub async fn person(
    provider: std::sync::Arc<dyn RealNameProvider>,
    req: RealNameRequest,
) -> Result<Verdict> {
    tokio::task::spawn_blocking(move || provider.verify(&req))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?
}

/// [`RealNameProvider::verify_enterprise`] on a blocking thread.
pub async fn enterprise(
    provider: std::sync::Arc<dyn RealNameProvider>,
    uscc: String,
    name: String,
) -> Result<Verdict> {
    tokio::task::spawn_blocking(move || provider.verify_enterprise(&uscc, &name))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?
}

/// Accepts a Chinese name and a resident ID number whose GB 11643 check digit is right;
/// for the bank-card method also a card number passing the Luhn check and a mobile number.
#[derive(Debug, Default)]
pub struct SandboxRealName;

impl RealNameProvider for SandboxRealName {
    fn verify(&self, req: &RealNameRequest) -> Result<Verdict> {
        Ok(sandbox_verdict(req))
    }

    /// The registry is not consulted: the USCC's check character is checked on claim.
    fn verify_enterprise(&self, _uscc: &str, name: &str) -> Result<Verdict> {
        Ok(if name.trim().is_empty() {
            Verdict::Refused("name")
        } else {
            Verdict::Verified
        })
    }
}

fn sandbox_verdict(req: &RealNameRequest) -> Verdict {
    {
        let name = req.name.trim();
        if name.is_empty() || name.chars().count() > 30 {
            return Verdict::Refused("name");
        }
        if !valid_id_number(&req.id_number) {
            return Verdict::Refused("id_number");
        }
        if req.method == RealNameMethod::BankCard4 {
            let card_ok = req.bank_card.as_deref().is_some_and(luhn_ok);
            let phone_ok = req
                .bank_phone
                .as_deref()
                .is_some_and(crate::util::valid_phone);
            if !card_ok {
                return Verdict::Refused("bank_card");
            }
            if !phone_ok {
                return Verdict::Refused("bank_phone");
            }
        }
        Verdict::Verified
    }
}

/// GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check character (0-9 or X).
pub fn valid_id_number(id: &str) -> bool {
    let b = id.as_bytes();
    if b.len() != 18 {
        return false;
    }
    match (id.get(..17).and_then(id_check_character), b.get(17)) {
        (Some(expected), Some(c)) => char::from(c.to_ascii_uppercase()) == expected,
        _ => false,
    }
}

/// The check character (ISO 7064 MOD 11-2) of the first 17 digits of a resident ID number;
/// `None` unless `body` is exactly 17 ASCII digits.
pub fn id_check_character(body: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = body.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(char::from(CHECK[(sum % 11) as usize]))
}

/// Luhn check of a bank card number (12–19 digits).
pub fn luhn_ok(card: &str) -> bool {
    let b = card.as_bytes();
    if !(12..=19).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = v * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                v
            }
        })
        .sum();
    sum % 10 == 0
}

/// `110101199003074514` → `110***********4514`.
pub fn mask_id_number(id: &str) -> String {
    if id.len() == 18 && id.is_ascii() {
        format!("{}***********{}", &id[..3], &id[14..])
    } else {
        "***".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers() {
        // The example number of GB 11643-1999 appendix and a check digit X case.
        assert!(valid_id_number("11010519491231002X"));
        assert!(valid_id_number("110101199003074514"));
        assert!(!valid_id_number("110101199003074515"));
        assert!(!valid_id_number("11010119900307451"));
        assert!(!valid_id_number("11010119900307451a"));
        assert_eq!(mask_id_number("110101199003074514"), "110***********4514");
    }

    #[test]
    fn cards() {
        assert!(luhn_ok("6222021234567890123") || luhn_ok("4111111111111111"));
        assert!(luhn_ok("4111111111111111"));
        assert!(!luhn_ok("4111111111111112"));
        assert!(!luhn_ok("41111"));
    }

    #[test]
    fn sandbox() {
        let mut req = RealNameRequest {
            method: RealNameMethod::Cfca,
            name: "张三".into(),
            id_number: "110101199003074514".into(),
            bank_card: None,
            bank_phone: None,
        };
        assert_eq!(SandboxRealName.verify(&req).ok(), Some(Verdict::Verified));
        req.method = RealNameMethod::BankCard4;
        assert_eq!(
            SandboxRealName.verify(&req).ok(),
            Some(Verdict::Refused("bank_card"))
        );
        req.bank_card = Some("4111111111111111".into());
        req.bank_phone = Some("13800138000".into());
        assert_eq!(SandboxRealName.verify(&req).ok(), Some(Verdict::Verified));
        req.id_number = "110101199003074515".into();
        assert_eq!(
            SandboxRealName.verify(&req).ok(),
            Some(Verdict::Refused("id_number"))
        );
    }
}

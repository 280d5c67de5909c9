//! Login passwords: at least 8 characters, stored as Argon2id PHC strings. Hashing runs on
//! the blocking pool, never on the async workers or inside a database transaction.

use crate::error::{Result, ServerError};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use bidkey_protocol::ErrorCode;

pub const MIN_LEN: usize = 8;

pub fn check_strength(password: &str) -> Result<()> {
    if password.chars().count() < MIN_LEN || password.len() > 256 {
        Err(ErrorCode::WeakPassword.into())
    } else {
        Ok(())
    }
}

/// Hash on the blocking pool.
pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = bidkey_crypto::rng::bytes::<16>()?;
        Argon2::default()
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServerError::Internal(format!("password hash: {e}")))
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))?
}

/// Verify on the blocking pool; `false` for a wrong password or an unusable hash.
pub async fn verify(password: String, stored: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), stored.as_str())
            .is_ok()
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("correct horse".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), h.clone()).await.expect("v"));
        assert!(!verify("wrong horse".into(), h).await.expect("v"));
        assert!(check_strength("1234567").is_err());
        assert!(check_strength("12345678").is_ok());
    }
}

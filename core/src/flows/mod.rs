//! The user flows, one module per area; each adds methods to [`crate::Bidkey`].

pub mod account;
pub mod admin;
pub mod bids;
pub mod certs;
pub mod enroll;
pub mod enterprise;
pub mod platforms;
pub mod recovery;
pub mod scan;
pub mod settings;

#[cfg(test)]
mod enroll_tests;
#[cfg(test)]
pub(crate) mod fakes;
#[cfg(test)]
mod flow_tests;

use crate::error::{CoreError, Result};

/// An id the server made, checked before it goes into a request path, so a bad value from a
/// shell can never reach another route.
pub(crate) fn id_segment<'a>(id: &'a str, field: &'static str) -> Result<&'a str> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(id)
    } else {
        Err(CoreError::InvalidInput { field })
    }
}

/// Percent-encode a query value (everything but the RFC 3986 unreserved characters).
pub(crate) fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_query_values() {
        assert!(id_segment("0a1b2c", "id").is_ok());
        assert!(id_segment("", "id").is_err());
        assert!(id_segment("../admin", "id").is_err());
        assert!(id_segment("a?b", "id").is_err());
        assert_eq!(query_value("a b&c"), "a%20b%26c");
        assert_eq!(query_value("宿"), "%E5%AE%BF");
    }
}

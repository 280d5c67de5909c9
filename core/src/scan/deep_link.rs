//! Same-device use: a `bidkey://scan?…` link a platform's page offers to a bidder browsing on
//! the phone itself, so the bidder taps instead of scanning. The link carries exactly what
//! the QR code would; this turns it into the same [`ScanUri`] the camera would have read,
//! and the app then calls `scan` with it, so the request goes through every check a scanned
//! one does (the relay, the platform's signature and certificate, the origin, the four
//! digits to compare). Nothing here trusts the link more than a QR code.

use bidkey_protocol::scan::ScanUri;

/// The longest link taken: a QR code of the protocol is far shorter.
const MAX_LINK: usize = 2048;

/// Why a link is not a scan request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// Not `bidkey://scan?…` (another scheme, host, a path or a fragment).
    NotScan,
    /// Longer than [`MAX_LINK`], or a bad `%XX` escape or one that is not UTF-8.
    Malformed,
    /// The request inside is not one a QR code could carry.
    Invalid(String),
}

/// Parse a deep link into what a scanned QR code would give. Browsers and the platforms'
/// link builders may percent-encode the query values (`relay=https%3A%2F%2Fhost`); each value
/// is decoded once, then the result must pass [`ScanUri::parse`] as a QR code's text does.
pub fn scan_uri_from_link(link: &str) -> Result<ScanUri, LinkError> {
    let link = link.trim();
    if link.len() > MAX_LINK {
        return Err(LinkError::Malformed);
    }
    // The scheme is case-insensitive in URLs (Android hands over what the page wrote).
    let (scheme, rest) = link.split_once("://").ok_or(LinkError::NotScan)?;
    if !scheme.eq_ignore_ascii_case("bidkey") {
        return Err(LinkError::NotScan);
    }
    let query = rest.strip_prefix("scan?").ok_or(LinkError::NotScan)?;
    if query.contains('#') {
        return Err(LinkError::NotScan);
    }
    let mut decoded = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        let (k, v) = pair.split_once('=').ok_or(LinkError::Malformed)?;
        if i > 0 {
            decoded.push('&');
        }
        decoded.push_str(k);
        decoded.push('=');
        decoded.push_str(&percent_decode(v)?);
    }
    // A decoded value holding `&` or `=` would smuggle a parameter in: ScanUri::parse sees
    // the whole text and refuses duplicates, unknown names and bad values.
    ScanUri::parse(&format!("bidkey://scan?{decoded}"))
        .map_err(|e| LinkError::Invalid(e.to_string()))
}

/// `%XX` escapes decoded once (`+` stays `+`: the values are not form data).
fn percent_decode(v: &str) -> Result<String, LinkError> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(LinkError::Malformed)?;
            let hex = std::str::from_utf8(hex).map_err(|_| LinkError::Malformed)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| LinkError::Malformed)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| LinkError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";
    const CODE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const K: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn qr() -> ScanUri {
        ScanUri {
            relay: "https://bidkey.example.cn:8443".into(),
            request_id: ID.into(),
            t: 42,
            code: CODE.into(),
            k: Some(K.into()),
        }
    }

    #[test]
    fn a_link_gives_exactly_what_the_qr_code_gives() {
        let text = qr().to_string();
        assert_eq!(scan_uri_from_link(&text), Ok(qr()));
        assert_eq!(scan_uri_from_link(&text).map(|u| u.to_string()), Ok(text));
    }

    #[test]
    fn percent_encoded_values_and_the_scheme_case_are_accepted() {
        let link = format!(
            "BIDKEY://scan?v=1&relay=https%3A%2F%2Fbidkey.example.cn%3a8443&id={ID}&t=42&code={CODE}&k={K}"
        );
        assert_eq!(scan_uri_from_link(&link), Ok(qr()));
        let without_k = format!(
            "bidkey://scan?v=1&relay=https://bidkey.example.cn:8443&id={ID}&t=42&code={CODE}"
        );
        assert_eq!(
            scan_uri_from_link(&without_k).map(|u| u.k),
            Ok(None),
            "a link without the reply key is a QR code without one"
        );
    }

    #[test]
    fn other_links_are_not_scan_requests() {
        let good = qr().to_string();
        for link in [
            "https://bidkey.example.cn/scan?v=1".to_owned(),
            "bidkey://login?v=1".to_owned(),
            "bidkey://scan/x?v=1".to_owned(),
            good.replace("bidkey://", "bidkey:"),
            format!("{good}#frag"),
            "bidkey".to_owned(),
        ] {
            assert_eq!(scan_uri_from_link(&link), Err(LinkError::NotScan), "{link}");
        }
    }

    #[test]
    fn smuggled_and_malformed_values_are_refused() {
        let good = qr().to_string();
        // An encoded `&` would add a second `id` once decoded: ScanUri refuses duplicates.
        let smuggled = good.replace("&t=42", &format!("&t=42%26id%3D{}", "f".repeat(32)));
        assert!(matches!(
            scan_uri_from_link(&smuggled),
            Err(LinkError::Invalid(_))
        ));
        for bad in ["%", "%4", "%zz", "%ff"] {
            let link = good.replace("&t=42", &format!("&t=42{bad}"));
            assert_eq!(
                scan_uri_from_link(&link),
                Err(LinkError::Malformed),
                "{bad}"
            );
        }
        let relay_elsewhere = good.replace("https://bidkey.example.cn:8443", "https%3A%2F%2Fa%2Fb");
        assert!(matches!(
            scan_uri_from_link(&relay_elsewhere),
            Err(LinkError::Invalid(_))
        ));
        let long = format!("{good}&x={}", "a".repeat(MAX_LINK));
        assert_eq!(scan_uri_from_link(&long), Err(LinkError::Malformed));
        let missing = good.replace(&format!("&code={CODE}"), "");
        assert!(matches!(
            scan_uri_from_link(&missing),
            Err(LinkError::Invalid(_))
        ));
    }
}

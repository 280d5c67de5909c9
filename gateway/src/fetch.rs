//! Fetching a PDF to seal from a URL the caller gives (issue 16), without letting the caller
//! reach what the gateway can reach and they cannot (SSRF): `https` only, to public
//! addresses only, unless the gateway's configuration allows a host by name (then `http` and
//! private addresses are allowed for it, e.g. the platform's own file server); the address
//! checked is the one connected to (pinned, so DNS cannot change it in between); no
//! redirects; a size limit while reading; a time limit on the whole fetch.

use crate::error::{GatewayError, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Which URLs the gateway fetches.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Host names (or IP literals) allowed over `http` and at non-public addresses.
    pub allow_hosts: Vec<String>,
    /// The whole fetch, connect to last byte.
    pub timeout: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            allow_hosts: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }
}

fn refused(why: impl Into<String>) -> GatewayError {
    GatewayError::BadRequest(format!("pdf_url: {}", why.into()))
}

/// Whether `ip` is a public unicast address (not loopback, private, link-local, shared,
/// documentation, benchmarking, multicast, reserved or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Global unicast is 2000::/3; within it, documentation and NAT64 (which reaches IPv4
    // addresses this check would not see) are refused too.
    (s[0] & 0xe000) == 0x2000
        && !(s[0] == 0x2001 && s[1] == 0x0db8)
        && !(s[0] == 0x0064 && s[1] == 0xff9b)
}

/// Fetch `url` under `policy`, at most `max_bytes`.
pub async fn fetch(url: &str, policy: &FetchPolicy, max_bytes: usize) -> Result<Vec<u8>> {
    let parsed = reqwest::Url::parse(url).map_err(|_| refused("not a URL"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| refused("no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let allowed = policy
        .allow_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(&host));
    match parsed.scheme() {
        "https" => {}
        "http" if allowed => {}
        "http" => {
            return Err(refused(
                "https only (http only to hosts the gateway allows)",
            ));
        }
        _ => return Err(refused("https only")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused("no credentials in the URL"));
    }
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| refused("no port"))?;
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        policy.timeout,
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    .map_err(|_| refused("name lookup timed out"))?
    .map_err(|_| refused("host not found"))?
    .collect();
    let addr = addrs
        .iter()
        .copied()
        .find(|a| allowed || is_public(a.ip()))
        .ok_or_else(|| refused("not a public address"))?;
    if !allowed && addrs.iter().any(|a| !is_public(a.ip())) {
        // A name that also resolves to an internal address is refused as a whole.
        return Err(refused("not a public address"));
    }
    let client = reqwest::Client::builder()
        .timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&host, addr)
        .user_agent(concat!("bidkey-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| GatewayError::Internal(format!("HTTP client: {e}")))?;
    let mut resp = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| refused(format!("fetch failed: {}", without_url(&e))))?;
    if !resp.status().is_success() {
        return Err(refused(format!("answered HTTP {}", resp.status().as_u16())));
    }
    if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err(GatewayError::PayloadTooLarge);
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| refused(format!("fetch failed: {}", without_url(&e))))?
    {
        if out.len() + chunk.len() > max_bytes {
            return Err(GatewayError::PayloadTooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// reqwest's message without the URL (it may carry a token in its query).
fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        "transfer failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2400:3200::1", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().expect("ip")), "{ip}");
        }
    }
}

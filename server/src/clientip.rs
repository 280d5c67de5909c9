//! The client's address behind a reverse proxy. Limits per address (SMS codes per IP) and
//! the audit log need the phone's address, but behind nginx every connection comes from the
//! proxy. When the connection comes from one of the operator's `trusted_proxies`, the
//! client is the rightmost address of `X-Forwarded-For` that is not itself a trusted proxy;
//! from anyone else the header is ignored, so a client cannot choose its own address.

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The client of a request from `peer` carrying `forwarded_for` (the header's values, in
/// order), given the trusted proxies.
pub fn client(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            // A hop we cannot read: stop trusting the chain there.
            Err(_) => return peer,
        }
    }
    peer
}

/// Middleware: replace the connection's address by the client's for everything after it.
pub async fn behind_proxy(
    State(trusted): State<Arc<[IpAddr]>>,
    mut req: Request,
    next: Next,
) -> Response {
    if !trusted.is_empty()
        && let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied()
    {
        let values: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip = client(peer.ip(), &values, &trusted);
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, peer.port())));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")];
        // From the proxy: the address it saw.
        assert_eq!(
            client(ip("127.0.0.1"), &["203.0.113.5"], &trusted),
            ip("203.0.113.5")
        );
        // What the client itself put in front is not believed: the rightmost untrusted hop.
        assert_eq!(
            client(ip("127.0.0.1"), &["1.2.3.4, 203.0.113.5"], &trusted),
            ip("203.0.113.5")
        );
        // Two proxies of ours.
        assert_eq!(
            client(ip("127.0.0.1"), &["203.0.113.5, 10.0.0.2"], &trusted),
            ip("203.0.113.5")
        );
        // From anyone else the header is ignored.
        assert_eq!(
            client(ip("198.51.100.7"), &["203.0.113.5"], &trusted),
            ip("198.51.100.7")
        );
        // No header, or garbage in it: the peer.
        assert_eq!(client(ip("127.0.0.1"), &[], &trusted), ip("127.0.0.1"));
        assert_eq!(
            client(ip("127.0.0.1"), &["unknown"], &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client(ip("127.0.0.1"), &["203.0.113.5"], &[]),
            ip("127.0.0.1")
        );
    }
}

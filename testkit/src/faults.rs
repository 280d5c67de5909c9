//! A loopback HTTP/1.1 proxy that injects faults between a phone (the core) and a test
//! server: for one chosen request — by method, path pattern and ordinal — it either drops
//! the connection before forwarding (the server never sees the request, as when it was down)
//! or forwards it, lets the server commit and answer, and drops the answer (the phone gets a
//! connection error, as when the server died or the network failed after the commit). The
//! test restarts the server around a fault with [`crate::TestServer::restart`].
//!
//! Every request is forwarded on a fresh upstream connection with `Connection: close`, and the
//! phone's connection is closed after each answer, so a request's fate never depends on
//! connection reuse. Requests must carry a `Content-Length` body or none (what the core's
//! client sends).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// When the armed fault strikes its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Drop the phone's connection without forwarding: the server never sees it.
    Before,
    /// Forward, read the server's whole answer (it has committed), then drop the phone's
    /// connection without answering.
    After,
}

/// The request a fault strikes: the `ordinal`-th (from 1) request since arming whose method
/// is `method` and whose path (without query) matches `path`, where a `*` segment matches
/// any one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub method: String,
    pub path: String,
    pub ordinal: usize,
    pub when: When,
}

/// A request the proxy saw: its method and path (without query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
}

impl Seen {
    /// The path with every id segment (anything with a digit but `v1`-style version
    /// segments) replaced by `*`: the pattern that matches this request's route.
    pub fn pattern(&self) -> String {
        self.path
            .split('/')
            .map(|seg| {
                let version = seg.len() <= 3 && seg.starts_with('v');
                if !version && seg.bytes().any(|b| b.is_ascii_digit()) {
                    "*"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Whether `path` matches the `*`-segment `pattern`.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| *a == "*" || a == b)
}

#[derive(Debug, Default)]
struct Shared {
    armed: Option<Fault>,
    matched: usize,
    fired: Option<Seen>,
    log: Vec<Seen>,
}

/// The proxy, listening on loopback until dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FaultProxy {
    /// A proxy in front of the server at `upstream` (which may be restarted on the same
    /// address meanwhile).
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, upstream, s.clone()));
            }
        });
        FaultProxy { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT`, the URL the phone is given.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Arm `fault` (replacing any other), counting matches from now.
    pub fn arm(&self, fault: Fault) {
        let mut s = lock(&self.shared);
        s.armed = Some(fault);
        s.matched = 0;
        s.fired = None;
    }

    /// Disarm; returns the request the fault struck, if it did.
    pub fn disarm(&self) -> Option<Seen> {
        let mut s = lock(&self.shared);
        s.armed = None;
        s.fired.take()
    }

    /// The requests seen since the last call, in order.
    pub fn take_log(&self) -> Vec<Seen> {
        std::mem::take(&mut lock(&self.shared).log)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What to do with one request.
fn decide(shared: &Mutex<Shared>, seen: &Seen) -> Option<When> {
    let mut s = lock(shared);
    s.log.push(seen.clone());
    let fault = s.armed.clone()?;
    if fault.method != seen.method || !path_matches(&fault.path, &seen.path) {
        return None;
    }
    s.matched += 1;
    if s.matched != fault.ordinal {
        return None;
    }
    s.armed = None;
    s.fired = Some(seen.clone());
    Some(fault.when)
}

const MAX_HEAD: usize = 64 * 1024;

/// One request on `conn`: read it, apply the fault, forward, answer, close.
async fn serve(mut conn: TcpStream, upstream: SocketAddr, shared: Arc<Mutex<Shared>>) {
    let Some((seen, request)) = read_request(&mut conn).await else {
        return;
    };
    let fault = decide(&shared, &seen);
    if fault == Some(When::Before) {
        return; // dropped: the phone's request reaches nobody
    }
    let Ok(mut up) = TcpStream::connect(upstream).await else {
        return; // the server is down: the phone sees a connection error
    };
    let mut answer = Vec::new();
    if up.write_all(&request).await.is_err() || up.read_to_end(&mut answer).await.is_err() {
        return;
    }
    if fault == Some(When::After) {
        return; // the server answered (and committed); the answer is lost
    }
    let _ = conn.write_all(&answer).await;
    let _ = conn.shutdown().await;
}

/// Read one request; returns it with its head rewritten to `Connection: close`.
async fn read_request(conn: &mut TcpStream) -> Option<(Seen, Vec<u8>)> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 8192];
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?.to_owned();
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    let mut parts = first.split(' ');
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let mut out = format!("{first}\r\n");
    let mut length = 0usize;
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "content-length" => length = line.split(':').nth(1)?.trim().parse().ok()?,
            // The proxy cannot frame a chunked body; the core never sends one.
            "transfer-encoding" => return None,
            "connection" | "keep-alive" => continue,
            _ => {}
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("connection: close\r\n\r\n");
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; (length - body.len()).min(64 * 1024)];
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let mut request = out.into_bytes();
    request.extend_from_slice(&body);
    Some((Seen { method, path }, request))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_route_segments() {
        let seen = Seen {
            method: "POST".into(),
            path: "/v1/enrollments/0a1b2c/finish".into(),
        };
        assert_eq!(seen.pattern(), "/v1/enrollments/*/finish");
        assert!(path_matches("/v1/enrollments/*/finish", &seen.path));
        assert!(!path_matches("/v1/enrollments/*/keygen", &seen.path));
        assert!(!path_matches("/v1/enrollments/*", &seen.path));
        let plain = Seen {
            method: "POST".into(),
            path: "/v1/cosign/sessions".into(),
        };
        assert_eq!(plain.pattern(), "/v1/cosign/sessions");
    }
}

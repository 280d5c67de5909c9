//! A round-robin reverse proxy on loopback in front of several server processes, as the
//! nginx example's upstream block (`deploy/nginx.conf`): each request goes to the next
//! process in turn; one that refuses the connection (stopped, killed) is skipped and the
//! request goes to the next, as `proxy_next_upstream error` does — nothing was sent, so any
//! method may be tried again.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const MAX_BODY: usize = 64 << 20;

#[derive(Clone)]
struct Shared {
    upstreams: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    served: Arc<Vec<AtomicUsize>>,
    client: reqwest::Client,
}

/// A running balancer; stopped when dropped.
pub struct RoundRobin {
    url: String,
    served: Arc<Vec<AtomicUsize>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RoundRobin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoundRobin")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RoundRobin {
    /// Start in front of `upstreams` (base URLs).
    pub async fn start(upstreams: &[String]) -> RoundRobin {
        crate::install_tls_provider();
        let served: Arc<Vec<AtomicUsize>> =
            Arc::new(upstreams.iter().map(|_| AtomicUsize::new(0)).collect());
        let shared = Shared {
            upstreams: Arc::new(
                upstreams
                    .iter()
                    .map(|u| u.trim_end_matches('/').to_owned())
                    .collect(),
            ),
            next: Arc::default(),
            served: served.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("balancer client"),
        };
        let app = Router::new().fallback(forward).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("balancer binds");
        let addr = listener.local_addr().expect("balancer address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RoundRobin {
            url: format!("http://{addr}"),
            served,
            task,
        }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// How many answers each upstream gave so far.
    pub fn served(&self) -> Vec<usize> {
        self.served
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for RoundRobin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(shared): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return status(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let n = shared.upstreams.len();
    for _ in 0..n {
        let i = shared.next.fetch_add(1, Ordering::Relaxed) % n;
        let mut out = shared
            .client
            .request(
                parts.method.clone(),
                format!("{}{path_and_query}", shared.upstreams[i]),
            )
            .body(body.clone());
        for (name, value) in &parts.headers {
            if !crate::proxy::hop_by_hop(name) {
                out = out.header(name, value);
            }
        }
        let answer = match out.send().await {
            Ok(a) => a,
            // Refused: nothing reached that process; the next one takes the request.
            Err(e) if e.is_connect() => continue,
            Err(_) => return status(StatusCode::BAD_GATEWAY),
        };
        let code = answer.status();
        let headers = answer.headers().clone();
        let Ok(bytes) = answer.bytes().await else {
            return status(StatusCode::BAD_GATEWAY);
        };
        shared.served[i].fetch_add(1, Ordering::Relaxed);
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = code;
        for (name, value) in &headers {
            if !crate::proxy::hop_by_hop(name) {
                response.headers_mut().append(name.clone(), value.clone());
            }
        }
        return response;
    }
    status(StatusCode::BAD_GATEWAY)
}

fn status(code: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}

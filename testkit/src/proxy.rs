//! A reverse proxy on loopback that can alter the server's answers: the network attacker,
//! or a hostile server, between the phone and the real test server.
//!
//! Every request is forwarded unchanged to the upstream server; the answer's body goes
//! through the test's `tamper` function (given the request path) before the phone sees it.
//! The proxy records the path of every request it forwarded, so a test can assert that the
//! phone never made a call.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::Response;
use std::sync::{Arc, Mutex, PoisonError};

/// What the test does to an answer body: `(request path, body)`.
pub type Tamper = dyn Fn(&str, &mut Vec<u8>) + Send + Sync;

/// The largest request or answer the proxy carries (the test server's own limits are lower).
const MAX_BODY: usize = 64 << 20;

#[derive(Clone)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    tamper: Arc<Tamper>,
    paths: Arc<Mutex<Vec<String>>>,
}

/// A running proxy; stopped when dropped.
pub struct TamperingProxy {
    url: String,
    paths: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TamperingProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TamperingProxy")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TamperingProxy {
    /// Start a proxy in front of `upstream` (e.g. `TestServer::url()`).
    pub async fn start(
        upstream: &str,
        tamper: impl Fn(&str, &mut Vec<u8>) + Send + Sync + 'static,
    ) -> TamperingProxy {
        crate::install_tls_provider();
        let paths = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("proxy client"),
            tamper: Arc::new(tamper),
            paths: paths.clone(),
        };
        let app = Router::new().fallback(forward).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TamperingProxy {
            url: format!("http://{addr}"),
            paths,
            task,
        }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The paths of every request forwarded so far, in order.
    pub fn paths(&self) -> Vec<String> {
        self.paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for TamperingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Headers that belong to one hop, not to the message.
pub(crate) fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host" | "connection" | "content-length" | "transfer-encoding" | "keep-alive"
    )
}

async fn forward(State(shared): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path.clone(), |p| p.as_str().to_owned());
    shared
        .paths
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(path.clone());
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return status(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let mut out = shared
        .client
        .request(parts.method, format!("{}{path_and_query}", shared.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) {
            out = out.header(name, value);
        }
    }
    let Ok(answer) = out.send().await else {
        return status(StatusCode::BAD_GATEWAY);
    };
    let code = answer.status();
    let headers = answer.headers().clone();
    let Ok(bytes) = answer.bytes().await else {
        return status(StatusCode::BAD_GATEWAY);
    };
    let mut bytes = bytes.to_vec();
    (shared.tamper)(&path, &mut bytes);
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = code;
    for (name, value) in &headers {
        if !hop_by_hop(name) {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

fn status(code: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}

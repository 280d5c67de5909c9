//! schemathesis (PyPI) generates requests from each OpenAPI document, the gateway's and the
//! server's, and checks every answer: no 5xx, the documented status, content type and
//! schema. A bounded number of examples per operation and a fixed seed, so a run is short
//! and repeatable. `st` comes from `BIDKEY_SCHEMATHESIS` or the PATH (`.ci/run` installs
//! it); without it the test says loudly that it did not run.

mod support;

use std::path::Path;
use support::*;

fn st() -> Option<String> {
    let cmd = std::env::var("BIDKEY_SCHEMATHESIS").unwrap_or_else(|_| "st".into());
    std::process::Command::new(&cmd)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| cmd)
}

/// Run schemathesis on `doc` against `url`; returns whether it passed and its output.
async fn run(
    st: &str,
    doc: &Path,
    url: &str,
    headers: &[String],
    checks: &str,
    extra: &[&str],
) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(st);
    cmd.arg("run")
        .arg(doc)
        .args(["--url", url])
        .args(["--checks", checks])
        .args(["--max-examples", "8", "--seed", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        // A long-poll may hold a request for the full 60 s `wait` the schema allows.
        .args(["--request-timeout", "90"])
        .args(extra)
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.output().await.expect("schemathesis runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_nonconforming_answer() {
    let Some(st) = st() else {
        eprintln!(
            "\n\n!!!!! SKIPPED: schemathesis (`st`) is not installed, so the generated-request \
             checks did not run. CI installs it (.ci/run). !!!!!\n"
        );
        return;
    };
    let w = world().await;
    let dir = tempfile::tempdir().expect("dir");
    let gw = w.gateway(dir.path()).await;
    let key = gw.gateway.store.create_api_key("fuzz").expect("key");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");

    let (ok, out) = run(
        &st,
        &root.join("gateway/openapi.yaml"),
        &gw.url(),
        &[format!("Authorization: Bearer {}", *key.token)],
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        &[],
    )
    .await;
    assert!(ok, "schemathesis on the gateway:\n{out}");
    gw.stop().await;

    let (ok, out) = run(
        &st,
        &root.join("server/openapi.yaml"),
        &w.server.url(),
        &[],
        "not_a_server_error,response_schema_conformance",
        // RFC 3161 requests (application/timestamp-query) are not a body schemathesis can
        // make; server/tests/tsa.rs covers them.
        &["--exclude-path", "/v1/tsa"],
    )
    .await;
    assert!(ok, "schemathesis on the server:\n{out}");
}

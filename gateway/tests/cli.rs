//! `bidkey-gateway api-key create/list/revoke`, run as an operator would, against the store a
//! gateway would open: the printed key works, the list shows no secret, a revoked key stops.

use bidkey_gateway::store::Store;
use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bidkey-gateway"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn api_keys_are_created_listed_and_revoked() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().expect("utf-8");
    let (ok, out) = run(&["api-key", "create", "--data-dir", d, "--app", "erp"]);
    assert!(ok, "{out}");
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("api key (shown once): "))
        .expect("token printed")
        .to_owned();
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("id printed")
        .to_owned();
    assert!(out.contains("webhook secret of app erp: "));
    let (ok, _) = run(&["api-key", "create", "--data-dir", d, "--app", "erp"]);
    assert!(ok);
    assert_eq!(
        Store::open(dir.path())
            .expect("store")
            .check_api_key(&token)
            .expect("check")
            .as_deref(),
        Some("erp")
    );
    let (ok, list) = run(&["api-key", "list", "--data-dir", d]);
    assert!(ok, "{list}");
    assert_eq!(list.lines().count(), 2, "{list}");
    let secret = token.split('.').nth(1).expect("secret");
    assert!(!list.contains(secret), "the list shows no secret");
    let (ok, out) = run(&["api-key", "revoke", "--data-dir", d, &id]);
    assert!(ok, "{out}");
    let (ok, out) = run(&["api-key", "revoke", "--data-dir", d, &id]);
    assert!(!ok, "revoking twice fails: {out}");
    let (_, list) = run(&["api-key", "list", "--data-dir", d]);
    assert!(
        list.lines()
            .any(|l| l.starts_with(&id) && l.contains("revoked")),
        "{list}"
    );
    assert_eq!(
        Store::open(dir.path())
            .expect("store")
            .check_api_key(&token)
            .expect("check"),
        None
    );
    let (ok, out) = run(&["api-key", "create", "--data-dir", d, "--app", "bad name"]);
    assert!(!ok, "{out}");
}

//! `server/openapi.yaml` stays in sync with the router: every path routed in `src/` is
//! documented, every documented path is routed, and every error code is listed.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `"/v1/..."` string literal in the server's sources: the routes.
fn routed_paths() -> Vec<String> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("source");
        for (i, _) in text.match_indices("\"/v1/") {
            let rest = &text[i + 1..];
            let end = rest.find('"').expect("closing quote");
            out.push(rest[..end].to_owned());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn spec() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml"))
        .expect("openapi.yaml")
}

#[test]
fn every_route_is_documented_and_back() {
    let spec = spec();
    let routed = routed_paths();
    assert!(routed.len() > 40, "found only {} routes", routed.len());
    for p in &routed {
        assert!(
            spec.contains(&format!("\n  {p}:\n")),
            "{p} is routed but not in openapi.yaml"
        );
    }
    for line in spec.lines() {
        if let Some(p) = line.strip_prefix("  /v1/") {
            let p = format!("/v1/{}", p.trim_end_matches(':'));
            assert!(routed.contains(&p), "{p} is documented but not routed");
        }
    }
}

#[test]
fn every_error_code_is_listed() {
    let spec = spec();
    let source = include_str!("../../protocol/src/error.rs");
    let start = source.find("pub enum ErrorCode {").expect("enum");
    let body = &source[start..];
    let body = &body[..body.find('}').expect("end of enum")];
    let variants: Vec<&str> = body
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .map(|l| l.trim_end_matches(','))
        .collect();
    assert!(variants.len() > 40);
    for v in variants {
        let code: bidkey_protocol::ErrorCode =
            serde_json::from_str(&format!("\"{}\"", snake(v))).expect("variant name");
        let wire = serde_json::to_string(&code).expect("json");
        let name = wire.trim_matches('"');
        assert!(
            spec.contains(&format!("        - {name}\n")),
            "error code {name} missing from openapi.yaml"
        );
    }
}

fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The grant check's two forms (by account and enterprise, or by certificate serial) are both
/// documented.
#[test]
fn grant_check_documents_both_forms() {
    let spec = spec();
    let start = spec.find("\n  /v1/grants/check:\n").expect("grant check");
    let rest = &spec[start + 1..];
    let end = rest.find("\n  /v1/").unwrap_or(rest.len());
    let section = &rest[..end];
    for name in ["platform_id", "account_id", "enterprise_id", "serial"] {
        assert!(
            section.contains(&format!("name: {name}, in: query")),
            "{name} not documented for /v1/grants/check"
        );
    }
    assert!(section.contains("\"400\""), "400 for a wrong combination");
}

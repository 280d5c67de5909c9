//! `server/openapi.yaml` stays in sync with the router: every path routed in `src/` is
//! documented, every documented path is routed, and every error code is listed. Its examples
//! and those of the docs are valid: USCCs and ID numbers carry their right check characters.

// The document reader the malformed-input test uses too, without the rest of `support`.
#[path = "support/openapi.rs"]
mod openapi;

use openapi::spec;
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
    let documented = openapi::paths();
    assert_eq!(
        documented.len(),
        spec.lines().filter(|l| l.starts_with("  /v1/")).count()
    );
    for item in documented {
        assert!(
            routed.contains(&item.path),
            "{} is documented but not routed",
            item.path
        );
        assert!(
            !item.operations.is_empty(),
            "{} has no operation",
            item.path
        );
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

/// Every 18-character USCC or resident ID number written in `openapi.yaml` and the
/// repository's Markdown (`docs/`, READMEs: examples people copy) passes its own check: GB 32100 for a USCC, GB 11643 for an ID
/// number. Masked ones (`110***********1234`) are not examples of either.
#[test]
fn examples_carry_valid_check_characters() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![root.join("server/openapi.yaml")];
    markdown_files(&root, &mut files);
    assert!(files.iter().any(|f| f.ends_with("docs/cli.md")));
    let (mut usccs, mut ids) = (0, 0);
    for f in &files {
        let text = std::fs::read_to_string(f).expect("doc");
        for token in eighteen_char_tokens(&text) {
            let where_ = format!("{} in {}", token, f.display());
            if looks_like_id_number(token) {
                assert!(
                    bidkey_server::realname::valid_id_number(token),
                    "ID number {where_} fails its GB 11643 check character"
                );
                ids += 1;
            } else {
                assert!(
                    bidkey_crypto::x509::name::validate_uscc(token).is_ok(),
                    "USCC {where_} fails its GB 32100 check character"
                );
                usccs += 1;
            }
        }
    }
    // The docs have examples of both; the test reads them rather than finding none.
    assert!(
        usccs >= 3 && ids >= 1,
        "found {usccs} USCCs, {ids} ID numbers"
    );
}

/// Markdown files under `dir`, outside build output and dependencies.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !name.starts_with('.') && !["target", "build", "node_modules"].contains(&name) {
                markdown_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// Runs of exactly 18 digits and capital letters, not part of a longer word: the shape of
/// both codes (serials and hashes are lower-case hex or of other lengths).
fn eighteen_char_tokens(text: &str) -> Vec<&str> {
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '*';
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (is_part(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let t = &text[s..i];
                if t.len() == 18
                    && t.bytes()
                        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
                {
                    out.push(t);
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// 17 digits, then a digit or X, with a birth date (YYYYMMDD from 1900) at 7..=14.
fn looks_like_id_number(t: &str) -> bool {
    let b = t.as_bytes();
    if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
        return false;
    }
    let num = |r: std::ops::Range<usize>| t[r].parse::<u32>().unwrap_or(0);
    (1900..=2100).contains(&num(6..10))
        && (1..=12).contains(&num(10..12))
        && (1..=31).contains(&num(12..14))
}

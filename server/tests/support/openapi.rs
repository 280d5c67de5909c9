//! What `server/openapi.yaml` says, read from the document itself: its paths, each path's
//! operations with their documented statuses, body and query parameters, and the refusals
//! every route may give. A line-based reader of the document's own layout (two spaces
//! before a path, four before a method, eight before a status), not a general YAML parser.

#![allow(dead_code)]

use std::path::Path;

/// The document's text.
pub fn spec() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml"))
        .expect("openapi.yaml")
}

/// One method of one path.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Upper case: `GET`, `POST`, ...
    pub method: String,
    /// The statuses its `responses` list.
    pub statuses: Vec<u16>,
    /// Whether it takes a JSON body.
    pub has_body: bool,
    /// Its query parameters' names.
    pub query: Vec<String>,
}

/// A documented path and its operations.
#[derive(Debug, Clone)]
pub struct PathItem {
    /// As written, with `{param}` placeholders.
    pub path: String,
    pub operations: Vec<Operation>,
}

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// Every documented path, in document order.
pub fn paths() -> Vec<PathItem> {
    let spec = spec();
    let mut out: Vec<PathItem> = Vec::new();
    for line in spec.lines() {
        if let Some(p) = line.strip_prefix("  /v1/") {
            out.push(PathItem {
                path: format!("/v1/{}", p.trim_end_matches(':')),
                operations: Vec::new(),
            });
            continue;
        }
        if !line.starts_with(' ') && !line.is_empty() {
            // A new top-level section (`components:`): no more paths.
            if !out.is_empty() && line != "paths:" {
                break;
            }
            continue;
        }
        let Some(item) = out.last_mut() else { continue };
        if let Some(m) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':'))
            && METHODS.contains(&m)
        {
            item.operations.push(Operation {
                method: m.to_ascii_uppercase(),
                statuses: Vec::new(),
                has_body: false,
                query: Vec::new(),
            });
            continue;
        }
        let Some(op) = item.operations.last_mut() else {
            continue;
        };
        if line == "      requestBody:" {
            op.has_body = true;
        } else if let Some(rest) = line.strip_prefix("        \"") {
            if let Ok(status) = rest[..rest.find('"').unwrap_or(0)].parse::<u16>() {
                op.statuses.push(status);
            }
        } else if line.contains("in: query") {
            // `- { name: X, in: query, ... }` on one line.
            if let Some(name) = line
                .split("name: ")
                .nth(1)
                .and_then(|r| r.split(',').next())
            {
                op.query.push(name.trim().to_owned());
            }
        } else if let Some(name) = line.trim().strip_prefix("- name: ") {
            // The long form: `- name: X` with `in: query` on the next line; kept tentatively.
            op.query.push(format!("?{name}"));
        } else if line.trim() == "in: query"
            && let Some(last) = op.query.last_mut()
            && let Some(name) = last.strip_prefix('?')
        {
            *last = name.to_owned();
        }
    }
    for item in &mut out {
        for op in &mut item.operations {
            op.query.retain(|q| !q.starts_with('?'));
        }
    }
    out
}

/// The refusals the document says every route may give, as (status, code) pairs: the
/// `` `NNN code` `` items of its "Requests the server cannot read" paragraph.
pub fn malformed_refusals() -> Vec<(u16, String)> {
    let spec = spec();
    let start = spec
        .find("Requests the server cannot read")
        .expect("the paragraph on malformed requests");
    let para = &spec[start..];
    let para = &para[..para.find("\n\n").unwrap_or(para.len())];
    let mut out = Vec::new();
    for item in para.split('`').skip(1).step_by(2) {
        let mut words = item.split_whitespace();
        if let (Some(status), Some(code), None) = (words.next(), words.next(), words.next())
            && let Ok(status) = status.parse::<u16>()
        {
            out.push((status, code.to_owned()));
        }
    }
    out
}

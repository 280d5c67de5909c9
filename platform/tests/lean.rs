//! The SDK a trading platform links stays lean (issue 16, ADR 0022): without features,
//! `bidkey-platform`'s normal dependencies hold no web framework and no CLI crate. The demo
//! platform and the operator's tool are behind the `demo` and `cli` features.

use std::process::Command;

/// Crates a platform's application must not inherit from the SDK.
const FORBIDDEN: &[&str] = &[
    "axum",
    "axum-core",
    "matchit",
    "clap",
    "clap_builder",
    "clap_derive",
    "indicatif",
    "console",
    "comfy-table",
    "tempfile",
];

#[test]
fn the_library_without_features_depends_on_no_web_framework_or_cli_crate() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "bidkey-platform",
            "--no-default-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    // The tree is real: the SDK's own dependencies are in it.
    for needed in ["bidkey-crypto", "reqwest", "qrcode"] {
        assert!(names.contains(&needed), "{needed} missing from:\n{tree}");
    }
    for bad in FORBIDDEN {
        assert!(
            !names.contains(bad),
            "bidkey-platform (no features) pulls in {bad}:\n{tree}"
        );
    }
}

#[test]
fn the_demo_feature_does_pull_in_the_web_framework() {
    // The check above would pass vacuously if the tree never listed axum at all.
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "bidkey-platform",
            "--features",
            "demo",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.lines().any(|l| l.starts_with("axum ")), "{tree}");
}

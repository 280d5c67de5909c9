//! `opening-bench` end to end with a handful of bidders on SQLite: both processes start,
//! every mode opens every bid, and the table says so; the server's own histograms saw one
//! co-decryption per scanned bid and one release per pre-authorised one. No timing is
//! asserted.

use std::process::Command;

#[test]
fn opening_bench_opens_every_bid_in_every_mode() {
    let out = Command::new(env!("CARGO_BIN_EXE_opening-bench"))
        .args([
            "--bidders",
            "4",
            "--store",
            "sqlite",
            "--warmup",
            "1",
            "--routes",
        ])
        .output()
        .expect("opening-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for mode in ["online", "preauth", "mix 70/30"] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| SQLite | {mode} | 4 |")))
            .unwrap_or_else(|| panic!("no {mode} row in\n{stdout}"));
        // The last column counts failures.
        assert!(row.trim_end().ends_with("| 0 |"), "{row}");
    }
    // The routes tables follow in mode order: online, preauth, mix.
    let tables: Vec<&str> = stdout.split("SQLite · ").skip(1).collect();
    assert_eq!(tables.len(), 3, "{stdout}");
    assert!(
        tables[0].contains("| `POST /v1/cosign/decrypt` | 1.00 |"),
        "{}",
        tables[0]
    );
    assert!(!tables[0].contains("/v1/preauth/release"), "{}", tables[0]);
    assert!(
        tables[1].contains("| `GET /v1/preauth/release` | 1.00 |"),
        "{}",
        tables[1]
    );
    assert!(!tables[1].contains("/v1/cosign/decrypt"), "{}", tables[1]);
    assert!(tables[2].contains("/v1/cosign/decrypt"), "{}", tables[2]);
    assert!(tables[2].contains("/v1/preauth/release"), "{}", tables[2]);
}

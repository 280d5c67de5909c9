//! The deployment files in `deploy/` agree with the server: the systemd unit is valid for
//! systemd (`systemd-analyze verify`), hardened, and its command lines work with this
//! binary (check-config, serve, SIGTERM); the nginx example fits the server's port, body
//! limits, long polls, request id and proxy trust.

#[path = "support/process.rs"]
mod process;

use process::{ServerProcess, binary, run};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn deploy(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `Key=value` lines of the unit, in order.
fn directives(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn value<'a>(d: &'a [(String, String)], key: &str) -> &'a str {
    d.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{key} missing from the unit"))
}

#[test]
fn the_systemd_unit_is_valid_and_hardened() {
    let unit = deploy("bidkey-server.service");
    // systemd's own check, with ExecStart pointing at this build.
    let dir = tempfile::tempdir().expect("dir");
    let here = unit.replace("/usr/local/bin/bidkey-server", binary());
    let path = dir.path().join("bidkey-server.service");
    std::fs::write(&path, &here).expect("write unit");
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs (.ci/run installs systemd)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // Unknown or misspelt keys are only warnings for systemd: none allowed here.
    assert!(err.trim().is_empty(), "{err}");

    let d = directives(&unit);
    for (key, want) in [
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallFilter", "@system-service"),
        ("StateDirectoryMode", "0700"),
        ("UMask", "0077"),
        ("KillSignal", "SIGTERM"),
        ("User", "bidkey"),
    ] {
        assert_eq!(value(&d, key), want, "{key}");
    }
    // A configuration error (exit 2) is not restarted in a loop.
    assert_eq!(value(&d, "RestartPreventExitStatus"), "2");
    let (ok, _, _) = run(&["--pool-size", "0", "check-config"], &[]);
    assert!(!ok);
    let code = std::process::Command::new(binary())
        .args(["--pool-size", "0", "check-config"])
        .output()
        .expect("runs")
        .status
        .code();
    assert_eq!(code, Some(2));
}

/// The unit's command line with the test's config file in place of /etc/bidkey/bidkey.toml.
fn command(unit: &str, key: &str, config: &Path) -> Vec<String> {
    let d = directives(unit);
    let line = value(&d, key);
    let mut words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    assert_eq!(words.remove(0), "/usr/local/bin/bidkey-server", "{line}");
    for w in &mut words {
        if w == "/etc/bidkey/bidkey.toml" {
            *w = config.display().to_string();
        }
    }
    words
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_units_commands_run_and_stop_as_systemd_would() {
    bidkey_testkit::install_tls_provider();
    let unit = deploy("bidkey-server.service");
    let dir = tempfile::tempdir().expect("dir");
    let data: PathBuf = dir.path().join("state");
    // The credentials the unit loads: one passphrase per serving key file, outside the data
    // directory.
    let mut files = String::from("[passphrase_files]\n");
    for (slot, words) in [
        ("ca", "correct horse battery staple"),
        ("kmc", "lantern paperclip orchard"),
        ("cosign", "violet harbour engine"),
    ] {
        let pass = dir.path().join(format!("{slot}-passphrase"));
        std::fs::write(&pass, format!("{words}\n")).expect("passphrase");
        files.push_str(&format!("{slot} = {:?}\n", pass.display().to_string()));
    }
    let config = dir.path().join("bidkey.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.1\"]\n{files}",
            data.display().to_string(),
        ),
    )
    .expect("config");
    // The unit loads a credential for each serving key file, none for the root's.
    let credentials = unit
        .lines()
        .filter(|l| l.starts_with("LoadCredential="))
        .count();
    assert_eq!(credentials, 3, "{unit}");
    assert!(!unit.contains("LoadCredential=root"));
    let pre = command(&unit, "ExecStartPre", &config);
    let pre: Vec<&str> = pre.iter().map(String::as_str).collect();
    let (ok, out, err) = run(&pre, &[]);
    assert!(ok, "{err}");
    assert!(out.contains("trusted_proxies = [\"127.0.0.1\"]"), "{out}");
    let start = command(&unit, "ExecStart", &config);
    let start: Vec<&str> = start.iter().map(String::as_str).collect();
    let mut server = ServerProcess::spawn(&start, &[], &dir.path().join("log"));
    let ready = reqwest::get(format!("{}/readyz", server.url))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    // The serving key files are sealed with the passphrases from the credential files.
    for slot in bidkey_server::keyfile::SERVING {
        assert!(slot.path(&data).exists(), "{}", slot.file);
        assert!(
            !slot.sandbox_passphrase_path(&data).exists(),
            "{}",
            slot.file
        );
    }
    // systemctl stop: SIGTERM, then at most TimeoutStopSec.
    let bound: u64 = value(&directives(&unit), "TimeoutStopSec")
        .parse()
        .expect("seconds");
    server.signal("TERM");
    let status = tokio::task::spawn_blocking(move || server.wait_exit(Duration::from_secs(bound)))
        .await
        .expect("joined")
        .expect("stopped within TimeoutStopSec");
    assert!(status.success(), "{status:?}");
}

/// `directive value;` lines of the nginx example.
fn nginx_values(conf: &str, directive: &str) -> Vec<String> {
    conf.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix(directive)?.strip_prefix(' '))
        .map(|v| v.trim_end_matches(';').trim().to_owned())
        .collect()
}

#[test]
fn the_nginx_example_fits_the_server() {
    let conf = deploy("nginx.conf");
    // Upstreams on the server's default port.
    let default_port = bidkey_server::config::DEFAULT_LISTEN
        .rsplit(':')
        .next()
        .expect("port");
    let servers: Vec<String> = nginx_values(&conf, "server")
        .into_iter()
        .filter(|v| v != "{")
        .collect();
    assert!(!servers.is_empty());
    for s in &servers {
        let addr = s.split_whitespace().next().expect("address");
        assert!(addr.ends_with(&format!(":{default_port}")), "{s}");
    }
    // The operator listener is never proxied: no upstream on its port, and its paths end at
    // the proxy.
    let operator_port = bidkey_server::config::DEFAULT_OPERATOR_LISTEN
        .rsplit(':')
        .next()
        .expect("port");
    assert!(
        servers
            .iter()
            .all(|s| !s.contains(&format!(":{operator_port}")))
    );
    assert!(
        conf.contains("location /v1/operator/ {\n        return 404;"),
        "{conf}"
    );
    assert!(!conf.contains("metrics)$"), "the scrape is not proxied");
    // Long polls outlast their longest wait.
    let seconds = |v: &str| -> u64 { v.trim_end_matches('s').parse().expect("seconds") };
    let read = nginx_values(&conf, "proxy_read_timeout");
    assert!(
        read.iter()
            .all(|v| seconds(v) > bidkey_protocol::scan::MAX_WAIT_SECS + 10),
        "{read:?}"
    );
    // Bodies the server accepts pass the proxy.
    let max = nginx_values(&conf, "client_max_body_size");
    let mib: usize = max[0].trim_end_matches('m').parse().expect("MiB");
    let largest =
        bidkey_server::platforms::DIRECTORY_BODY.max(bidkey_server::enterprises::claim::MAX_BODY);
    assert!(mib * 1024 * 1024 >= largest, "{mib} MiB < {largest}");
    // The client's address and one request id reach the server.
    let headers = nginx_values(&conf, "proxy_set_header");
    assert!(
        headers
            .iter()
            .any(|h| h == "X-Forwarded-For $proxy_add_x_forwarded_for"),
        "{headers:?}"
    );
    assert!(
        headers.iter().any(|h| h == "X-Request-Id $request_id"),
        "{headers:?}"
    );
    // nginx's $request_id (32 hex digits) is an id the server keeps.
    assert!(bidkey_server::requestlog::acceptable_id(
        "0123456789abcdef0123456789abcdef"
    ));
    // A stopping process's released long polls go to the next process.
    assert!(
        nginx_values(&conf, "proxy_next_upstream")
            .iter()
            .any(|v| v.contains("http_503")),
    );
    // TLS only for clients.
    assert!(conf.contains("return 308 https://"));
    assert!(nginx_values(&conf, "ssl_protocols") == ["TLSv1.2 TLSv1.3"]);
}

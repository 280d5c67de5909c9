//! The operator's configuration, through the binary as an operator runs it: a TOML file,
//! `BIDKEY_*` variables and flags (flags > variables > file > defaults); `check-config`; a bad
//! configuration stops the server before it opens anything.

#[path = "support/process.rs"]
mod process;

use process::{ServerProcess, run};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.to_str().expect("utf-8").to_owned()
}

fn setting<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(" = "))
        .unwrap_or_else(|| panic!("{key} not in:\n{out}"))
}

#[test]
fn flags_beat_variables_beat_the_file_beats_the_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let file = write(
        dir.path(),
        "bidkey.toml",
        &format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:9001\"\nlog_format = \"text\"\n\n[database]\npool_size = 5\n\n[limits]\nsms_per_ip_per_hour = 50\nrelay_per_platform_per_minute = 2000\n",
            data.to_str().expect("utf-8")
        ),
    );
    // The file alone.
    let (ok, out, err) = run(&["--config", &file, "check-config"], &[]);
    assert!(ok, "{err}");
    assert_eq!(setting(&out, "database.pool_size"), "5");
    assert_eq!(setting(&out, "listen"), "\"127.0.0.1:9001\"");
    assert_eq!(setting(&out, "log_format"), "\"text\"");
    assert_eq!(setting(&out, "limits.sms_per_ip_per_hour"), "50");
    // A default where the file says nothing.
    let (ok, out, _) = run(&["check-config"], &[("BIDKEY_CONFIG", file.as_str())]);
    assert!(ok);
    assert_eq!(
        setting(&out, "limits.relay_per_platform_per_minute"),
        "2000"
    );
    // A variable over the file; a flag over both.
    let env = [
        ("BIDKEY_POOL_SIZE", "6"),
        ("BIDKEY_SMS_PER_IP_PER_HOUR", "70"),
    ];
    let (ok, out, _) = run(&["--config", &file, "check-config"], &env);
    assert!(ok);
    assert_eq!(setting(&out, "database.pool_size"), "6");
    assert_eq!(setting(&out, "limits.sms_per_ip_per_hour"), "70");
    let (ok, out, _) = run(
        &["--config", &file, "--pool-size", "7", "check-config"],
        &env,
    );
    assert!(ok);
    assert_eq!(setting(&out, "database.pool_size"), "7");
    assert_eq!(setting(&out, "limits.sms_per_ip_per_hour"), "70");
    // Checking opened nothing.
    assert!(!data.exists());
}

#[test]
fn a_bad_configuration_is_explained_and_nothing_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let d = data.to_str().expect("utf-8");
    let cases: Vec<(String, &[&str])> = vec![
        // Not TOML: the line is named.
        (
            format!("data_dir = {d:?}\n[database\npool_size = 4\n"),
            &["line 2"],
        ),
        // A misspelt key is an error, not a silent default.
        (
            format!("data_dir = {d:?}\n[database]\npool_sise = 4\n"),
            &["unknown field `pool_sise`"],
        ),
        // A wrong type.
        (
            format!("data_dir = {d:?}\n[limits]\nsms_per_ip_per_hour = \"many\"\n"),
            &["sms_per_ip_per_hour"],
        ),
        // Values out of range: every one reported.
        (
            format!(
                "data_dir = {d:?}\nlisten = \"everywhere\"\n[database]\nurl = \"mysql://db/bidkey\"\npool_size = 0\n"
            ),
            &[
                "listen = \"everywhere\": not an address and port",
                "database.url: the scheme \"mysql\" is not supported",
                "database.pool_size = 0: must be between 1 and 1000",
            ],
        ),
        (
            format!("data_dir = {d:?}\nca_passphrase_file = \"/nonexistent/pass\"\n"),
            &["ca_passphrase_file = \"/nonexistent/pass\": no such file"],
        ),
    ];
    for (i, (text, words)) in cases.iter().enumerate() {
        let file = write(dir.path(), &format!("bad{i}.toml"), text);
        for command in [&["check-config"][..], &["serve"][..]] {
            let mut args = vec!["--config", file.as_str()];
            args.extend_from_slice(command);
            let (ok, out, err) = run(&args, &[]);
            assert!(!ok, "{text} accepted by {command:?}: {out}");
            assert!(err.contains("the configuration is not valid"), "{err}");
            for w in *words {
                assert!(err.contains(w), "{w:?} not in:\n{err}");
            }
            assert!(!out.contains("listening"), "{out}");
            assert!(!data.exists(), "{command:?} created the data directory");
        }
    }
    // A missing file.
    let (ok, _, err) = run(
        &["--config", "/nonexistent/bidkey.toml", "check-config"],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("cannot read the configuration file /nonexistent/bidkey.toml"),
        "{err}"
    );
    // A bad variable is named by its flag.
    let (ok, _, err) = run(&["check-config"], &[("BIDKEY_POOL_SIZE", "lots")]);
    assert!(!ok);
    assert!(err.contains("--pool-size"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_with_its_file() {
    bidkey_testkit::install_tls_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let file = write(
        dir.path(),
        "bidkey.toml",
        &format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\n[database]\npool_size = 3\n",
            data.to_str().expect("utf-8")
        ),
    );
    let server = ServerProcess::spawn(&["--config", &file, "serve"], &[], &dir.path().join("log"));
    let token = std::fs::read_to_string(data.join("operator.token")).expect("token");
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", server.operator_url))
        .bearer_auth(token.trim())
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    assert!(
        text.lines()
            .any(|l| l == r#"bidkey_db_pool_connections{state="size"} 3"#),
        "{text}"
    );
}

/// The providers in the file (issue 18): `check-config` names each bad key, asks for the
/// vendors' secrets in the environment, refuses sandboxes outside sandbox mode, and passes
/// a complete configuration.
#[test]
fn providers_in_the_file_are_checked_in_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("data");
    let d = d.to_str().expect("utf-8");
    let templates = "signup = \"2001\"\nlogin = \"2002\"\nreset_password = \"2003\"\nchange_phone = \"2004\"\nchange_phone_old = \"2005\"\nunlock = \"2006\"\nrecover = \"2007\"\nloss_report = \"2008\"\nrecovery_started = \"2009\"\nphone_changed = \"2010\"\n";
    let good = write(
        dir.path(),
        "good.toml",
        &format!(
            "data_dir = {d:?}\n[sms]\nprovider = \"aliyun\"\nsign_name = \"某某科技\"\n[sms.templates]\n{templates}[realname]\nprovider = \"gateway\"\ngateway_url = \"https://verify.example.cn\"\ngateway_key_id = \"bidkey-1\"\n"
        ),
    );
    let no_sandbox = [("BIDKEY_SANDBOX", "0")];
    let (ok, _, err) = run(&["--config", &good, "check-config"], &no_sandbox);
    assert!(!ok);
    for v in [
        "BIDKEY_SMS_ALIYUN_ACCESS_KEY_ID",
        "BIDKEY_SMS_ALIYUN_ACCESS_KEY_SECRET",
        "BIDKEY_REALNAME_GATEWAY_KEY",
    ] {
        assert!(
            err.contains(&format!("needs {v} in the environment")),
            "{err}"
        );
    }
    let secrets = [
        ("BIDKEY_SANDBOX", "0"),
        ("BIDKEY_SMS_ALIYUN_ACCESS_KEY_ID", "LTAI-test"),
        ("BIDKEY_SMS_ALIYUN_ACCESS_KEY_SECRET", "secret"),
        ("BIDKEY_REALNAME_GATEWAY_KEY", "00112233"),
    ];
    let (ok, out, err) = run(&["--config", &good, "check-config"], &secrets);
    assert!(ok, "{err}");
    assert!(out.contains("sms.provider = \"aliyun\""), "{out}");
    assert!(out.contains("sms.templates.login = \"2002\""), "{out}");
    assert!(
        out.contains("realname.gateway_url = \"https://verify.example.cn\""),
        "{out}"
    );
    assert!(
        !out.contains("secret\n") && !out.contains("00112233"),
        "{out}"
    );
    // A flag beats the file, key by key.
    let (ok, out, err) = run(
        &[
            "--config",
            &good,
            "--sms-sign-name",
            "另一签名",
            "check-config",
        ],
        &secrets,
    );
    assert!(ok, "{err}");
    assert!(out.contains("sms.provider = \"aliyun\""), "{out}");
    // Bad keys, each named.
    let bad = write(
        dir.path(),
        "bad.toml",
        &format!(
            "data_dir = {d:?}\n[sms]\nprovider = \"aliyun\"\n[sms.templates]\nsignup = \"1\"\n[payment.alipay]\napp_id = \"2021\"\nnotify_url = \"http://bidkey.example\"\n"
        ),
    );
    let (ok, _, err) = run(&["--config", &bad, "check-config"], &secrets);
    assert!(!ok);
    for words in [
        "sms.templates: SMS templates missing for: login",
        "sms.sign_name is empty",
        "payment.alipay.merchant_key_file is required",
        "payment.alipay.notify_url = \"http://bidkey.example\"",
    ] {
        assert!(err.contains(words), "{words} not in:\n{err}");
    }
    // The sandboxes (the default) outside sandbox mode.
    let plain = write(dir.path(), "plain.toml", &format!("data_dir = {d:?}\n"));
    let (ok, _, err) = run(&["--config", &plain, "check-config"], &no_sandbox);
    assert!(!ok);
    assert!(
        err.contains("sms.provider = \"sandbox\": the sandbox serves only in sandbox mode"),
        "{err}"
    );
    let (ok, _, err) = run(
        &["--config", &plain, "check-config"],
        &[("BIDKEY_SANDBOX", "1")],
    );
    assert!(ok, "{err}");
}

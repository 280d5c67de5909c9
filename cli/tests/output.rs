//! What `bidkey` writes on stdout, as command-line tools do: it ends quietly when its reader
//! goes away (`bidkey … | head`), its shell completions and man page are generated from the
//! command definition, and its default server is where the server listens by default.

use bidkey_testkit::{Store, TestServer};
use std::process::{Command, Stdio};

fn bidkey() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bidkey"));
    c.env_remove("BIDKEY_SERVER")
        .env_remove("BIDKEY_WALLET")
        .env_remove("BIDKEY_LANG");
    c
}

/// Run with stdout a pipe whose reading end is closed as soon as the child starts, before
/// it has done its work (parsing, a request to the server), so its first write fails with
/// `EPIPE`: the exit status and stderr.
fn with_closed_stdout(mut c: Command) -> (Option<i32>, String) {
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bidkey starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("bidkey ends");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_the_command_quietly() {
    // Generated output, no server needed.
    for args in [
        &["completions", "bash"][..],
        &["man"],
        &["--json", "completions", "zsh"],
    ] {
        let mut c = bidkey();
        c.args(args);
        let (code, stderr) = with_closed_stdout(c);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
    // A command that asks the server and prints its answer, as JSON and as a table.
    let server = TestServer::start(Store::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    for json in [true, false] {
        let mut c = bidkey();
        c.arg("--server")
            .arg(server.url())
            .arg("--wallet")
            .arg(dir.path())
            .args(["--lang", "en", "platforms", "list"]);
        if json {
            c.arg("--json");
        }
        let (code, stderr) = with_closed_stdout(c);
        assert_eq!(code, Some(0), "json {json}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "json {json}: {stderr}"
        );
    }
    server.running.stop().await;
}

#[test]
fn completions_and_man_page_are_generated() {
    for (shell, marker) in [
        ("bash", "_bidkey()"),
        ("zsh", "#compdef bidkey"),
        ("fish", "complete -c bidkey"),
        ("elvish", "edit:completion:arg-completer[bidkey]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = bidkey()
            .args(["completions", shell])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).expect("utf-8");
        assert!(script.contains(marker), "{shell}: no {marker}");
        // Subcommands and their options, from the same definition as --help.
        for word in ["certs", "enterprise", "scan", "server", "wallet"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let out = bidkey().arg("man").output().expect("runs");
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        page.starts_with(".ie") || page.contains(".TH bidkey"),
        "{page}"
    );
    assert!(page.contains(".TH bidkey 1"), "a section-1 page");
    for word in ["certs", "completions", "BIDKEY_SERVER"] {
        assert!(page.contains(word), "man page without {word}");
    }
    // An unknown shell is a usage error, not a panic.
    let out = bidkey()
        .args(["completions", "cmd.exe"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

/// The CLI's default server is the server's default address (`listen` defaults to
/// 127.0.0.1:8750, `bidkey_server::config::DEFAULT_LISTEN`).
#[test]
fn the_default_server_is_the_servers_port() {
    assert_eq!(
        bidkey_server::config::DEFAULT_LISTEN,
        "127.0.0.1:8750",
        "the server's default moved"
    );
    let out = bidkey().arg("--help").output().expect("runs");
    let help = String::from_utf8(out.stdout).expect("utf-8");
    assert!(help.contains("http://127.0.0.1:8750"), "{help}");
    let docs = include_str!("../../docs/cli.md");
    assert!(docs.contains("`http://127.0.0.1:8750`") && !docs.contains(":8080"));
}

/// Without `--lang` or `BIDKEY_LANG`, messages follow the locale (LC_ALL, LC_MESSAGES, LANG),
/// and they are the core's sentences (the phones show the same).
#[test]
fn the_language_follows_the_locale() {
    let wallet = tempfile::tempdir().expect("dir");
    let run = |vars: &[(&str, &str)]| {
        let mut c = bidkey();
        c.env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("LANG")
            .args(["--server", "http://127.0.0.1:9", "--wallet"])
            .arg(wallet.path())
            .args(["certs", "apply"]);
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = c.output().expect("runs");
        assert_eq!(out.status.code(), Some(3), "not logged in");
        String::from_utf8(out.stderr).expect("utf-8")
    };
    let not_logged_in = |lang| bidkey_core::i18n::Text::NotLoggedIn.get(lang).to_owned();
    use bidkey_core::i18n::Lang;
    let zh = run(&[("LANG", "zh_CN.UTF-8")]);
    assert!(zh.contains(&not_logged_in(Lang::Zh)), "{zh}");
    let en = run(&[("LANG", "en_US.UTF-8")]);
    assert!(en.contains(&not_logged_in(Lang::En)), "{en}");
    let all = run(&[("LANG", "zh_CN.UTF-8"), ("LC_ALL", "C")]);
    assert!(all.contains(&not_logged_in(Lang::En)), "LC_ALL wins: {all}");
    let flag = {
        let mut c = bidkey();
        c.env("LANG", "en_US.UTF-8")
            .args(["--lang", "zh", "--server", "http://127.0.0.1:9", "--wallet"])
            .arg(wallet.path())
            .args(["certs", "apply"]);
        String::from_utf8(c.output().expect("runs").stderr).expect("utf-8")
    };
    assert!(
        flag.contains(&not_logged_in(Lang::Zh)),
        "--lang wins: {flag}"
    );
}

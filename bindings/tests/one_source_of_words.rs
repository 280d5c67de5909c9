//! One source of words (issue 14 §4): every sentence and label the core owns (its text table,
//! error sentences, statuses, pair states, the scan page's fixed sentences) reaches the shells
//! through the bindings. This fails when the Android or iOS app (sources and native
//! resources) or the CLI repeats one of them as its own copy, which is how the copies drifted
//! (three English versions of the wrong-PIN sentence).

use std::path::{Path, PathBuf};

/// A sentence is found anywhere (code, resources, comments); a short label only as a whole
/// string literal (`"已挂失"`, `>已挂失<` in XML), so a comment naming it does not count.
fn repeats<'w>(text: &str, words: &'w [String]) -> Vec<&'w str> {
    words
        .iter()
        .filter(|w| {
            if is_sentence(w) {
                text.contains(w.as_str())
            } else {
                text.contains(&format!("\"{w}\"")) || text.contains(&format!(">{w}<"))
            }
        })
        .map(String::as_str)
        .collect()
}

/// A sentence rather than a short label: six Chinese characters or more, or three words.
fn is_sentence(w: &str) -> bool {
    if w.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
        w.chars().count() >= 6
    } else {
        w.split_whitespace().count() >= 3
    }
}

fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            // Tests assert the core's words on purpose; generated bindings and build output
            // are not the shells' own.
            if !matches!(
                name,
                "build" | "generated" | "Generated" | "BidkeyCore" | ".gradle" | "test" | "tests"
            ) {
                files(&p, exts, out);
            }
        } else if exts.iter().any(|x| name.ends_with(x)) {
            out.push(p);
        }
    }
}

#[test]
fn the_matcher_finds_a_planted_copy_and_ignores_a_mention() {
    let words = vec![
        "证书密码错误，还可尝试".to_owned(),
        "已挂失".to_owned(),
        "Expired".to_owned(),
        "Rejected".to_owned(),
    ];
    assert!(repeats("Answer::Rejected => \"rejected\"", &words).is_empty());
    let planted = "val m = \"证书密码错误，还可尝试${n}次。\"";
    assert_eq!(repeats(planted, &words), vec!["证书密码错误，还可尝试"]);
    assert_eq!(
        repeats("PairState.SUSPENDED -> \"已挂失\"", &words),
        vec!["已挂失"]
    );
    assert_eq!(
        repeats("<string name=\"x\">已挂失</string>", &words),
        vec!["已挂失"]
    );
    assert!(repeats("/** the label (生效中, 已挂失 …) */", &words).is_empty());
    assert!(repeats("if (expired) \"Expired soon\"", &words).is_empty());
}

#[test]
fn no_shell_repeats_a_sentence_the_core_owns() {
    let words = bidkey_core::i18n::owned_words();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut scanned = Vec::new();
    files(
        &root.join("android"),
        &[".kt", ".kts", ".xml"],
        &mut scanned,
    );
    files(
        &root.join("ios"),
        &[".swift", ".xcstrings", ".strings", ".yml"],
        &mut scanned,
    );
    files(&root.join("cli/src"), &[".rs"], &mut scanned);
    let shells = ["android/", "ios/", "cli/src/"];
    for s in shells {
        assert!(
            scanned.iter().any(|p| p.to_string_lossy().contains(s)),
            "nothing scanned under {s}"
        );
    }
    let mut found = Vec::new();
    for path in &scanned {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for w in repeats(&text, &words) {
            found.push(format!("{}: {w}", path.display()));
        }
    }
    assert!(
        found.is_empty(),
        "shells repeat the core's words (use coreText / errorMessage / statusLabel / \
         pairStateLabel / ScanView.pageZh instead):\n{}",
        found.join("\n")
    );
}

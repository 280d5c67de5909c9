//! 扫一扫 at the desk: `bidkey scan <uri-or-image>` reads a trading platform's QR code (its
//! text, or a PNG/JPEG of it), shows what is asked (who, the four digits to compare with the
//! platform's page, documents, files, session terms, the certificate), asks to confirm and for
//! the PIN, and answers. `sessions`, `end` and `inbox` handle sessions and the requests that
//! come through them without a QR code.

use crate::app::App;
use crate::error::{CliError, Result};
use crate::output::{Out, when};
use bidkey_cli::stdout;
use bidkey_core::flows::scan::{ScanDone, ScanView, SessionRequest};
use bidkey_protocol::scan::{ScanAction, ScanKind, ScanSession};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::path::Path;

/// `bidkey scan`: a QR, or one of the session subcommands.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ScanArgs {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    /// The QR code's text (`bidkey://scan?…`) or an image file (PNG or JPEG) showing it.
    pub source: Option<String>,
    /// Refuse the request instead of confirming it; the platform learns it was rejected.
    #[arg(long)]
    pub reject: bool,
    /// Why it is refused (with `--reject`; at most 200 characters reach the platform).
    #[arg(long, requires = "reject")]
    pub reason: Option<String>,
    /// For a session request the platform allows it for: confirm the session's later sign
    /// and login requests without asking, while this process runs (see `--follow`).
    #[arg(long, conflicts_with = "reject")]
    pub auto_confirm: bool,
    /// After opening a session, stay and answer its requests (as `scan inbox --follow`).
    #[arg(long, conflicts_with = "reject")]
    pub follow: bool,
    /// With `--follow`: seconds each long-poll waits (at most 30).
    #[arg(long, default_value_t = 25, requires = "follow")]
    pub wait: u64,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// The sessions this account holds with platforms (会话列表).
    Sessions,
    /// End a session: the platform can send nothing more through it.
    End { session_id: String },
    /// Receive the requests platforms send through open sessions.
    Inbox(InboxArgs),
}

#[derive(Debug, Args)]
pub struct InboxArgs {
    /// Keep receiving until no session is open (or `--limit` requests came).
    #[arg(long)]
    pub follow: bool,
    /// Seconds to wait for a request in each long-poll (at most 30).
    #[arg(long, default_value_t = 25)]
    pub wait: u64,
    /// Stop after this many requests.
    #[arg(long)]
    pub limit: Option<usize>,
}

pub async fn run(app: &App, args: ScanArgs) -> Result<()> {
    match (args.cmd, args.source) {
        (Some(Cmd::Sessions), _) => sessions(app).await,
        (Some(Cmd::End { session_id }), _) => {
            app.core.end_scan_session(&session_id).await?;
            app.out.done("会话已结束。", "Session ended.")
        }
        (Some(Cmd::Inbox(a)), _) => inbox(app, &a).await,
        (None, Some(source)) => {
            let uri = qr_text(&source)?;
            let view = app.core.scan(&uri).await?;
            let follow = args.follow && view.kind == ScanKind::Session;
            let answer = if args.reject {
                reject(app, &view, args.reason.as_deref()).await?
            } else {
                confirm(app, &view, args.auto_confirm).await?
            };
            print_answer(&app.out, &view, &answer)?;
            if follow && matches!(answer, Answer::Done(_)) {
                let a = InboxArgs {
                    follow: true,
                    wait: args.wait,
                    limit: None,
                };
                inbox(app, &a).await?;
            }
            Ok(())
        }
        (None, None) => Err(CliError::Usage(
            app.out
                .t(
                    "请给出二维码内容或图片文件，或子命令 sessions / end / inbox。",
                    "Give the QR code's text or an image file, or one of sessions, end, inbox.",
                )
                .into(),
        )),
    }
}

/// The QR's text: read from the image when `source` is a file, else `source` itself.
pub fn qr_text(source: &str) -> Result<String> {
    let path = Path::new(source);
    if path.is_file() {
        return decode_image(path);
    }
    Ok(source.trim().to_owned())
}

/// Find and decode the QR code in a PNG or JPEG image.
fn decode_image(path: &Path) -> Result<String> {
    let shown = path.display().to_string();
    let img = image::ImageReader::open(path)
        .map_err(|e| CliError::io(shown.clone(), e))?
        .with_guessed_format()
        .map_err(|e| CliError::io(shown.clone(), e))?
        .decode()
        .map_err(|e| CliError::Usage(format!("{shown}: not a readable PNG or JPEG image ({e})")))?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    let grid = grids
        .first()
        .ok_or_else(|| CliError::Usage(format!("{shown}: no QR code found in the image")))?;
    let (_, text) = grid
        .decode()
        .map_err(|e| CliError::Usage(format!("{shown}: the QR code does not decode ({e})")))?;
    Ok(text)
}

/// How a request was answered.
enum Answer {
    Done(ScanDone),
    Rejected,
}

async fn reject(app: &App, view: &ScanView, reason: Option<&str>) -> Result<Answer> {
    app.core.reject_scan(&view.request_id, reason).await?;
    Ok(Answer::Rejected)
}

/// Show the request, ask to go on, ask for the PIN, confirm.
async fn confirm(app: &App, view: &ScanView, auto_confirm: bool) -> Result<Answer> {
    let out = &app.out;
    if !out.json {
        stdout::line(describe(out, view))?;
    }
    let question = out.t(
        "请核对平台页面上的校验码与上方一致。",
        "Check that the platform's page shows the same verification code.",
    );
    app.ask.confirm(question)?;
    let pin = app.ask.secret("证书密码", "PIN")?;
    let _spin = out.spinner("正在签名……", "Signing…");
    let done = if view.kind == ScanKind::Session {
        app.core
            .confirm_session(&view.request_id, &pin, auto_confirm)
            .await?
    } else {
        app.core.confirm_scan(&view.request_id, &pin).await?
    };
    Ok(Answer::Done(done))
}

fn print_answer(out: &Out, view: &ScanView, answer: &Answer) -> Result<()> {
    let value = json!({
        "request": view_json(view),
        "outcome": match answer { Answer::Done(_) => "approved", Answer::Rejected => "rejected" },
        "done": match answer { Answer::Done(d) => done_json(d), Answer::Rejected => Value::Null },
    });
    out.show(&value, |_| match answer {
        Answer::Rejected => out.t("已拒绝。", "Rejected.").to_owned(),
        Answer::Done(d) => done_text(out, d),
    })
}

fn done_text(out: &Out, d: &ScanDone) -> String {
    let mut s = match d.kind {
        ScanKind::Decrypt => format!(
            "{} {}",
            out.t("已解密文件数：", "Files decrypted:"),
            d.files_decrypted
        ),
        _ => format!("{} {}", out.t("已签名：", "Signatures:"), d.signatures),
    };
    if let Some(g) = &d.session {
        s.push_str(&format!(
            "\n{} {} ({} {}{})",
            out.t("会话：", "Session:"),
            g.session_id,
            out.t("至", "until"),
            when(g.expires_at),
            if g.auto_confirm {
                out.t("，自动确认", ", auto-confirm")
            } else {
                ""
            }
        ));
    }
    if d.auto_confirmed {
        s.push_str(out.t("\n（已自动确认）", "\n(auto-confirmed)"));
    }
    s
}

/// The words of the confirmation page (扫码确认): the core's own page, the same lines the
/// phones show, and what only a terminal adds (each seal image's id and size, the
/// `--auto-confirm` switch).
pub fn describe(out: &Out, v: &ScanView) -> String {
    let mut lines = bidkey_core::scan::words::lines(v, out.lang);
    for s in v.documents.iter().filter_map(|d| d.seal.as_ref()) {
        lines.push(format!(
            "  {} {} ({} B PNG)",
            out.t("印章图片：", "Seal image:"),
            s.seal_id,
            s.image_png.len()
        ));
    }
    if let ScanAction::Session {
        auto_confirm_allowed: true,
        ..
    } = &v.action
    {
        lines.push(out.t("（--auto-confirm）", "(--auto-confirm)").to_owned());
    }
    lines.join("\n")
}

fn kind_text(out: &Out, k: ScanKind) -> &'static str {
    bidkey_core::scan::words::kind_label(k, out.lang)
}

/// The request as scripts see it; the wrapped file keys stay out.
fn view_json(v: &ScanView) -> Value {
    let action = match &v.action {
        ScanAction::Decrypt {
            tender_id,
            tender_name,
            opening_at,
            files,
        } => json!({
            "kind": "decrypt",
            "tender_id": tender_id,
            "tender_name": tender_name,
            "opening_at": opening_at,
            "files": files.iter().map(|f| json!({
                "file_name": f.file_name,
                "recipient_serial": f.recipient_serial,
            })).collect::<Vec<_>>(),
        }),
        ScanAction::Sign { uscc, .. } => json!({
            "kind": "sign",
            "uscc": uscc,
            "documents": v.documents.iter().map(|d| json!({
                "name": d.name,
                "digest_alg": d.digest_alg,
                "digest_hex": d.digest_hex,
                "page_count": d.page_count,
                "seal": d.seal.as_ref().map(|s| json!({
                    "seal_id": s.seal_id,
                    "seal_name": s.seal_name,
                    "image_png_bytes": s.image_png.len(),
                    "page": s.page,
                    "x_mm": s.x_mm,
                    "y_mm": s.y_mm,
                    "width_mm": s.width_mm,
                    "height_mm": s.height_mm,
                })),
            })).collect::<Vec<_>>(),
        }),
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    };
    json!({
        "request_id": v.request_id,
        "kind": v.kind,
        "platform_id": v.platform_id,
        "platform_name": v.platform_name,
        "origin": v.origin,
        "verification_code": v.verification_code,
        "expires_at": v.expires_at,
        "session_id": v.session_id,
        "action": action,
        "certificate": v.certificate.as_ref().map(|c| json!({
            "serial": c.serial,
            "subject": c.subject,
            "enterprise_name": c.enterprise_name,
        })),
        "decryptable_files": v.decryptable_files,
    })
}

fn done_json(d: &ScanDone) -> Value {
    json!({
        "request_id": d.request_id,
        "kind": d.kind,
        "signatures": d.signatures,
        "files_decrypted": d.files_decrypted,
        "session": d.session,
        "auto_confirmed": d.auto_confirmed,
    })
}

async fn sessions(app: &App) -> Result<()> {
    let list = app.core.scan_sessions().await?;
    let out = &app.out;
    out.show(&list, |l| sessions_table(out, l))
}

fn sessions_table(out: &Out, list: &[ScanSession]) -> String {
    out.table(
        &[
            "ID",
            out.t("平台", "Platform"),
            out.t("网址", "Origin"),
            out.t("开始", "Started"),
            out.t("到期", "Expires"),
            out.t("状态", "State"),
        ],
        list.iter().map(|s| {
            let state = match (s.ended_at, s.auto_confirm) {
                (Some(_), _) => out.t("已结束", "ended"),
                (None, true) => out.t("进行中，自动确认", "open, auto-confirm"),
                (None, false) => out.t("进行中", "open"),
            };
            vec![
                s.session_id.clone(),
                s.platform_name.clone(),
                s.origin.clone(),
                when(s.created_at),
                when(s.expires_at),
                state.to_owned(),
            ]
        }),
    )
}

/// Receive session requests: the auto-confirmed ones are reported as such, the others are
/// shown and asked like a scanned QR. With `--json`, one JSON value per request and line.
async fn inbox(app: &App, a: &InboxArgs) -> Result<()> {
    let out = &app.out;
    let mut seen = 0usize;
    loop {
        if a.limit.is_some_and(|n| seen >= n) {
            return Ok(());
        }
        match app.core.next_session_request(a.wait).await? {
            Some(req) => {
                seen += 1;
                answer_session_request(app, &req).await?;
            }
            None => {
                if !a.follow {
                    if seen == 0 {
                        out.show(&Value::Null, |_| {
                            out.t("没有待处理的会话请求。", "No session request waiting.")
                                .to_owned()
                        })?;
                    }
                    return Ok(());
                }
                let open = app
                    .core
                    .scan_sessions()
                    .await?
                    .into_iter()
                    .any(|s| s.ended_at.is_none());
                if !open {
                    if !out.json {
                        stdout::line(out.t("没有进行中的会话。", "No open session."))?;
                    }
                    return Ok(());
                }
            }
        }
        if !a.follow && a.limit.is_none() {
            return Ok(());
        }
    }
}

async fn answer_session_request(app: &App, req: &SessionRequest) -> Result<()> {
    let out = &app.out;
    let answer = match &req.done {
        Some(done) => Answer::Done(done.clone()),
        None => match confirm(app, &req.view, false).await {
            Ok(a) => a,
            // Declined at the prompt: the platform hears no, rather than waiting for expiry.
            Err(CliError::NotConfirmed) => reject(app, &req.view, None).await?,
            Err(e) => return Err(e),
        },
    };
    if out.json {
        let value = json!({
            "request": view_json(&req.view),
            "outcome": match &answer { Answer::Done(_) => "approved", Answer::Rejected => "rejected" },
            "done": match &answer { Answer::Done(d) => done_json(d), Answer::Rejected => Value::Null },
        });
        stdout::line(value)?;
        return Ok(());
    }
    if req.done.is_some() {
        stdout::line(format_args!(
            "{} {} · {} · {}",
            out.t("已自动确认：", "Auto-confirmed:"),
            req.view.platform_name,
            kind_text(out, req.view.kind),
            req.view.request_id
        ))?;
        return Ok(());
    }
    print_answer(out, &req.view, &answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidkey_core::i18n::Lang;
    use bidkey_core::scan::{UsableSeal, document_views};
    use bidkey_protocol::platforms::Seal;
    use bidkey_protocol::scan::{DigestAlg, DocumentToSign, SealPlacement};

    fn view(action: ScanAction) -> ScanView {
        let documents = match &action {
            ScanAction::Sign { documents, .. } => {
                let seal = UsableSeal {
                    seal: Seal {
                        id: "s1".into(),
                        enterprise_id: "e1".into(),
                        name: "投标专用章".into(),
                        width: 200,
                        height: 200,
                        size: 4,
                        image_sha256: String::new(),
                        cert_serial: None,
                        created_at: 0,
                        updated_at: 0,
                        ..Default::default()
                    },
                    image_png: b"\x89PNG".to_vec(),
                };
                document_views(documents, &[seal], "0a").expect("views")
            }
            _ => vec![],
        };
        ScanView {
            request_id: "r1".into(),
            kind: action.kind(),
            platform_id: "p1".into(),
            platform_name: "重庆市公共资源交易中心".into(),
            origin: "https://ggzy.cq.example.invalid".into(),
            verification_code: "4821".into(),
            expires_at: 1_700_000_000,
            session_id: None,
            action,
            documents,
            certificate: None,
            decryptable_files: vec![],
        }
    }

    #[test]
    fn the_page_names_documents_digests_and_the_code() {
        let out = Out {
            json: false,
            lang: Lang::En,
        };
        let v = view(ScanAction::Sign {
            uscc: None,
            documents: vec![DocumentToSign {
                name: "商务标.pdf".into(),
                digest_alg: DigestAlg::Sm3,
                digest: vec![0xab; 32],
                page_count: 4,
                seal: Some(SealPlacement {
                    seal_id: "s1".into(),
                    page: 3,
                    x_mm: 120,
                    y_mm: 240,
                    width_mm: 42,
                    height_mm: 42,
                }),
            }],
        });
        let text = describe(&out, &v);
        assert!(text.contains("Verification code: 4821"), "{text}");
        assert!(
            text.contains("· 商务标.pdf (SM3 abababab…abababab, 4 pages)"),
            "{text}"
        );
        assert!(
            text.contains(
                "Seal: 投标专用章, page 3, 120 mm from the left, 240 mm from the top, 42×42 mm"
            ),
            "{text}"
        );
        assert!(text.contains("Seal image: s1 (4 B PNG)"), "{text}");
        let j = view_json(&v);
        assert_eq!(j["action"]["documents"][0]["digest_hex"], "ab".repeat(32));
        assert_eq!(j["action"]["documents"][0]["seal"]["width_mm"], 42);
        assert_eq!(j["kind"], "sign");
    }

    #[test]
    fn a_jpeg_photo_of_the_qr_decodes() {
        let text = "bidkey://scan?v=1&relay=http://127.0.0.1:8080&id=0123456789abcdef0123456789abcdef&t=3&code=ab";
        let png = bidkey_platform::qr::render_qr_png(text).expect("png");
        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .expect("decodes")
            .to_luma8();
        let dir = tempfile::tempdir().expect("dir");
        let jpg = dir.path().join("photo.jpg");
        img.save_with_format(&jpg, image::ImageFormat::Jpeg)
            .expect("jpeg written");
        assert_eq!(
            qr_text(jpg.to_str().expect("utf-8")).expect("decoded"),
            text
        );
    }

    #[test]
    fn a_text_that_is_no_file_is_the_qr_itself() {
        assert_eq!(
            qr_text(" bidkey://scan?v=1 ").expect("text"),
            "bidkey://scan?v=1"
        );
        let dir = tempfile::tempdir().expect("dir");
        let bad = dir.path().join("not-an-image.png");
        std::fs::write(&bad, b"hello").expect("write");
        assert!(matches!(
            qr_text(bad.to_str().expect("utf-8")),
            Err(CliError::Usage(_))
        ));
    }
}

//! The whole story, step by step, through the same core API the phones use: two people
//! sign up; the first verifies enterprise A by micro-payment and gets its certificates; the
//! second joins; the admin grants the staff member's certificate for the demo platform; the
//! staff member logs in by QR, signs and seals a bid, which the platform keeps encrypted to
//! enterprise A, and decrypts it at the opening; the phone is lost and recovered, and the
//! old bid still opens; the admin revokes the grant and the platform refuses the signature.
//!
//! Every step checks its outcome and fails the story otherwise; [`Outcome`] carries what the
//! end-to-end tests assert on top.

use super::browser::{Browser, Job, Verified, decode_qr};
use super::error::{DemoError, Result};
use super::journal::Journal;
use super::world::{World, write_file};
use bidkey_core::flows::certs::EnrolledPair;
use bidkey_core::flows::scan::{ScanDone, ScanView};
use bidkey_core::{Bidkey, CoreError};
use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::{RealNameMethod, RealNameRequest, SmsPurpose};
use bidkey_protocol::enterprises::{MicropaymentStatus, Role};
use bidkey_protocol::orders::Status;
use std::path::PathBuf;
use std::time::Duration;

/// How many steps [`run`] takes.
pub const STEPS: usize = 20;

/// Enterprise A.
pub const USCC_A: &str = "91500000MA5U8XGQ8Q";
pub const NAME_A: &str = "重庆比德科技有限公司";
/// The last six digits of A's corporate account, from which it makes the micro-payment.
pub const ACCOUNT_LAST6: &str = "880021";

/// The first person: claims A and becomes its admin.
pub const ADMIN_NUMBER: &str = "13800000001";
pub const ADMIN_NAME: &str = "张三";
/// The second person: joins A as staff and bids.
pub const STAFF_NUMBER: &str = "13800000002";
pub const STAFF_NAME: &str = "李四";
/// Certificate PINs (the sandbox's people; never use such PINs for real).
pub const PIN: &str = "246813";
pub const NEW_PIN: &str = "135792";

/// How long a platform page waits for the phone's answer to be verified.
const SETTLE: Duration = Duration::from_secs(60);

/// What the story established, for the end-to-end tests.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub enterprise_id: String,
    pub micropayment_fen: i64,
    pub admin_pair: EnrolledPair,
    pub staff_pair: EnrolledPair,
    pub recovered_pair: EnrolledPair,
    pub grant_id: String,
    /// The platform's message after the login scan.
    pub login_message: String,
    pub bid_id: String,
    /// SM3 of the bid file, hex.
    pub bid_sm3: String,
    /// The serial of the certificate the bid file was encrypted to.
    pub bid_recipient_serial: String,
    /// The serial that signed the bid.
    pub bid_signer_serial: String,
    pub verified_when_signed: Verified,
    pub opened_before_loss: bool,
    /// What the server answered the lost phone after the loss report.
    pub lost_phone_refused: Option<ErrorCode>,
    pub opened_after_recovery: bool,
    pub second_bid_id: String,
    pub second_verified_under_grant: Verified,
    pub second_verified_after_revoke: Verified,
    /// What the phone answered a new sign request after the grant was revoked.
    pub refused_after_revoke: Option<ErrorCode>,
    /// Files left in the output folder (QR codes, documents).
    pub files: Vec<PathBuf>,
}

/// A valid resident ID number (GB 11643 check character) for sandbox person `seq`.
pub fn resident_id(seq: u32) -> String {
    let body = format!("50010219880808{:03}", seq % 1000);
    let check = bidkey_server::realname::id_check_character(&body).unwrap_or('0');
    format!("{body}{check}")
}

pub fn identity(name: &str, seq: u32) -> RealNameRequest {
    RealNameRequest {
        method: RealNameMethod::Cfca,
        name: name.into(),
        id_number: resident_id(seq),
        bank_card: None,
        bank_phone: None,
    }
}

/// A small PNG standing in for the scanned business licence (营业执照).
pub fn licence_png() -> Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(320, 220, |x, y| {
        if x < 8 || y < 8 || x >= 312 || y >= 212 {
            image::Rgb([180, 30, 30])
        } else {
            image::Rgb([250, 246, 235])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| DemoError::Unexpected(format!("licence image: {e}")))?;
    Ok(out.into_inner())
}

/// The enterprise's seal image: a red ring on a transparent square, as a scanned 公章.
pub fn seal_png() -> Result<Vec<u8>> {
    let img = image::RgbaImage::from_fn(240, 240, |x, y| {
        let (dx, dy) = (x as f32 - 119.5, y as f32 - 119.5);
        let r = (dx * dx + dy * dy).sqrt();
        if (100.0..116.0).contains(&r) || r < 14.0 {
            image::Rgba([200, 20, 20, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| DemoError::Unexpected(format!("seal image: {e}")))?;
    Ok(out.into_inner())
}

/// The bid file's text (投标文件).
pub fn bid_text(version: u32) -> Vec<u8> {
    let mut s = format!(
        "投标文件（第{version}版）\n招标项目：渝北区道路改造工程施工招标（CQ-ZB-2026-0042）\n投标人：{NAME_A}\n\
         统一社会信用代码：{USCC_A}\n投标报价：人民币 12,345,678.00 元\n工期：180 日历天\n"
    );
    // Body text long enough to span several encrypted chunks' worth of lines.
    for i in 1..=2000 {
        s.push_str(&format!("第{i}条 技术与商务响应：完全响应招标文件要求。\n"));
    }
    s.into_bytes()
}

fn account_id(phone: &Bidkey) -> Result<String> {
    Ok(phone
        .account()?
        .ok_or_else(|| DemoError::Unexpected("the phone is not logged in".into()))?
        .id)
}

/// The bidder encrypts a bid file before upload (issue 17): to every member the enterprise
/// granted for the demo platform, for the demo's tender.
async fn encrypt_bid(
    world: &World,
    phone: &Bidkey,
    enterprise_id: &str,
    name: &str,
    plain: &[u8],
) -> Result<(Vec<u8>, bidkey_core::flows::bids::EncryptedBid)> {
    let mut out = Vec::new();
    let enc = phone
        .encrypt_bid(
            &bidkey_core::flows::bids::BidTarget {
                threshold: None,
                enterprise_id: enterprise_id.to_owned(),
                platform_id: world.platform_id.clone(),
                tender_id: super::world::TENDER_ID.to_owned(),
                file_name: name.to_owned(),
            },
            &mut &plain[..],
            &mut out,
            Some(plain.len() as u64),
            &mut |_, _| {},
        )
        .await?;
    Ok((out, enc))
}

fn expect(cond: bool, what: impl Into<String>) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(DemoError::Unexpected(what.into()))
    }
}

fn refusal_code(err: &CoreError) -> Option<ErrorCode> {
    err.code()
}

/// The two people sign up and pass real-name (steps 1 and 2).
async fn sign_up(
    world: &World,
    j: &mut Journal,
    phone: &Bidkey,
    number: &str,
    who: &RealNameRequest,
) -> Result<()> {
    let code = world.sms_code(phone, number, SmsPurpose::Signup).await?;
    j.note(format!(
        "SMS code for {number} read from the sandbox's outbox"
    ));
    let account = phone.sign_up(number, &code, "演示手机").await?;
    j.note(format!("account {}", account.id));
    let account = phone.verify_real_name(who).await?;
    expect(
        account.real_name.is_some(),
        "the account has no real name after the check",
    )?;
    j.note(format!(
        "real-name passed (sandbox provider): {}, ID number {}…",
        who.name,
        who.id_number.get(..6).unwrap_or("")
    ));
    Ok(())
}

/// Show the job's QR code as a PNG (saved as `qr/{name}.png`), read it back as a camera
/// does, and scan it with `phone`: the phone fetches and verifies the platform's request.
async fn scan_qr(
    world: &World,
    j: &mut Journal,
    browser: &Browser,
    job: &Job,
    phone: &Bidkey,
    name: &str,
    files: &mut Vec<PathBuf>,
) -> Result<ScanView> {
    let png = browser.qr_png(&job.request_id).await?;
    let path = world.out_dir.join("qr").join(format!("{name}.png"));
    write_file(&path, &png)?;
    files.push(path.clone());
    let text = decode_qr(&png)?;
    j.note(format!("QR code saved: {}", path.display()));
    let view = phone.scan(&text).await?;
    expect(
        view.verification_code == job.code,
        format!(
            "the phone shows code {} but the page shows {}",
            view.verification_code, job.code
        ),
    )?;
    j.note(format!(
        "phone: request from {} ({}), code {} matches the page",
        view.platform_name, view.origin, view.verification_code
    ));
    Ok(view)
}

/// Confirm a scanned request with the PIN and wait until the platform verified the reply.
async fn confirm(
    j: &mut Journal,
    browser: &Browser,
    phone: &Bidkey,
    view: &ScanView,
    pin: &str,
) -> Result<(ScanDone, Job)> {
    let done = phone.confirm_scan(&view.request_id, pin).await?;
    let job = browser.settled(&view.request_id, SETTLE).await?;
    expect(
        job.state == "done",
        format!("the platform did not accept the reply: {}", job.message),
    )?;
    j.note(format!("platform: {}", job.message));
    Ok((done, job))
}

/// Run the story on `world`, recording each step in `j`. On an error the step under way is
/// left open; the caller records it with [`Journal::fail`].
pub async fn run(world: &World, j: &mut Journal) -> Result<Outcome> {
    let mut files = Vec::new();
    let admin = world.phone("admin")?;
    let staff = world.phone("staff")?;
    let admin_id = identity(ADMIN_NAME, 1);
    let staff_id = identity(STAFF_NAME, 2);

    j.begin(format!(
        "{ADMIN_NAME} signs up and passes the real-name check"
    ));
    sign_up(world, j, &admin, ADMIN_NUMBER, &admin_id).await?;
    j.end();

    j.begin(format!(
        "{STAFF_NAME} signs up and passes the real-name check"
    ));
    sign_up(world, j, &staff, STAFF_NUMBER, &staff_id).await?;
    j.end();

    j.begin(format!(
        "{ADMIN_NAME} asks to verify {NAME_A} by micro-payment (对公打款认证)"
    ));
    let found = admin.search_enterprises(USCC_A).await?;
    expect(
        found.results.first().is_some_and(|r| !r.claimed),
        "enterprise A is already claimed",
    )?;
    let mp = admin
        .request_micropayment(USCC_A, NAME_A, ACCOUNT_LAST6)
        .await?;
    expect(
        mp.status == MicropaymentStatus::Pending,
        "micro-payment not pending",
    )?;
    j.note(format!(
        "transfer ¥0.{:02} from the account ending {ACCOUNT_LAST6} to {} ({}), remark {}",
        mp.amount_fen, mp.payee_name, mp.payee_account, mp.reference
    ));
    j.end();

    j.begin("The operator imports the bank statement; the transfer matches");
    let booked = world.server.state.clock.now();
    let csv = format!(
        "{}\nDEMO-{booked},{booked},62220202000{ACCOUNT_LAST6},{NAME_A},0.{:02},对公打款认证 {}\n",
        bidkey_server::bank::CSV_HEADER,
        mp.amount_fen,
        mp.reference
    );
    let summary = world.import_statement("bank-statement.csv", &csv).await?;
    expect(
        summary.matched == 1,
        format!("statement import: {summary:?}"),
    )?;
    let polled = admin.micropayment(&mp.id).await?;
    expect(
        polled.status == MicropaymentStatus::Matched && polled.role == Some(Role::Admin),
        format!("micro-payment is {:?}", polled.status),
    )?;
    let enterprise_id = mp.enterprise_id.clone();
    j.note(format!(
        "statement saved as documents/bank-statement.csv; 1 line matched; {ADMIN_NAME} is now the admin of {NAME_A}"
    ));
    j.end();

    j.begin(format!(
        "{ADMIN_NAME} applies for the enterprise certificates (认领企业 with the business licence)"
    ));
    let claim = admin
        .claim_enterprise(
            USCC_A,
            NAME_A,
            Some(ADMIN_NAME),
            vec![("营业执照.png".into(), "image/png".into(), licence_png()?)],
        )
        .await?;
    expect(
        claim.status == Status::PendingReview,
        format!("the claim is {}", claim.status.as_str()),
    )?;
    j.note(format!(
        "application {} waits for the CA's review",
        claim.id
    ));
    j.end();

    j.begin("The CA approves; the order is paid");
    let paid = world.approve_and_pay(&admin, &claim).await?;
    j.note(format!("application {} is paid", paid.id));
    j.end();

    j.begin("The admin's certificates are issued (two-party key made with the PIN)");
    let admin_pair = admin.enroll(&paid.id, PIN).await?;
    j.note(format!(
        "signing certificate {}, encryption certificate {}",
        admin_pair.signing_serial, admin_pair.encryption_serial
    ));
    j.end();

    j.begin(format!(
        "{STAFF_NAME} joins {NAME_A}; the admin and the CA approve; certificates issued"
    ));
    let join = staff.join_enterprise(&enterprise_id).await?;
    expect(
        join.status == Status::PendingAdmin,
        format!("the join request is {}", join.status.as_str()),
    )?;
    let approved = admin.approve_join(&enterprise_id, &join.id).await?;
    j.note(format!("the admin approved join request {}", join.id));
    let paid = world.approve_and_pay(&staff, &approved).await?;
    let staff_pair = staff.enroll(&paid.id, PIN).await?;
    j.note(format!(
        "the CA approved; signing certificate {}, encryption certificate {}",
        staff_pair.signing_serial, staff_pair.encryption_serial
    ));
    j.end();

    j.begin(format!(
        "The admin grants {STAFF_NAME}'s enterprise certificate for the demo platform"
    ));
    let grant = admin
        .add_grant(
            &enterprise_id,
            &account_id(&staff)?,
            &world.platform_id,
            PIN,
        )
        .await?;
    j.note(format!("grant {} on {}", grant.id, grant.platform_name));
    let seal = admin
        .add_electronic_seal(
            &enterprise_id,
            "投标专用章",
            seal_png()?,
            3,
            (42, 42),
            vec![account_id(&staff)?],
            PIN,
        )
        .await?;
    j.note(format!(
        "the admin adds the seal {} ({}), 42×42 mm, granted to {STAFF_NAME}",
        seal.name, seal.id
    ));
    let seal = world.ca_approves_seal(&seal.id).await?;
    j.note(format!(
        "the CA approves it: the seal maker makes the GB/T 38540 electronic seal (esID {})",
        seal.es_id.clone().unwrap_or_default()
    ));
    j.end();

    j.begin("The platform shows a login QR; the staff wallet scans it");
    let browser = Browser::new(world.platform_url())?;
    let job = browser.login().await?;
    let view = scan_qr(world, j, &browser, &job, &staff, "1-login", &mut files).await?;
    let (_, job) = confirm(j, &browser, &staff, &view, PIN).await?;
    let login_message = job.message.clone();
    let me = browser
        .me()
        .await?
        .ok_or_else(|| DemoError::Unexpected("the browser is not logged in".into()))?;
    expect(
        me.uscc.as_deref() == Some(USCC_A) && me.signing_serial == staff_pair.signing_serial,
        format!("logged in as {me:?}"),
    )?;
    j.end();

    j.begin("The bidder encrypts a bid to enterprise A's granted staff, uploads it, and signs and seals it by scan");
    let text = bid_text(1);
    let bid_name = "投标文件-渝北道路改造.txt";
    let (sealed_file, enc) = encrypt_bid(world, &staff, &enterprise_id, bid_name, &text).await?;
    j.note(format!(
        "the wallet encrypts {} bytes for tender {} on the platform, to {} recipient(s) the server names: {}",
        enc.plaintext_len,
        super::world::TENDER_ID,
        enc.recipients.len(),
        enc.recipients
            .iter()
            .map(|r| format!("{} ({})", r.real_name.clone().unwrap_or_default(), r.serial))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let refused = browser.upload(bid_name, text.clone()).await;
    expect(refused.is_err(), "the platform accepted a plaintext bid")?;
    j.note("the platform refuses the plaintext: it accepts only bids the bidder encrypted");
    let mut other_tender = Vec::new();
    staff
        .encrypt_bid(
            &bidkey_core::flows::bids::BidTarget {
                threshold: None,
                enterprise_id: enterprise_id.clone(),
                platform_id: world.platform_id.clone(),
                tender_id: "CQ-ZB-2026-9999".into(),
                file_name: bid_name.into(),
            },
            &mut &text[..],
            &mut other_tender,
            None,
            &mut |_, _| {},
        )
        .await?;
    let refused = browser.upload(bid_name, other_tender).await;
    expect(
        matches!(&refused, Err(e) if e.to_string().contains("不是本项目")),
        format!("a bid for another tender was not refused at upload: {refused:?}"),
    )?;
    j.note("a bid encrypted for another tender is refused at upload, in words: it could never open at this opening");
    let up = browser
        .upload_sealed(bid_name, sealed_file, &seal.id)
        .await?;
    expect(
        up.bid.recipient_serial == staff_pair.encryption_serial,
        "the bid is not encrypted to the enterprise encryption certificate",
    )?;
    j.note(format!(
        "the platform checked the header (tender, platform, recipients) and keeps the encrypted file ({} bytes, SM3 {}), encrypted to {STAFF_NAME}'s encryption certificate for {NAME_A} ({})",
        up.bid.size, up.bid.sm3, up.bid.recipient_serial
    ));
    let view = scan_qr(
        world,
        j,
        &browser,
        &up.job,
        &staff,
        "2-sign-bid",
        &mut files,
    )
    .await?;
    let shown = view
        .documents
        .first()
        .ok_or_else(|| DemoError::Unexpected("the phone shows no document".into()))?;
    let place = shown
        .seal
        .as_ref()
        .ok_or_else(|| DemoError::Unexpected("the phone shows no seal".into()))?;
    j.note(format!(
        "the phone shows {} (SM3 {}, {} page(s)) and the seal {} on page {} at {}×{} mm",
        shown.name,
        shown.digest_short,
        shown.page_count,
        place.seal_name,
        place.page,
        place.x_mm,
        place.y_mm
    ));
    confirm(j, &browser, &staff, &view, PIN).await?;
    let bid = browser.bid(&up.bid.id).await?;
    let sig = bid
        .signature
        .clone()
        .ok_or_else(|| DemoError::Unexpected("the platform recorded no signature".into()))?;
    let verified_when_signed = browser.verify(&bid.id).await?;
    expect(
        verified_when_signed.valid,
        format!(
            "the platform rejects the signature: {}",
            verified_when_signed.message
        ),
    )?;
    j.note(format!("platform check: {}", verified_when_signed.message));
    files.extend(save_signed(
        world,
        &staff,
        bid_name,
        &text,
        &sig.serial,
        &sig.signature,
        &bid.id,
    )?);
    j.note(format!(
        "bid file, its detached CMS signature with the TSA's timestamp (.p7s; signed at {}, timestamped at {}), the signing certificate (PEM) and the encrypted file saved in documents/",
        sig.signing_time, sig.timestamp_time
    ));
    let ses = sig.ses_signature.as_deref().ok_or_else(|| {
        DemoError::Unexpected("the platform recorded no GB/T 38540 seal signature".into())
    })?;
    files.extend(save_seal_evidence(
        world,
        bid_name,
        &sig.signature,
        ses,
        &verified_when_signed.message,
        sig.seal.as_ref(),
    )?);
    j.note("the GB/T 38540 seal signature (.ses), the signature's timestamp token (.tsr) and the platform's verification report saved in documents/");
    j.end();

    j.begin("A clarification reply (澄清答复函, PDF, Chinese, three pages) is sealed by scan, the seal drawn on the page");
    let pdf_name = "澄清答复函-渝北道路改造.pdf";
    browser.give_seal_picture(&seal.id, seal_png()?).await?;
    let pdf = bidkey_platform::pdf::fixture::bid_pdf("渝北道路改造工程 澄清答复函", 3, false);
    let up = browser
        .upload_pdf_sealed(pdf_name, pdf, &seal.id, 3)
        .await?;
    let view = scan_qr(
        world,
        j,
        &browser,
        &up.job,
        &staff,
        "2b-seal-pdf",
        &mut files,
    )
    .await?;
    let shown = view
        .documents
        .first()
        .and_then(|d| {
            d.seal
                .as_ref()
                .map(|s| (d.page_count, s.page, s.x_mm, s.y_mm))
        })
        .ok_or_else(|| DemoError::Unexpected("the phone shows no seal".into()))?;
    j.note(format!(
        "the phone shows {pdf_name} ({} pages) and the seal on page {} at {}×{} mm from the top left",
        shown.0, shown.1, shown.2, shown.3
    ));
    confirm(j, &browser, &staff, &view, PIN).await?;
    let pdf_bid = browser.bid(&up.bid.id).await?;
    let pdf_check = pdf_bid
        .sealed_pdf
        .clone()
        .ok_or_else(|| DemoError::Unexpected("the platform made no sealed PDF".into()))?;
    expect(
        pdf_check["valid"] == serde_json::Value::Bool(true),
        format!("the platform's verifier refuses the sealed PDF: {pdf_check}"),
    )?;
    let pdf_sig = pdf_bid
        .signature
        .clone()
        .ok_or_else(|| DemoError::Unexpected("the platform recorded no signature".into()))?;
    let sealed = browser.sealed_pdf(&pdf_bid.id).await?;
    let docs = world.out_dir.join("documents");
    let sealed_path = docs.join(pdf_name);
    write_file(&sealed_path, &sealed)?;
    let p7s_path = docs.join(format!("{pdf_name}.p7s"));
    write_file(
        &p7s_path,
        &hex::decode(&pdf_sig.signature)
            .map_err(|_| DemoError::Unexpected("the platform's signature is not hex".into()))?,
    )?;
    files.push(sealed_path);
    files.push(p7s_path);
    let pdf_ses = pdf_sig.ses_signature.as_deref().ok_or_else(|| {
        DemoError::Unexpected("the platform recorded no GB/T 38540 seal signature".into())
    })?;
    files.extend(save_seal_evidence(
        world,
        pdf_name,
        &pdf_sig.signature,
        pdf_ses,
        &pdf_check.to_string(),
        pdf_sig.seal.as_ref(),
    )?);
    j.note(format!(
        "documents/{pdf_name}: the sealed PDF (seal visible, CMS with the TSA's timestamp in /Contents), its .p7s, .ses, .tsr and verification report; the platform's verifier accepts it"
    ));
    j.end();

    j.begin("解密自检: before the opening the wallet proves the uploaded file will open");
    let uploaded = browser.bid_file(&bid.id).await?;
    let check_path = world.out_dir.join("documents").join("self-check.bid");
    write_file(&check_path, &uploaded)?;
    let check = staff
        .self_check_bid_file(&check_path, PIN)
        .await?
        .map_err(|f| DemoError::Unexpected(format!("the self-check failed: {}", f.en)))?;
    let _ = std::fs::remove_file(&check_path);
    let shown = browser
        .report_self_check(
            &bid.id,
            &serde_json::json!({
                "ok": true,
                "binding_hash": check.binding_hash,
                "checked_at": check.checked_at,
                "device": "bidkey demo wallet",
            }),
        )
        .await?;
    expect(
        shown.self_check.as_ref().is_some_and(|c| c.ok),
        "the platform does not show the self-check",
    )?;
    j.note(format!(
        "the wallet co-decrypted its wrapped key, matched it to the header's commitment and authenticated all {} bytes without the key leaving the phone; the opening hall shows 可解密 ✓",
        check.plaintext_len
    ));
    j.end();

    j.begin("预授权开标: the wallet pre-authorises the uploaded bid, the hall shows it, then it is withdrawn");
    let page = browser.preauth_page().await?;
    expect(
        page.contains("bid preauth --opening-at") && page.contains(&bid.id),
        "the platform's 预授权开标 page does not explain the step for this bid",
    )?;
    let preauth_path = world.out_dir.join("documents").join("preauth.bid");
    write_file(&preauth_path, &browser.bid_file(&bid.id).await?)?;
    // The demo's tender is already open; this pre-authorisation names a time ten minutes
    // ahead by the server's clock, as a bidder would name the opening before it.
    let opening_at = world.server.state.clock.now() + 600;
    let deposit = staff
        .preauthorize_opening(&preauth_path, PIN, opening_at)
        .await?;
    let _ = std::fs::remove_file(&preauth_path);
    let hall_state = |rows: Vec<serde_json::Value>| {
        rows.iter()
            .find(|r| r["bid_id"] == bid.id.as_str())
            .and_then(|r| r["preauth"]["state"].as_str().map(str::to_owned))
    };
    let shown = hall_state(browser.hall().await?);
    expect(
        shown.as_deref() == Some("ready"),
        format!("the hall does not show the pre-authorisation ({shown:?})"),
    )?;
    j.note(format!(
        "deposited {}: K1 sealed to the platform's certificate, K2 with the server, bound to this file; the hall shows 已预授权",
        deposit.id
    ));
    let withdrawn = staff.withdraw_preauthorization(&deposit.id).await?;
    let shown = hall_state(browser.hall().await?);
    expect(
        withdrawn.withdrawn_at.is_some() && shown.as_deref() == Some("withdrawn"),
        format!("the hall does not show the withdrawal ({shown:?})"),
    )?;
    j.note("withdrawn before the opening (K2 wiped); the hall shows 投标人已撤回预授权, and the bid opens by scan");
    j.end();

    j.begin("Bid opening (开标): the wallet decrypts the bid by scan");
    let job = browser.open(&bid.id).await?;
    let view = scan_qr(world, j, &browser, &job, &staff, "3-open-bid", &mut files).await?;
    expect(
        view.decryptable_files.iter().any(|f| f == bid_name),
        "the phone cannot decrypt the bid",
    )?;
    confirm(j, &browser, &staff, &view, PIN).await?;
    let opened_before_loss = browser
        .bid(&bid.id)
        .await?
        .opened
        .is_some_and(|o| o.sm3_matches);
    expect(
        opened_before_loss,
        "the opened bid does not match its digest",
    )?;
    j.end();

    j.begin(format!("{STAFF_NAME}'s phone is lost: loss report (挂失)"));
    let new_phone = world.phone("staff-new")?;
    let code = world
        .sms_code(&new_phone, STAFF_NUMBER, SmsPurpose::LossReport)
        .await?;
    let change = new_phone.report_loss(STAFF_NUMBER, &code, None).await?;
    j.note(format!(
        "suspended: {} (no login needed, only the number and an SMS code)",
        change.serials.join(", ")
    ));
    let lost_phone_refused = match staff
        .sign_message(&staff_pair.signing_serial, PIN, b"after the loss report")
        .await
    {
        Ok(_) => None,
        Err(e) => refusal_code(&e),
    };
    expect(
        lost_phone_refused == Some(ErrorCode::CertificateSuspended),
        format!("the lost phone still signs ({lost_phone_refused:?})"),
    )?;
    j.note("the lost phone's signature is refused: certificate suspended");
    j.end();

    j.begin("Recovery (证书找回) on a new phone: login, real-name again, new certificates");
    let code = world
        .sms_code(&new_phone, STAFF_NUMBER, SmsPurpose::Login)
        .await?;
    new_phone
        .login_with_sms(STAFF_NUMBER, &code, "新手机")
        .await?;
    let code = world
        .sms_code(&new_phone, STAFF_NUMBER, SmsPurpose::Recover)
        .await?;
    let app = new_phone
        .recover(&staff_id, &code, Some(&enterprise_id))
        .await?;
    expect(
        app.status == Status::PendingReview && app.not_before.is_some(),
        format!(
            "the recovery was not held for review and cooling-off ({})",
            app.status.as_str()
        ),
    )?;
    j.note(format!(
        "recovery {} held: CA review, and a cooling-off of {} h during which the old phone and the number are told and may cancel",
        app.id,
        (app.not_before.unwrap_or_default() - app.created_at) / 3600
    ));
    let told = staff
        .messages()
        .await?
        .iter()
        .any(|m| m.application_id.as_deref() == Some(app.id.as_str()));
    expect(told, "the old phone was not told of the recovery")?;
    j.note("the old phone's message list shows the recovery, with how to cancel it");
    let paid = world.approve_and_pay(&new_phone, &app).await?;
    j.note("the CA reviewed the materials and approved once the cooling-off was over (the server clock stepped over it)");
    let recovered_pair = new_phone.enroll(&paid.id, NEW_PIN).await?;
    let has_old_key = new_phone
        .local_certificates()?
        .iter()
        .any(|c| c.serial == staff_pair.encryption_serial);
    expect(
        has_old_key,
        "the old encryption key did not come back to the new phone",
    )?;
    j.note(format!(
        "new signing certificate {}; {} encryption key(s) re-delivered by the KMC, the old {} among them",
        recovered_pair.signing_serial, recovered_pair.encryption_keys, staff_pair.encryption_serial
    ));
    j.end();

    j.begin("The bid made before the loss still opens, answered by the new phone");
    let job = browser.open(&bid.id).await?;
    let view = scan_qr(
        world,
        j,
        &browser,
        &job,
        &new_phone,
        "4-open-after-recovery",
        &mut files,
    )
    .await?;
    expect(
        view.decryptable_files.iter().any(|f| f == bid_name),
        "the new phone cannot decrypt the old bid",
    )?;
    confirm(j, &browser, &new_phone, &view, NEW_PIN).await?;
    let opened_after_recovery = browser
        .bid(&bid.id)
        .await?
        .opened
        .is_some_and(|o| o.sm3_matches);
    expect(
        opened_after_recovery,
        "the re-opened bid does not match its digest",
    )?;
    j.end();

    j.begin("The new phone logs in and signs a revised bid under the same grant");
    let browser2 = Browser::new(world.platform_url())?;
    let job = browser2.login().await?;
    let view = scan_qr(
        world,
        j,
        &browser2,
        &job,
        &new_phone,
        "5-login-new-phone",
        &mut files,
    )
    .await?;
    confirm(j, &browser2, &new_phone, &view, NEW_PIN).await?;
    let revised = "投标文件-渝北道路改造-修订.txt";
    let (revised_file, _) =
        encrypt_bid(world, &new_phone, &enterprise_id, revised, &bid_text(2)).await?;
    let second = browser2.upload(revised, revised_file).await?;
    let view = scan_qr(
        world,
        j,
        &browser2,
        &second.job,
        &new_phone,
        "6-sign-revised-bid",
        &mut files,
    )
    .await?;
    confirm(j, &browser2, &new_phone, &view, NEW_PIN).await?;
    let second_verified_under_grant = browser2.verify(&second.bid.id).await?;
    expect(
        second_verified_under_grant.valid,
        format!(
            "the revised bid's signature: {}",
            second_verified_under_grant.message
        ),
    )?;
    j.note(format!(
        "platform check: {}",
        second_verified_under_grant.message
    ));
    j.end();

    j.begin(format!(
        "The admin revokes the grant: the platform refuses {STAFF_NAME}'s signature"
    ));
    // A third version, encrypted while the grant still stood.
    let third_name = "投标文件-渝北道路改造-再次修订.txt";
    let (third_file, _) =
        encrypt_bid(world, &new_phone, &enterprise_id, third_name, &bid_text(3)).await?;
    admin.revoke_grant(&enterprise_id, &grant.id, PIN).await?;
    let second_verified_after_revoke = browser2.verify(&second.bid.id).await?;
    expect(
        !second_verified_after_revoke.valid,
        "the platform still accepts the signature after the grant was revoked",
    )?;
    j.note(format!(
        "platform check: {}",
        second_verified_after_revoke.message
    ));
    let third = browser2.upload(third_name, third_file).await?;
    let png = browser2.qr_png(&third.job.request_id).await?;
    let path = world.out_dir.join("qr").join("7-sign-after-revoke.png");
    write_file(&path, &png)?;
    files.push(path);
    let view = new_phone.scan(&decode_qr(&png)?).await?;
    let refused_after_revoke = match new_phone.confirm_scan(&view.request_id, NEW_PIN).await {
        Ok(_) => None,
        Err(e) => refusal_code(&e),
    };
    expect(
        refused_after_revoke == Some(ErrorCode::GrantMissing),
        format!("a new sign request was not refused for the grant ({refused_after_revoke:?})"),
    )?;
    j.note("the phone refuses a new sign request: grant_missing (no grant for this platform)");
    // The phone then declines the request, so the platform's page stops waiting.
    new_phone
        .reject_scan(&view.request_id, Some("该证书未获授权用于本平台"))
        .await?;
    let job = browser2.settled(&view.request_id, SETTLE).await?;
    expect(
        job.state == "failed",
        format!("the platform shows {}", job.state),
    )?;
    j.note(format!("platform: {}", job.message));
    j.end();

    Ok(Outcome {
        enterprise_id,
        micropayment_fen: mp.amount_fen,
        admin_pair,
        staff_pair,
        recovered_pair,
        grant_id: grant.id,
        login_message,
        bid_id: bid.id,
        bid_sm3: bid.sm3,
        bid_recipient_serial: bid.recipient_serial,
        bid_signer_serial: sig.serial,
        verified_when_signed,
        opened_before_loss,
        lost_phone_refused,
        opened_after_recovery,
        second_bid_id: second.bid.id,
        second_verified_under_grant,
        second_verified_after_revoke,
        refused_after_revoke,
        files,
    })
}

/// Save what proves the seal: the `SES_Signature` (`.ses`), the CMS signature's RFC 3161
/// token (`.tsr`) and the platform's verification report (JSON).
fn save_seal_evidence(
    world: &World,
    name: &str,
    cms_hex: &str,
    ses_hex: &str,
    platform_check: &str,
    seal: Option<&serde_json::Value>,
) -> Result<Vec<PathBuf>> {
    let docs = world.out_dir.join("documents");
    let bad = |what: &str| DemoError::Unexpected(format!("the platform's {what} is not hex"));
    let cms = hex::decode(cms_hex).map_err(|_| bad("signature"))?;
    let ses = hex::decode(ses_hex).map_err(|_| bad("seal signature"))?;
    let parsed = bidkey_crypto::cms::verify_signed_data(
        &cms,
        bidkey_crypto::cms::Content::DetachedDigest {
            algorithm: bidkey_crypto::cms::HashAlgorithm::Sm3,
            digest: &bidkey_crypto::ses::verify_signature(&ses, None, &[])
                .map_err(|e| DemoError::Unexpected(format!("seal signature: {e}")))?
                .data_hash,
        },
        &[],
    )
    .map_err(|e| DemoError::Unexpected(format!("signature: {e}")))?;
    let token = parsed
        .signers
        .first()
        .and_then(|s| s.timestamps.first())
        .map(|t| t.token_der.clone())
        .ok_or_else(|| DemoError::Unexpected("the signature has no timestamp".into()))?;
    let report = serde_json::json!({
        "document": name,
        "platform_check": platform_check,
        "cms": {
            "signer": parsed.signers.first().map(|s| s.cert.subject_string()),
            "timestamp": parsed.signers.first().and_then(|s| s.timestamps.first()).map(|t| t.gen_time),
        },
        "gbt38540_seal": seal,
    });
    let files = [
        (docs.join(format!("{name}.ses")), ses),
        (docs.join(format!("{name}.tsr")), token),
        (
            docs.join(format!("{name}.verification.json")),
            serde_json::to_vec_pretty(&report)
                .map_err(|e| DemoError::Unexpected(format!("report: {e}")))?,
        ),
    ];
    let mut out = Vec::new();
    for (path, data) in files {
        write_file(&path, &data)?;
        out.push(path);
    }
    Ok(out)
}

/// Save the signed bid: the plain file, the signature as a detached CMS (`.p7s`, DER, over the
/// encrypted file as uploaded), the signing
/// certificate as PEM (from the wallet), and a copy of the encrypted file the platform keeps.
fn save_signed(
    world: &World,
    phone: &Bidkey,
    name: &str,
    plain: &[u8],
    serial: &str,
    signature_hex: &str,
    bid_id: &str,
) -> Result<Vec<PathBuf>> {
    let docs = world.out_dir.join("documents");
    let der = hex::decode(signature_hex)
        .map_err(|_| DemoError::Unexpected("the platform's signature is not hex".into()))?;
    let cert = phone
        .local_certificates()?
        .into_iter()
        .find(|c| c.serial == serial)
        .ok_or_else(|| {
            DemoError::Unexpected(format!("certificate {serial} is not in the wallet"))
        })?;
    let pem = bidkey_crypto::x509::Cert::from_der(&cert.der)
        .and_then(|c| c.to_pem())
        .map_err(|e| DemoError::Unexpected(format!("signing certificate: {e}")))?;
    let encrypted = world
        .out_dir
        .join("platform")
        .join("bids")
        .join(format!("{bid_id}.bid"));
    let copy = docs.join(format!("{name}.bid"));
    std::fs::copy(&encrypted, &copy)
        .map_err(|e| DemoError::io(encrypted.display().to_string(), e))?;
    let files = [
        (docs.join(name), plain.to_vec()),
        (docs.join(format!("{name}.p7s")), der),
        (docs.join("signing-cert.pem"), pem.into_bytes()),
    ];
    let mut out = vec![copy];
    for (path, data) in files {
        write_file(&path, &data)?;
        out.push(path);
    }
    Ok(out)
}

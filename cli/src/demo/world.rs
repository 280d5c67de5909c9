//! The system the story runs on: a Bidkey server and the demo trading platform started in
//! this process on loopback, phones (wallet directories of the core) in the output folder,
//! and what an operator does by hand (reading the SMS outbox of the sandbox, importing the
//! bank statement, approving reviews).

use super::error::{DemoError, Result};
use bidkey_core::{Bidkey, CoreConfig, SoftwareKeystore};
use bidkey_crypto::pin::PinKdfParams;
use bidkey_platform::demo::{DemoConfig, DemoRunning, Tender};
use bidkey_protocol::accounts::SmsPurpose;
use bidkey_protocol::orders::{Application, ReviewDecision, Status};
use bidkey_server::db::{DbError, DbUrl, Value};
use bidkey_server::{Config, Running};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The demo platform's name, as its certificate and the phone show it.
pub const PLATFORM_NAME: &str = "演示公共资源交易平台";

/// How to start the world.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    /// The output folder: server data, platform data, wallets, QR codes, documents, report.
    pub out_dir: PathBuf,
    /// The store; SQLite in `out_dir/server` when `None`.
    pub db: Option<DbUrl>,
    /// The PIN KDF of the phones; the core's default (Argon2id, 19 MiB) when `None`.
    pub pin_kdf: Option<PinKdfParams>,
}

/// The tender the demo platform's opening hall is for.
pub const TENDER_ID: &str = "CQ-ZB-2026-0042";

/// The running server and platform.
#[derive(Debug)]
pub struct World {
    pub server: Running,
    pub platform: DemoRunning,
    /// The platform's id at the server (what grants name).
    pub platform_id: String,
    pub out_dir: PathBuf,
    pin_kdf: Option<PinKdfParams>,
    http: reqwest::Client,
    /// Numbers that were sent a code already (see [`World::sms_code`]).
    texted: Mutex<HashSet<String>>,
    clock_steps: Mutex<i64>,
}

/// Create `dir` (and parents) or say which one failed.
pub fn make_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| DemoError::io(dir.display().to_string(), e))
}

pub fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data).map_err(|e| DemoError::io(path.display().to_string(), e))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl World {
    /// Start the server (fresh store, port picked by the system), register the demo
    /// platform with it as the operator does, and start the platform.
    pub async fn start(config: WorldConfig) -> Result<World> {
        // reqwest is built without a default TLS provider (as in the phone core).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let out_dir = config.out_dir;
        for sub in ["server", "platform", "wallets", "qr", "documents"] {
            make_dir(&out_dir.join(sub))?;
        }
        // The demo runs on the sandbox providers, so it asks for sandbox mode by name.
        let mut server_config = Config::local_sandbox(out_dir.join("server"));
        if let Some(db) = config.db {
            server_config.db = db;
        }
        let server = bidkey_server::start(server_config).await?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| DemoError::http("client", e))?;

        let (listener, origin) =
            bidkey_platform::demo::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let identity = bidkey_platform::demo::provision(
            &http,
            &server.operator_url(),
            server.operator_token(),
            PLATFORM_NAME,
            &origin,
        )
        .await?;
        let platform_id = identity.platform_id.clone();
        let platform = bidkey_platform::demo::serve(
            listener,
            DemoConfig {
                bidkey_url: server.url(),
                identity,
                name: PLATFORM_NAME.into(),
                tender: Tender {
                    id: TENDER_ID.into(),
                    name: "渝北区道路改造工程施工招标".into(),
                    // The bid opening has begun: the story seals and opens at once.
                    opening_at: unix_now(),
                },
                data_dir: out_dir.join("platform"),
                clock: Some({
                    let clock = server.state.clock.clone();
                    bidkey_platform::client::UnixClock(std::sync::Arc::new(move || clock.now()))
                }),
            },
        )
        .await?;
        Ok(World {
            server,
            platform,
            platform_id,
            out_dir,
            pin_kdf: config.pin_kdf,
            http,
            texted: Mutex::new(HashSet::new()),
            clock_steps: Mutex::new(0),
        })
    }

    pub fn server_url(&self) -> String {
        self.server.url()
    }

    pub fn platform_url(&self) -> &str {
        &self.platform.url
    }

    /// The wallet directory of phone `name`.
    pub fn wallet_dir(&self, name: &str) -> PathBuf {
        self.out_dir.join("wallets").join(name)
    }

    /// A phone: the core over the wallet `name`, with the software keystore the desktop
    /// shell uses.
    pub fn phone(&self, name: &str) -> Result<Bidkey> {
        let dir = self.wallet_dir(name);
        make_dir(&dir)?;
        let mut config = CoreConfig::new(&self.server_url(), dir.clone());
        if let Some(kdf) = self.pin_kdf {
            config.pin_kdf = kdf;
        }
        Ok(Bidkey::open(config, Arc::new(SoftwareKeystore::new(&dir)))?)
    }

    /// Have the server text a code to `number` from `phone` and read it from the sandbox's
    /// SMS outbox, as `bidkey-server --sandbox sms-outbox` shows it to the operator.
    ///
    /// A number may be texted once a minute. The story texts one number several times
    /// within seconds (sign-up, loss report, login and recovery on the new phone), so for a
    /// repeated number the server's clock is stepped past the limit for that one request
    /// and back: each step is a minute longer than the one before, so every send falls in
    /// a window of its own, and nothing else moves.
    pub async fn sms_code(
        &self,
        phone: &Bidkey,
        number: &str,
        purpose: SmsPurpose,
    ) -> Result<String> {
        let repeated = !self
            .texted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(number.to_owned());
        let step = if repeated {
            let mut steps = self.clock_steps.lock().unwrap_or_else(|p| p.into_inner());
            *steps += 1;
            61 * *steps
        } else {
            0
        };
        let clock = &self.server.state.clock;
        clock.advance(step);
        let sent = phone.send_sms_code(number, purpose).await;
        clock.advance(-step);
        sent?;
        self.outbox_code(number).await
    }

    /// The newest code in the SMS outbox for `number`.
    pub async fn outbox_code(&self, number: &str) -> Result<String> {
        let phone = number.to_owned();
        let body: String = self
            .server
            .state
            .db
            .read(move |tx| {
                let rows = tx.query(
                    "SELECT body FROM sms_outbox WHERE phone = $1 ORDER BY created_at DESC, id DESC",
                    &[Value::Text(phone.clone())],
                )?;
                rows.first()
                    .map(|r| r.text(0))
                    .transpose()
                    .map(Option::unwrap_or_default)
            })
            .await
            .map_err(|e: DbError| DemoError::Unexpected(format!("SMS outbox: {e}")))?;
        // The message reads "【Bidkey】验证码 NNNNNN，…": the first run of six digits.
        body.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .map(str::to_owned)
            .ok_or_else(|| DemoError::Unexpected(format!("no SMS code was sent to {number}")))
    }

    /// Import a bank statement CSV as the operator does (`bidkey-server bank-import`), after
    /// saving it in the output folder.
    pub async fn import_statement(
        &self,
        file_name: &str,
        csv: &str,
    ) -> Result<bidkey_server::bank::ImportSummary> {
        write_file(
            &self.out_dir.join("documents").join(file_name),
            csv.as_bytes(),
        )?;
        let now = self.server.state.clock.now();
        bidkey_server::bank::import(&self.server.state.db, now, csv)
            .await
            .map_err(|errors| DemoError::Unexpected(format!("bank import: {}", errors.join("; "))))
    }

    /// The CA approves seal `id` as a GB/T 38540 electronic seal for a year (`POST
    /// /v1/operator/seals/{id}/approve`): the seal maker makes its SESeal.
    pub async fn ca_approves_seal(&self, id: &str) -> Result<bidkey_protocol::platforms::Seal> {
        let resp = self
            .http
            .post(format!(
                "{}/v1/operator/seals/{id}/approve",
                self.server.operator_url()
            ))
            .bearer_auth(self.server.operator_token())
            .json(&bidkey_protocol::platforms::SealApproval { valid_days: 365 })
            .send()
            .await
            .map_err(|e| DemoError::http("seal approval", e))?;
        if !resp.status().is_success() {
            return Err(DemoError::http("seal approval", resp.status()));
        }
        resp.json()
            .await
            .map_err(|e| DemoError::http("seal approval", e))
    }

    /// The RA/CA reviewer approves application `id` (`POST /v1/operator/reviews/{id}`).
    pub async fn ca_approves(&self, id: &str) -> Result<()> {
        let resp = self
            .http
            .post(format!(
                "{}/v1/operator/reviews/{id}",
                self.server.operator_url()
            ))
            .bearer_auth(self.server.operator_token())
            .json(&ReviewDecision {
                approve: true,
                reason: None,
            })
            .send()
            .await
            .map_err(|e| DemoError::http("operator review", e))?;
        if !resp.status().is_success() {
            return Err(DemoError::http("operator review", resp.status()));
        }
        Ok(())
    }

    /// The CA approves `app` (it waits for review) and the applicant pays the order in the
    /// sandbox; returns the paid application.
    pub async fn approve_and_pay(&self, phone: &Bidkey, app: &Application) -> Result<Application> {
        let mut app = app.clone();
        if app.status == Status::PendingReview {
            // A recovery may be approved only once its cooling-off is over (ADR 0011): the
            // server's clock is stepped over it for the approval alone, and back, as
            // `sms_code` steps it over the resend limit.
            let clock = &self.server.state.clock;
            let wait = app.not_before.map_or(0, |t| (t - clock.now()).max(0));
            clock.advance(wait);
            let approved = self.ca_approves(&app.id).await;
            clock.advance(-wait);
            approved?;
            app = phone.application(&app.id).await?;
        }
        if app.status == Status::AwaitingPayment {
            let order = app.order.as_ref().ok_or_else(|| {
                DemoError::Unexpected("an application awaiting payment has no order".into())
            })?;
            phone.pay_order(&order.id).await?;
            app = phone.application(&app.id).await?;
        }
        if app.status != Status::Paid {
            return Err(DemoError::Unexpected(format!(
                "application {} is {} after review and payment",
                app.id,
                app.status.as_str()
            )));
        }
        Ok(app)
    }

    /// Stop the platform and the server.
    pub async fn stop(self) {
        self.platform.stop();
        self.server.stop().await;
    }
}

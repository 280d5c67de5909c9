//! Two server processes over one PostgreSQL database, as a deployment scales out: a login
//! made on one works on the other, an application moves through both, and limits and
//! invariants hold across them.

mod support;

use bidkey_protocol::ErrorCode;
use bidkey_protocol::accounts::{SendSmsRequest, SendSmsResponse, SmsPurpose};
use bidkey_protocol::certs::PersonalApplicationRequest;
use bidkey_protocol::orders::{Application, ReviewDecision, Status};
use support::{Client, Store, TestServer, real_named, signed_up};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_share_one_postgres() {
    let one = TestServer::start(Store::Postgres).await;
    let two = one.start_sharing().await;
    // Both processes read one frozen moment: the per-minute SMS window below cannot be two.
    one.running.state.clock.freeze();
    two.running
        .state
        .clock
        .freeze_at(one.running.state.clock.now());
    assert_ne!(one.url(), two.url());

    // Sign up on the first; the token works on the second.
    let c1 = signed_up(&one, "13800138100").await;
    let c2 = Client {
        base: two.url(),
        operator_base: two.operator_url(),
        http: c1.http.clone(),
        token: c1.token.clone(),
        confirmation: None,
    };
    real_named(&c2, "赵六", "110101199003074514").await;
    let app: Application = c1
        .post(
            "/v1/applications/personal",
            &PersonalApplicationRequest {
                idempotency_key: None,
            },
        )
        .await
        .expect("applied on one");

    // The operator reviews on the second process.
    let op = Client::new(&two).with_token(&two.operator_token());
    let reviewed: Application = op
        .post(
            &format!("/v1/operator/reviews/{}", app.id),
            &ReviewDecision {
                approve: true,
                reason: None,
            },
        )
        .await
        .expect("reviewed on two");
    assert_eq!(reviewed.status, Status::AwaitingPayment);
    // Deciding again on the first is refused: one shared state.
    let op1 = Client::new(&one).with_token(&one.operator_token());
    let err = op1
        .post::<_, Application>(
            &format!("/v1/operator/reviews/{}", app.id),
            &ReviewDecision {
                approve: true,
                reason: None,
            },
        )
        .await
        .expect_err("already decided");
    assert_eq!(err.1.code, ErrorCode::InvalidState);

    // Concurrent SMS requests for one number through both processes: exactly one is sent.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let base = if i % 2 == 0 { one.url() } else { two.url() };
        tasks.push(tokio::spawn(async move {
            let c = Client {
                base,
                operator_base: String::new(),
                http: reqwest::Client::new(),
                token: None,
                confirmation: None,
            };
            c.post::<_, SendSmsResponse>(
                "/v1/sms/send",
                &SendSmsRequest {
                    phone: "13900139100".into(),
                    purpose: SmsPurpose::Login,
                },
            )
            .await
            .is_ok()
        }));
    }
    let mut sent = 0;
    for t in tasks {
        if t.await.expect("join") {
            sent += 1;
        }
    }
    assert_eq!(sent, 1, "the per-minute limit holds across processes");
}

/// A change made through one process wakes a long poll waiting in another at once, through
/// PostgreSQL's `LISTEN`/`NOTIFY`, not through the waiter's own re-read (ten seconds apart
/// while the feed is up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_one_process_wakes_a_waiter_in_another() {
    use bidkey_server::relay::notify::Notifier;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    use tokio::time::Instant;

    let url = bidkey_testkit::pg::fresh_database();
    let (one, two) = (Notifier::with_postgres(&url), Notifier::with_postgres(&url));
    let listening = Instant::now() + Duration::from_secs(20);
    while !(one.feed_is_up() && two.feed_is_up()) {
        assert!(Instant::now() < listening, "the feeds never came up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // No re-read of its own before the deadline: only the feed can wake the waiter in time.
    two.set_recheck(Duration::from_secs(3600));
    let changed = Arc::new(AtomicBool::new(false));
    let (waiting_in, seen) = (two.clone(), changed.clone());
    let waiter = tokio::spawn(async move {
        waiting_in
            .wait_for("req:abc", Instant::now() + Duration::from_secs(30), || {
                let v = seen.load(Ordering::SeqCst);
                async move { Ok::<_, bidkey_server::relay::notify::ShuttingDown>(v.then_some(())) }
            })
            .await
    });
    // The waiter is asleep before the change, so what ends its wait is the wake-up.
    two.until_asleep(1).await;
    let before = two.wait_counts();
    changed.store(true, Ordering::SeqCst);
    one.notify("req:abc");
    assert_eq!(waiter.await.expect("joined"), Ok(Some(())));
    let after = two.wait_counts();
    assert!(after.wakeups > before.wakeups, "{after:?}");
    assert_eq!(
        (after.deadlines, after.found_on_recheck),
        (0, 0),
        "{after:?}"
    );
}

//! `opening-bench` end to end at a small size: every bidder's bid opens, and what the
//! report is made of was measured (server routes, CPU by party).

use bidkey_bench::opening::{self, Options, report};
use bidkey_testkit::Store;

#[test]
fn a_small_opening_decrypts_every_bid() {
    let runs = opening::run(&Options {
        stores: vec![Store::Sqlite],
        bidders: vec![3, 6],
        max_active: 4,
        enrol_parallel: 3,
        pool_size: None,
    })
    .expect("bench runs");
    let run = &runs[0];
    assert_eq!(run.openings.len(), 2);
    for o in &run.openings {
        assert!(o.failures.is_empty(), "{:?}", o.failures);
        assert_eq!(o.completed(), o.bidders);
        assert_eq!(o.at_once, o.bidders.min(4));
        // One co-decryption per bidder reached the server, and its latency was recorded.
        let cd = o.co_decrypt();
        assert_eq!(cd.count(), o.bidders as u64);
        assert!(cd.quantile_us(0.99) > 0);
        assert!(o.decrypts_per_sec() > 0.0);
        for role in ["server", "phones", "platform"] {
            assert!(!o.cpu.get(role).is_zero(), "{role}: {:?}", o.cpu);
        }
    }
    let table = report::summary(&runs);
    assert_eq!(table.lines().count(), 2 + 2, "{table}");
    assert!(report::routes(run, &run.openings[1]).contains(report::CO_DECRYPT));
}

//! Webhook processing throughput: signed `user.updated` deliveries through
//! `WebhookProcessor::process` (verify + parse + map + one store transaction with the
//! receipt), in-process (no HTTP), with 1 and with 8 concurrent senders, on SQLite (a temp
//! file) and on PostgreSQL (when `CLERK_TEST_POSTGRES_URL` is set; a fresh schema per
//! configuration). As a baseline from the same run: the raw store `apply` of the same
//! batches, without verification or parsing, so the ratio shows the processor's overhead.
//!
//! Run: `cargo bench -p clerk-webhooks --bench processor_throughput` (optionally
//! `CLERK_BENCH_EVENTS=<n>`, default 2,000 per run). Each configuration is run 3 times with
//! fresh svix ids and newer `updated_at` values (every update changes the row); the report
//! gives the median and the range in events per second, as a Markdown table.
//!
//! Users are seeded first (not timed) with `user.created`; the timed events spread over
//! 256 users, so 8 senders rarely wait for one row. The "one user" configuration sends
//! every event for the same user (all 8 senders contend for one row lock).
#![allow(missing_docs)]
#![allow(
    clippy::disallowed_methods, // the bench reads the wall clock and the environment
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

#[path = "../tests/common/postgres.rs"]
mod postgres;
#[path = "../tests/processor_support/mod.rs"]
mod processor_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk_core::store::{BatchOutcome, LinkPolicy, Store, StoreWriter, WriteBatch};
use clerk_store::{PostgresStore, SqliteStore};
use clerk_testkit::webhooks::bodies::{UserBody, BASE_TIME_MS};
use clerk_testkit::webhooks::WebhookSender;
use clerk_webhooks::processor::{map_event, Mapped};
use clerk_webhooks::{Event, WebhookProcessor};
use http::HeaderMap;
use processor_support::{base_now, clock, processor, sender, signed_as, sqlite_store};

/// Distinct users the spread configurations write to.
const USERS: usize = 256;
/// Runs per configuration.
const RUNS: usize = 3;

type Delivery = (HeaderMap, Vec<u8>);

/// A source of fresh deliveries: svix ids and `updated_at` values never repeat.
struct Events {
    sender: WebhookSender,
    next: i64,
}

impl Events {
    fn user(&self, u: usize) -> String {
        format!("user_bench_{u:04}")
    }

    fn body(&mut self, user: usize, event_type: &str) -> Vec<u8> {
        self.next += 1;
        let clerk_id = self.user(user);
        let body = UserBody::new(&clerk_id, &format!("{clerk_id}@bench.example"))
            .first_name(&format!("v{}", self.next))
            .updated_at(BASE_TIME_MS + 10_000 + self.next)
            .event(event_type);
        clerk_testkit::webhooks::bodies::to_bytes(&body)
    }

    fn delivery(&mut self, user: usize, event_type: &str) -> Delivery {
        let bytes = self.body(user, event_type);
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let (_, headers, bytes) = signed_as(&self.sender, &format!("msg_b{}", self.next), &value);
        (headers, bytes)
    }

    /// `n` `user.updated` deliveries, round-robin over `users` users.
    fn updates(&mut self, n: usize, users: usize) -> Vec<Delivery> {
        (0..n)
            .map(|i| self.delivery(i % users, "user.updated"))
            .collect()
    }

    /// The store batches the processor would write for `n` fresh updates (receipt + upsert),
    /// prepared without timing.
    fn batches(&mut self, n: usize, users: usize) -> Vec<WriteBatch> {
        (0..n)
            .map(|i| {
                let bytes = self.body(i % users, "user.updated");
                let event = Event::from_slice(&bytes).unwrap();
                let Mapped::Changes(changes) =
                    map_event(&event, LinkPolicy::Never, base_now()).unwrap()
                else {
                    panic!("user.updated maps to changes")
                };
                let mut batch = WriteBatch::new(base_now())
                    .with_receipt(format!("msg_r{}", self.next), event.event_type());
                for change in changes {
                    batch.push(change);
                }
                batch
            })
            .collect()
    }
}

/// Sends `deliveries` through `processor` from `senders` tasks (each takes the next
/// delivery); every one must be answered 200. Returns the elapsed time.
async fn run_process<S: Store + 'static>(
    processor: &Arc<WebhookProcessor<S>>,
    deliveries: Vec<Delivery>,
    senders: usize,
) -> Duration {
    let deliveries = Arc::new(deliveries);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (p, d, next) = (processor.clone(), deliveries.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((h, b)) = d.get(i) else { break };
                    let outcome = p.process(h, b).await;
                    assert_eq!(outcome.status_code(), 200, "{outcome:?}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

/// The same shape with `store.apply` directly (no verify, no parse, no mapping).
async fn run_apply<S: Store + 'static>(
    store: &Arc<S>,
    batches: Vec<WriteBatch>,
    senders: usize,
) -> Duration {
    let batches = Arc::new(std::sync::Mutex::new(batches.into_iter()));
    let start = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (s, b) = (store.clone(), batches.clone());
            tokio::spawn(async move {
                loop {
                    let Some(batch) = b.lock().unwrap().next() else {
                        break;
                    };
                    let outcome = s.apply(batch).await.unwrap();
                    assert!(matches!(outcome, BatchOutcome::Applied(_)), "{outcome:?}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

/// The processor's own CPU work per delivery, without any store: verify, parse, map, and
/// build the batch, on one thread. Returns (mean per event, body size in bytes).
fn cpu_only(events: usize) -> (Duration, usize) {
    let clock = clock();
    let mut source = Events {
        sender: sender(&clock),
        next: 0,
    };
    let deliveries = source.updates(events, USERS);
    let webhook = processor(clerk_store::MemoryStore::new(), &clock)
        .webhook()
        .clone();
    let now = base_now();
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let start = Instant::now();
        for (h, b) in &deliveries {
            let verified = webhook.verify_at(h, b, now).unwrap();
            let event = verified.event().unwrap();
            let Mapped::Changes(changes) =
                map_event(&event, LinkPolicy::Never, verified.timestamp()).unwrap()
            else {
                panic!("user.updated maps to changes")
            };
            let mut batch = WriteBatch::new(now).with_receipt(verified.id(), event.event_type());
            for change in changes {
                batch.push(change);
            }
            std::hint::black_box(batch);
        }
        best = best.min(start.elapsed());
    }
    let per_event = best / u32::try_from(events).unwrap();
    (per_event, deliveries[0].1.len())
}

/// Median and range of `RUNS` rates, in events per second.
fn summary(events: usize, times: &[Duration]) -> (f64, f64, f64) {
    let mut rates: Vec<f64> = times
        .iter()
        .map(|t| events as f64 / t.as_secs_f64())
        .collect();
    rates.sort_by(f64::total_cmp);
    (rates[rates.len() / 2], rates[0], rates[rates.len() - 1])
}

struct Row {
    backend: &'static str,
    what: &'static str,
    senders: usize,
    rows: &'static str,
    rate: (f64, f64, f64),
}

/// Runs the processor and the raw-apply configurations on `store` (seeded here).
async fn bench_store<S: Store + Clone + 'static>(
    backend: &'static str,
    store: S,
    events: usize,
    hot_row: bool,
    report: &mut Vec<Row>,
) {
    let clock = clock();
    let mut source = Events {
        sender: sender(&clock),
        next: 0,
    };
    let p = Arc::new(processor(store.clone(), &clock));
    // Seed the users (not timed), so the timed events are updates of existing rows.
    let seed: Vec<Delivery> = (0..USERS)
        .map(|u| source.delivery(u, "user.created"))
        .collect();
    run_process(&p, seed, 4).await;
    // Warm-up: fill the pool, caches and prepared statements.
    let warm = source.updates(200, USERS);
    run_process(&p, warm, 8).await;

    let mut configs = vec![("process", 1, USERS), ("process", 8, USERS)];
    if hot_row {
        configs.push(("process", 8, 1));
    }
    configs.extend([("apply", 1, USERS), ("apply", 8, USERS)]);
    let arc_store = Arc::new(store);
    for (what, senders, users) in configs {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let time = if what == "process" {
                let deliveries = source.updates(events, users);
                run_process(&p, deliveries, senders).await
            } else {
                let batches = source.batches(events, users);
                run_apply(&arc_store, batches, senders).await
            };
            times.push(time);
        }
        let rate = summary(events, &times);
        eprintln!(
            "{backend} {what} senders={senders} users={users}: {:.0} ev/s (range {:.0}–{:.0})",
            rate.0, rate.1, rate.2
        );
        report.push(Row {
            backend,
            what,
            senders,
            rows: if users == 1 { "one user" } else { "256 users" },
            rate,
        });
    }
}

fn main() {
    let events: usize = std::env::var("CLERK_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut report = Vec::new();
    runtime.block_on(async {
        let sqlite: SqliteStore = sqlite_store().await;
        bench_store(
            "SQLite (file, WAL)",
            sqlite.clone(),
            events,
            false,
            &mut report,
        )
        .await;
        sqlite.pool().close().await;

        match postgres::test_url("processor_throughput (PostgreSQL)") {
            Some(url) => {
                let schema = postgres::TestSchema::create(&url).await;
                let store: PostgresStore = postgres::store_with(&schema, 8).await;
                store.migrate().await.unwrap();
                bench_store("PostgreSQL", store.clone(), events, true, &mut report).await;
                store.pool().close().await;
            }
            None => println!("PostgreSQL: skipped ({} not set)", postgres::URL_VAR),
        }
    });

    let (per_event, body_len) = cpu_only(events);
    println!();
    println!(
        "processor CPU work without a store (verify + parse + map + batch), one thread, \
         best of {RUNS}: {:.1} µs per event ({body_len}-byte body)",
        per_event.as_secs_f64() * 1e6
    );
    println!();
    println!("{events} user.updated events per run, {RUNS} runs per configuration, events/s:");
    println!();
    println!("| backend | what | senders | rows written | median ev/s | range | vs raw apply |");
    println!("|---|---|---|---|---|---|---|");
    for row in &report {
        let baseline = report
            .iter()
            .find(|b| {
                b.backend == row.backend
                    && b.what == "apply"
                    && b.senders == row.senders
                    && b.rows == row.rows
            })
            .map(|b| b.rate.0);
        let ratio = match (row.what, baseline) {
            ("process", Some(base)) => format!("{:.2}", row.rate.0 / base),
            ("process", None) => "—".to_owned(),
            _ => "1".to_owned(),
        };
        let what = if row.what == "process" {
            "`process` (verify + parse + apply)"
        } else {
            "raw store `apply`"
        };
        println!(
            "| {} | {what} | {} | {} | {:.0} | {:.0}–{:.0} | {ratio} |",
            row.backend, row.senders, row.rows, row.rate.0, row.rate.1, row.rate.2
        );
    }
}

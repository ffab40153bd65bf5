//! The fault campaign's driver (see `run.sh`): runs a mock Clerk in process, starts the example
//! app's release binary against it and against a private PostgreSQL / Redis (managed by
//! `ctl.sh`), injects faults mid-run, and prints one Markdown table per scenario.
//!
//! usage: clerk-fault-campaign --app <binary> --ctl <ctl.sh> --out <dir> [--scenarios a,b,..]
//!
//! Scenarios: jwks-hang, jwks-500, jwks-garbage, jwks-slow, api-429, pg-restart,
//! pg-outage-long, redis, kill-instance (default: all, in that order).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clerk_testkit::mint::{OrgV2, TokenBuilder, DEFAULT_AUTHORIZED_PARTY};
use clerk_testkit::mock::{generated_user_id, Fault};
use clerk_testkit::webhooks::{bodies, WebhookSender, TEST_SECRET};
use clerk_testkit::{MockClerk, TestKeyPair};
use tokio::process::{Child, Command};

// ---- configuration --------------------------------------------------------------------------

struct Cfg {
    app: PathBuf,
    ctl: PathBuf,
    out: PathBuf,
    app_cpu: String,
    pg_port: u16,
    redis_port: u16,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---- samples --------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Sample {
    /// Completion, seconds since the scenario's start.
    end: f64,
    /// Start, seconds since the scenario's start.
    start: f64,
    class: String,
    outcome: String,
    ok: bool,
    latency_ms: f64,
    retry_after: Option<String>,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Sample>>>);

impl Log {
    fn push(&self, s: Sample) {
        self.0.lock().unwrap().push(s);
    }
    fn take(&self) -> Vec<Sample> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn secs(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64()
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn fmt_opt(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{v:.2} s"),
        None => "—".to_owned(),
    }
}

/// One row per class: outcomes, p99 (whole run and during the fault), recovery.
fn class_table(samples: &[Sample], fault: (f64, f64), md: &mut String) {
    let classes: BTreeSet<&str> = samples.iter().map(|s| s.class.as_str()).collect();
    md.push_str("| traffic | requests | served (2xx) | refused / failed, by answer | p99 whole run | p99 during fault | max | after fault end: first success | after fault end: last failure |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for class in classes {
        let of: Vec<&Sample> = samples.iter().filter(|s| s.class == class).collect();
        let ok = of.iter().filter(|s| s.ok).count();
        let mut refused: BTreeMap<String, usize> = BTreeMap::new();
        for s in of.iter().filter(|s| !s.ok) {
            *refused.entry(s.outcome.clone()).or_default() += 1;
        }
        let refused = if refused.is_empty() {
            "none".to_owned()
        } else {
            refused
                .iter()
                .map(|(k, v)| format!("{v} × {k}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut all: Vec<f64> = of.iter().map(|s| s.latency_ms).collect();
        let max = all.iter().cloned().fold(0.0, f64::max);
        let mut during: Vec<f64> = of
            .iter()
            .filter(|s| s.end >= fault.0 && s.start <= fault.1)
            .map(|s| s.latency_ms)
            .collect();
        let first_ok = of
            .iter()
            .filter(|s| s.ok && s.start >= fault.1)
            .map(|s| s.end - fault.1)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v))));
        let last_fail = of
            .iter()
            .filter(|s| !s.ok)
            .map(|s| s.end - fault.1)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let last_fail = match last_fail {
            None => "never failed".to_owned(),
            Some(v) if v <= 0.0 => "none after the end".to_owned(),
            Some(v) => format!("{v:.2} s"),
        };
        let _ = writeln!(
            md,
            "| {class} | {} | {ok} | {refused} | {:.1} ms | {:.1} ms | {:.1} ms | {} | {last_fail} |",
            of.len(),
            percentile(&mut all, 99.0),
            percentile(&mut during, 99.0),
            max,
            fmt_opt(first_ok),
        );
    }
    let ras: BTreeMap<String, usize> =
        samples
            .iter()
            .filter_map(|s| s.retry_after.clone())
            .fold(BTreeMap::new(), |mut m, r| {
                *m.entry(r).or_default() += 1;
                m
            });
    if !ras.is_empty() {
        let _ = writeln!(
            md,
            "\n`Retry-After` on refusals: {}",
            ras.iter()
                .map(|(k, v)| format!("{v} × {k} s"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

fn write_raw(cfg: &Cfg, name: &str, samples: &[Sample]) {
    let mut text = String::from("end_s\tstart_s\tclass\toutcome\tlatency_ms\tretry_after\n");
    for s in samples {
        let _ = writeln!(
            text,
            "{:.4}\t{:.4}\t{}\t{}\t{:.2}\t{}",
            s.end,
            s.start,
            s.class,
            s.outcome,
            s.latency_ms,
            s.retry_after.as_deref().unwrap_or("")
        );
    }
    let _ = std::fs::write(cfg.out.join(format!("{name}.tsv")), text);
}

// ---- processes ------------------------------------------------------------------------------

async fn ctl(cfg: &Cfg, what: &str) {
    let status = Command::new(&cfg.ctl)
        .arg(what)
        .status()
        .await
        .expect("ctl.sh");
    assert!(status.success(), "ctl.sh {what} failed");
}

async fn psql(cfg: &Cfg, db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-At", "-h", "127.0.0.1", "-U", "postgres", "-p"])
        .arg(cfg.pg_port.to_string())
        .args(["-d", db, "-c", sql])
        .output()
        .await
        .expect("psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn create_db(cfg: &Cfg, db: &str) {
    psql(cfg, "postgres", &format!("DROP DATABASE IF EXISTS {db}")).await;
    psql(cfg, "postgres", &format!("CREATE DATABASE {db}")).await;
}

fn pg_url(cfg: &Cfg, db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{}/{db}", cfg.pg_port)
}

struct App {
    child: Option<Child>,
    addr: String,
    name: String,
}

static NEXT_PORT: AtomicUsize = AtomicUsize::new(57100);

impl App {
    async fn start(
        cfg: &Cfg,
        mock: &MockClerk,
        name: &str,
        db_url: &str,
        redis: Option<&str>,
    ) -> (App, f64) {
        let port = NEXT_PORT.fetch_add(1, Ordering::SeqCst);
        let addr = format!("127.0.0.1:{port}");
        Self::start_at(cfg, mock, name, db_url, redis, addr).await
    }

    async fn start_at(
        cfg: &Cfg,
        mock: &MockClerk,
        name: &str,
        db_url: &str,
        redis: Option<&str>,
        addr: String,
    ) -> (App, f64) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(cfg.out.join(format!("{name}.log")))
            .expect("app log");
        let mut cmd = Command::new("taskset");
        cmd.arg("-c")
            .arg(&cfg.app_cpu)
            .arg(&cfg.app)
            .env("CLERK_API_URL", mock.url())
            .env("CLERK_SECRET_KEY", mock.secret_key())
            .env("CLERK_PUBLISHABLE_KEY", mock.publishable_key())
            .env("CLERK_FRONTEND_HOSTS", DEFAULT_AUTHORIZED_PARTY)
            .env("CLERK_WEBHOOK_SIGNING_KEY", TEST_SECRET)
            .env("DATABASE_URL", db_url)
            .env("BIND", &addr)
            .env("TOKIO_WORKER_THREADS", "1")
            .env("ROCKET_WORKERS", "1")
            .env(
                "RUST_LOG",
                std::env::var("APP_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        cmd.env_remove("REDIS_URL");
        if let Some(redis) = redis {
            cmd.env("REDIS_URL", redis);
        }
        let t = Instant::now();
        let child = cmd.spawn().expect("spawn the app");
        let app = App {
            child: Some(child),
            addr,
            name: name.to_owned(),
        };
        let client = client();
        for _ in 0..300 {
            if let Ok(r) = client
                .get(format!("http://{}/healthz", app.addr))
                .send()
                .await
            {
                if r.status().is_success() {
                    return (app, t.elapsed().as_secs_f64());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{}: the app did not answer /healthz (see {name}.log)",
            app.name
        );
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `taskset` execs the app, so the child's pid is the app's.
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status()
                    .await;
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

// ---- request load ---------------------------------------------------------------------------

/// One GET with a bearer token: (outcome, ok, Retry-After).
async fn get(client: &reqwest::Client, url: &str, token: &str) -> (String, bool, Option<String>) {
    match client.get(url).bearer_auth(token).send().await {
        Ok(r) => {
            let status = r.status();
            let ra = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = r.bytes().await.unwrap_or_default();
            if status.is_success() {
                return ("200".to_owned(), true, None);
            }
            let reason = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("reason")
                        .or_else(|| v.get("error"))
                        .and_then(|r| r.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            (
                format!("{} {reason}", status.as_u16()).trim().to_owned(),
                false,
                ra,
            )
        }
        Err(e) if e.is_timeout() => ("client timeout (30 s)".to_owned(), false, None),
        Err(e) if e.is_connect() => ("connection refused".to_owned(), false, None),
        Err(_) => ("connection error".to_owned(), false, None),
    }
}

type TokenSource = Arc<dyn Fn() -> String + Send + Sync>;

fn cycle(tokens: Arc<Vec<String>>) -> TokenSource {
    let next = Arc::new(AtomicUsize::new(0));
    Arc::new(move || tokens[next.fetch_add(1, Ordering::Relaxed) % tokens.len()].clone())
}

/// `n` workers sending GET `url` with tokens from `source`, one request at a time each, until `stop`.
fn spawn_workers(
    n: usize,
    class: &str,
    url: String,
    source: TokenSource,
    stop: Arc<AtomicBool>,
    log: Log,
    t0: Instant,
    pace: Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let (class, url, source, stop, log) = (
                class.to_owned(),
                url.clone(),
                source.clone(),
                stop.clone(),
                log.clone(),
            );
            tokio::spawn(async move {
                let client = client();
                while !stop.load(Ordering::Relaxed) {
                    let token = source();
                    let start = secs(t0);
                    let began = Instant::now();
                    let (outcome, ok, retry_after) = get(&client, &url, &token).await;
                    log.push(Sample {
                        end: secs(t0),
                        start,
                        class: class.clone(),
                        outcome,
                        ok,
                        latency_ms: began.elapsed().as_secs_f64() * 1e3,
                        retry_after,
                    });
                    if !pace.is_zero() {
                        tokio::time::sleep(pace).await;
                    }
                }
            })
        })
        .collect()
}

async fn join_all(handles: Vec<tokio::task::JoinHandle<()>>) {
    for h in handles {
        let _ = h.await;
    }
}

async fn mint(tokens: Vec<TokenBuilder>) -> Arc<Vec<String>> {
    let chunks: Vec<Vec<TokenBuilder>> = {
        let half = tokens.len().div_ceil(2).max(1);
        tokens.chunks(half).map(<[TokenBuilder]>::to_vec).collect()
    };
    let mut out = Vec::new();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            tokio::task::spawn_blocking(move || {
                chunk.iter().map(TokenBuilder::sign).collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        out.extend(h.await.unwrap());
    }
    Arc::new(out)
}

fn token_for(mock: &MockClerk, key: &TestKeyPair, sub: &str) -> TokenBuilder {
    TokenBuilder::v2(key)
        .issuer(&mock.issuer())
        .subject(sub)
        .session_id(&format!("sess_{sub}"))
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .expires_in(Duration::from_secs(3 * 3600))
        .org_v2(OrgV2 {
            id: "org_faults",
            slug: "faults",
            role: "admin",
            permissions: vec![],
            feature_permission_masks: vec![],
        })
}

// ---- JWKS faults ----------------------------------------------------------------------------

struct Pools {
    known: Arc<Vec<String>>,
    new_kid: Arc<Vec<String>>,
}

async fn jwks_scenario(
    cfg: &Cfg,
    mock: &MockClerk,
    pools: &Pools,
    name: &str,
    fault: Fault,
    md: &mut String,
) {
    let warm = env_u64("JWKS_WARM_S", 11) as f64;
    let fault_s = env_u64("JWKS_FAULT_S", 12) as f64;
    let after_s = env_u64("JWKS_AFTER_S", 14) as f64;
    mock.clear_faults();
    mock.set_keys(vec![TestKeyPair::fixed(0)]);
    let db = name.replace('-', "_");
    create_db(cfg, &db).await;
    let (mut app, _) = App::start(cfg, mock, name, &pg_url(cfg, &db), None).await;
    let jwks_before = mock.jwks_requests();
    let t0 = Instant::now();
    let log = Log::default();
    let stop = Arc::new(AtomicBool::new(false));
    let url = app.url("/api/org");
    let mut handles = spawn_workers(
        4,
        "known kid (key fetched before the fault)",
        url.clone(),
        cycle(pools.known.clone()),
        stop.clone(),
        log.clone(),
        t0,
        Duration::ZERO,
    );
    tokio::time::sleep(Duration::from_secs_f64(warm)).await;
    // The fault, and a key the app has never seen: Clerk rotated keys while failing.
    let fault_start = secs(t0);
    mock.add_key(TestKeyPair::fixed(1));
    mock.set_fault(fault.clone());
    handles.extend(spawn_workers(
        4,
        "new kid (key added as the fault starts)",
        url,
        cycle(pools.new_kid.clone()),
        stop.clone(),
        log.clone(),
        t0,
        Duration::ZERO,
    ));
    tokio::time::sleep(Duration::from_secs_f64(fault_s)).await;
    mock.clear_faults();
    let fault_end = secs(t0);
    tokio::time::sleep(Duration::from_secs_f64(after_s)).await;
    stop.store(true, Ordering::Relaxed);
    join_all(handles).await;
    let jwks_fetches = mock.jwks_requests() - jwks_before;
    app.stop().await;
    let samples = log.take();
    write_raw(cfg, name, &samples);
    let _ = writeln!(
        md,
        "\n### {name}: JWKS {fault:?} for {fault_s:.0} s\n\n{warm:.0} s of traffic with the known key, then the fault (t = {fault_start:.1} s) and a new key id in Clerk's JWKS at once, the fault cleared at t = {fault_end:.1} s, {after_s:.0} s more. 4 + 4 closed-loop clients on `GET /api/org`. JWKS requests the app made: {jwks_fetches}.\n"
    );
    class_table(&samples, (fault_start, fault_end), md);
    mock.set_keys(vec![TestKeyPair::fixed(0)]);
}

// ---- Backend API 429 storm ------------------------------------------------------------------

async fn api_429(cfg: &Cfg, mock: &MockClerk, md: &mut String) {
    let n_users: u32 = env_u64("API_USERS", 1500) as u32;
    let first = mock.generate_users(n_users);
    let ids: Vec<String> = first.clone().map(generated_user_id).collect();
    let key = TestKeyPair::fixed(0);
    let tokens: Vec<TokenBuilder> = ids.iter().map(|id| token_for(mock, &key, id)).collect();
    let tokens = mint(tokens).await;
    mock.clear_faults();
    mock.set_keys(vec![key.clone()]);
    create_db(cfg, "api_429").await;
    let (mut app, _) = App::start(cfg, mock, "api-429", &pg_url(cfg, "api_429"), None).await;
    let url = app.url("/api/me");
    // Warm: 50 users provisioned before the storm; they are the "already mirrored" traffic.
    let c = client();
    for t in tokens.iter().take(50) {
        let (o, ok, _) = get(&c, &url, t).await;
        assert!(ok, "warm-up /api/me: {o}");
    }
    let mirrored: Arc<Vec<String>> = Arc::new(tokens[..50].to_vec());
    // New users: a queue; a refused user goes back to the end (the client retries later).
    let queue: Arc<Mutex<std::collections::VecDeque<String>>> =
        Arc::new(Mutex::new(tokens[50..].iter().cloned().collect()));
    let q = queue.clone();
    let new_source: TokenSource =
        Arc::new(move || q.lock().unwrap().pop_front().unwrap_or_default());
    let t0 = Instant::now();
    let log = Log::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = spawn_workers(
        2,
        "user already in the mirror",
        url.clone(),
        cycle(mirrored),
        stop.clone(),
        log.clone(),
        t0,
        Duration::ZERO,
    );
    // New-user workers: requeue refused tokens.
    for _ in 0..4 {
        let (url, stop, log, source, queue) = (
            url.clone(),
            stop.clone(),
            log.clone(),
            new_source.clone(),
            queue.clone(),
        );
        handles.push(tokio::spawn(async move {
            let client = client();
            while !stop.load(Ordering::Relaxed) {
                let token = source();
                if token.is_empty() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                let start = secs(t0);
                let began = Instant::now();
                let (outcome, ok, retry_after) = get(&client, &url, &token).await;
                if !ok {
                    queue.lock().unwrap().push_back(token);
                }
                log.push(Sample {
                    end: secs(t0),
                    start,
                    class: "new user (just-in-time provisioning)".to_owned(),
                    outcome,
                    ok,
                    latency_ms: began.elapsed().as_secs_f64() * 1e3,
                    retry_after,
                });
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        }));
    }
    let storm_half = env_u64("API_STORM_HALF_S", 5) as f64;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let backend_before = mock.backend_requests().len();
    let fault_start = secs(t0);
    mock.set_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });
    tokio::time::sleep(Duration::from_secs_f64(storm_half)).await;
    let half = secs(t0);
    mock.set_fault(Fault::RateLimited {
        retry_after_secs: 7,
    });
    tokio::time::sleep(Duration::from_secs_f64(storm_half)).await;
    mock.clear_faults();
    let fault_end = secs(t0);
    let backend_storm = mock.backend_requests().len() - backend_before;
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, Ordering::Relaxed);
    join_all(handles).await;
    // Every user refused during the storm can sign in now.
    let left: Vec<String> = queue.lock().unwrap().drain(..).collect();
    app.stop().await;
    let samples = log.take();
    write_raw(cfg, "api-429", &samples);
    let refused_during = samples
        .iter()
        .filter(|s| !s.ok && s.class.starts_with("new"))
        .count();
    let mirrored_rows = psql(cfg, "api_429", "SELECT count(*) FROM clerk_users").await;
    let ok_new = samples
        .iter()
        .filter(|s| s.ok && s.class.starts_with("new"))
        .count();
    let _ = writeln!(
        md,
        "\n### api-429: Backend API answers 429 to everything for {:.0} s\n\n3 s of traffic, then every Clerk request answered 429 `Retry-After: 1` for {storm_half:.0} s (t = {fault_start:.1}–{half:.1} s), then `Retry-After: 7` for {storm_half:.0} s, cleared at t = {fault_end:.1} s, 8 s more. `GET /api/me`: 2 clients cycling over 50 users already mirrored, 4 clients each taking the next user not yet mirrored (one request per 40 ms each; a refused user goes back to the queue, as a client retrying later would). Clerk requests the app made during the storm: {backend_storm} for {refused_during} refusals. Mirror rows at the end: {mirrored_rows} (50 warm-up + {ok_new} provisioned during the run); users still waiting in the queue: {}.\n",
        2.0 * storm_half,
        left.len()
    );
    class_table(&samples, (fault_start, fault_end), md);
}

// ---- webhooks with redelivery ----------------------------------------------------------------

#[derive(Clone)]
struct Delivery {
    msg_id: String,
    body: Vec<u8>,
    /// Sent to two instances at once (Svix delivering twice).
    twice: bool,
}

#[derive(Default)]
struct WebhookStats {
    /// Every attempt: (outcome, latency ms, end s).
    attempts: Vec<(String, f64, f64)>,
    /// "applied" answers per svix id.
    applied: HashMap<String, usize>,
    /// svix ids answered 2xx at least once, and when.
    done: HashMap<String, f64>,
    undelivered: Vec<String>,
}

/// Svix-style delivery: every delivery is retried (with exponential backoff from 100 ms, at
/// most 2 s; an attempt unanswered after 15 s counts as failed, as Svix's) until it is answered 2xx or `deadline` passes; attempt `k` goes to target
/// `(i + k) % targets`, as a load balancer in front of the instances would spread it.
async fn deliver_all(
    deliveries: Vec<Delivery>,
    targets: Arc<Vec<WebhookSender>>,
    concurrency: usize,
    deadline: Instant,
    t0: Instant,
) -> WebhookStats {
    let stats = Arc::new(Mutex::new(WebhookStats::default()));
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut handles = Vec::new();
    for (i, d) in deliveries.into_iter().enumerate() {
        let copies = if d.twice { 2 } else { 1 };
        for copy in 0..copies {
            let (d, targets, stats, permits) =
                (d.clone(), targets.clone(), stats.clone(), permits.clone());
            let permit = permits.clone().acquire_owned().await.unwrap();
            handles.push(tokio::spawn(async move {
                let mut attempt = 0u32;
                loop {
                    let target = &targets[(i + copy + attempt as usize) % targets.len()];
                    let began = Instant::now();
                    let send = target.delivery(d.body.clone()).msg_id(&d.msg_id).send();
                    // Svix gives up on an attempt after 15 s and counts it as failed.
                    let result = tokio::time::timeout(Duration::from_secs(15), send).await;
                    let latency = began.elapsed().as_secs_f64() * 1e3;
                    let result = match result {
                        Ok(r) => Some(r),
                        Err(_) => None,
                    };
                    let (outcome, ok) = match result {
                        None => ("no answer within Svix's 15 s".to_owned(), false),
                        Some(result) => match result {
                            Ok(sent) if sent.status.is_success() => {
                                let v: serde_json::Value = sent.json().unwrap_or_default();
                                let o = v
                                    .get("outcome")
                                    .and_then(|o| o.as_str())
                                    .unwrap_or("?")
                                    .to_owned();
                                (format!("{} {o}", sent.status.as_u16()), true)
                            }
                            Ok(sent) => {
                                let v: serde_json::Value = sent.json().unwrap_or_default();
                                let e = v
                                    .get("error")
                                    .and_then(|o| o.as_str())
                                    .unwrap_or("")
                                    .to_owned();
                                (format!("{} {e}", sent.status.as_u16()), false)
                            }
                            Err(e) if e.is_connect() => ("connection refused".to_owned(), false),
                            Err(e) if e.is_timeout() => ("client timeout (30 s)".to_owned(), false),
                            Err(_) => ("connection error (reset / closed)".to_owned(), false),
                        },
                    };
                    {
                        let mut s = stats.lock().unwrap();
                        s.attempts.push((outcome.clone(), latency, secs(t0)));
                        if outcome == "200 applied" {
                            *s.applied.entry(d.msg_id.clone()).or_default() += 1;
                        }
                        if ok {
                            let now = secs(t0);
                            s.done.entry(d.msg_id.clone()).or_insert(now);
                        }
                    }
                    if ok {
                        break;
                    }
                    if Instant::now() > deadline {
                        stats.lock().unwrap().undelivered.push(d.msg_id.clone());
                        break;
                    }
                    let backoff = Duration::from_millis(100u64.saturating_mul(1 << attempt.min(5)))
                        .min(Duration::from_secs(2));
                    tokio::time::sleep(backoff).await;
                    attempt += 1;
                }
                drop(permit);
            }));
        }
    }
    for h in handles {
        let _ = h.await;
    }
    Arc::try_unwrap(stats).ok().unwrap().into_inner().unwrap()
}

/// `n` users: `user.created` for each, and `user.updated` (first name "v2", a minute newer)
/// for every third, interleaved right after; svix ids `msg_<tag><n>`.
fn user_events(tag: &str, n: usize, twice_every: usize) -> (Vec<Delivery>, usize, usize) {
    let mut out = Vec::new();
    let mut updated = 0;
    for i in 0..n {
        let id = format!("user_{tag}{i:05}");
        let email = format!("{tag}{i}@faults.example");
        let created = bodies::UserBody::new(&id, &email)
            .first_name("v1")
            .event("user.created");
        out.push(Delivery {
            msg_id: format!("msg_{tag}{i:05}c"),
            body: bodies::to_bytes(&created),
            twice: twice_every > 0 && i % twice_every == 0,
        });
        if i % 3 == 0 {
            updated += 1;
            let upd = bodies::UserBody::new(&id, &email)
                .first_name("v2")
                .updated_at(bodies::DEFAULT_UPDATED_AT_MS + 60_000)
                .event("user.updated");
            out.push(Delivery {
                msg_id: format!("msg_{tag}{i:05}u"),
                body: bodies::to_bytes(&upd),
                twice: false,
            });
        }
    }
    (out, n, updated)
}

/// Lost / doubled, from the database and the answers.
async fn webhook_report(
    cfg: &Cfg,
    db: &str,
    tag: &str,
    stats: &WebhookStats,
    n_created: usize,
    n_updated: usize,
    n_ids: usize,
    n_sends: usize,
    md: &mut String,
) -> (usize, usize) {
    let live = psql(cfg, db, &format!("SELECT count(*) FROM clerk_users WHERE clerk_id LIKE 'user_{tag}%' AND deleted_at IS NULL")).await;
    let v2 = psql(cfg, db, &format!("SELECT count(*) FROM clerk_users WHERE clerk_id LIKE 'user_{tag}%' AND first_name = 'v2'")).await;
    let rows_per_user = psql(cfg, db, &format!("SELECT coalesce(max(c), 0) FROM (SELECT count(*) c FROM clerk_users WHERE clerk_id LIKE 'user_{tag}%' GROUP BY clerk_id) x")).await;
    let ledger = psql(
        cfg,
        db,
        &format!("SELECT svix_id FROM clerk_webhook_events WHERE svix_id LIKE 'msg_{tag}%'"),
    )
    .await;
    let ledger: Vec<&str> = ledger.lines().filter(|l| !l.is_empty()).collect();
    let ledger_set: BTreeSet<&str> = ledger.iter().copied().collect();
    let answered_not_in_ledger = stats
        .done
        .keys()
        .filter(|k| !ledger_set.contains(k.as_str()))
        .count();
    let doubled_answers = stats.applied.values().filter(|&&c| c > 1).count();
    let lost = (n_created - live.parse::<usize>().unwrap_or(0).min(n_created))
        + (n_updated - v2.parse::<usize>().unwrap_or(0).min(n_updated))
        + answered_not_in_ledger
        + stats.undelivered.len();
    let doubled = doubled_answers + (ledger.len() - ledger_set.len());
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for (o, _, _) in &stats.attempts {
        *by.entry(o.as_str()).or_default() += 1;
    }
    let mut lat: Vec<f64> = stats.attempts.iter().map(|a| a.1).collect();
    let max = lat.iter().cloned().fold(0.0, f64::max);
    let _ = writeln!(
        md,
        "| attempts | answers, by kind | p99 attempt | max attempt | svix ids answered 2xx / sent | not delivered by the deadline | users live / expected | `v2` updates applied / expected | rows per user (max) | ledger rows / distinct ids in it / ids sent (sends, duplicates included) | svix ids answered `applied` more than once | **lost** | **applied twice** |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n| {} | {} | {:.1} ms | {:.1} ms | {} / {n_ids} | {} | {live} / {n_created} | {v2} / {n_updated} | {rows_per_user} | {} / {} / {n_ids} ({n_sends}) | {doubled_answers} | **{lost}** | **{doubled}** |",
        stats.attempts.len(),
        by.iter().map(|(k, v)| format!("{v} × {k}")).collect::<Vec<_>>().join("; "),
        percentile(&mut lat, 99.0),
        max,
        stats.done.len(),
        stats.undelivered.len(),
        ledger.len(),
        ledger_set.len(),
    );
    (lost, doubled)
}

fn senders(apps: &[&App]) -> Arc<Vec<WebhookSender>> {
    Arc::new(
        apps.iter()
            .map(|a| WebhookSender::new(a.url("/webhooks/clerk"), TEST_SECRET))
            .collect(),
    )
}

/// After `t_end` (s), the first 2xx and the time the last delivery was answered 2xx.
fn webhook_recovery(stats: &WebhookStats, t_end: f64) -> (Option<f64>, Option<f64>) {
    let first = stats
        .attempts
        .iter()
        .filter(|a| a.2 >= t_end && a.0.starts_with('2'))
        .map(|a| a.2 - t_end)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v))));
    let last = stats
        .done
        .values()
        .map(|t| t - t_end)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    (first, last)
}

async fn pg_restart(cfg: &Cfg, mock: &MockClerk, name: &str, down_s: u64, md: &mut String) {
    let n = env_u64("WEBHOOK_USERS", 3000) as usize;
    let db = name.replace('-', "_");
    let tag = if down_s > 10 { "pgl" } else { "pg" };
    create_db(cfg, &db).await;
    let (mut app, _) = App::start(cfg, mock, name, &pg_url(cfg, &db), None).await;
    let (deliveries, n_created, n_updated) = user_events(tag, n, 0);
    let n_deliveries = deliveries.len();
    let targets = senders(&[&app]);
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(90);
    let burst = tokio::spawn(deliver_all(deliveries, targets, 16, deadline, t0));
    tokio::time::sleep(Duration::from_millis(env_u64("PG_STOP_AFTER_MS", 1000))).await;
    let fault_start = secs(t0);
    ctl(cfg, "pg-stop").await;
    let stopped = secs(t0);
    tokio::time::sleep(Duration::from_secs(down_s)).await;
    ctl(cfg, "pg-start").await;
    let fault_end = secs(t0);
    let stats = burst.await.unwrap();
    let end = secs(t0);
    // Reads keep working after the restart too.
    let token = token_for(mock, &TestKeyPair::fixed(0), &format!("user_{tag}00000")).sign();
    let (me, _, _) = get(&client(), &app.url("/api/me"), &token).await;
    app.stop().await;
    let (first, last) = webhook_recovery(&stats, fault_end);
    let _ = writeln!(
        md,
        "\n### {name}: PostgreSQL stopped (fast shutdown) for {down_s} s in the middle of a webhook burst\n\n{n_deliveries} deliveries ({n_created} `user.created`, {n_updated} `user.updated` a minute newer, each right after its `created`), 16 in flight, Svix-style redelivery until 2xx (backoff 100 ms doubling to 2 s). PostgreSQL stop began at t = {fault_start:.2} s (down at {stopped:.2} s), start returned at t = {fault_end:.2} s; burst over at t = {end:.2} s. After fault end: first 2xx {}, last delivery answered 2xx {}. `GET /api/me` after the run: {me}.\n",
        fmt_opt(first),
        fmt_opt(last)
    );
    webhook_report(
        cfg,
        &db,
        &tag,
        &stats,
        n_created,
        n_updated,
        n_deliveries,
        n_deliveries,
        md,
    )
    .await;
}

async fn kill_instance(cfg: &Cfg, mock: &MockClerk, md: &mut String) {
    let n = env_u64("WEBHOOK_USERS", 3000) as usize;
    create_db(cfg, "kill_instance").await;
    let url = pg_url(cfg, "kill_instance");
    let (mut a, _) = App::start(cfg, mock, "kill-a", &url, None).await;
    let (mut b, _) = App::start(cfg, mock, "kill-b", &url, None).await;
    let (deliveries, n_created, n_updated) = user_events("kill", n, 10);
    let n_twice = deliveries.iter().filter(|d| d.twice).count();
    let n_deliveries = deliveries.len();
    let targets = senders(&[&a, &b]);
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(90);
    let burst = tokio::spawn(deliver_all(deliveries, targets, 16, deadline, t0));
    tokio::time::sleep(Duration::from_millis(env_u64("KILL_AFTER_MS", 1000))).await;
    let fault_start = secs(t0);
    a.kill9().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let addr = a.addr.clone();
    let (a2, restart_s) = App::start_at(cfg, mock, "kill-a", &url, None, addr).await;
    let mut a = a2;
    let fault_end = secs(t0);
    let stats = burst.await.unwrap();
    let end = secs(t0);
    a.stop().await;
    b.stop().await;
    let (first, last) = webhook_recovery(&stats, fault_end);
    let _ = writeln!(
        md,
        "\n### kill-instance: one of two instances SIGKILLed mid-burst, restarted 1 s later\n\nTwo {} instances on one private PostgreSQL database; {n_deliveries} deliveries ({n_created} `user.created`, {n_updated} `user.updated`), {n_twice} of them delivered to both instances at once (Svix sending twice), 16 in flight, attempt k of delivery i to instance (i + k) mod 2, redelivery until 2xx. Instance A SIGKILLed at t = {fault_start:.2} s, restarted (healthy after {restart_s:.2} s) at t = {fault_end:.2} s; burst over at t = {end:.2} s. After restart: first 2xx {}, last delivery answered 2xx {}.\n",
        cfg.app.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        fmt_opt(first),
        fmt_opt(last)
    );
    webhook_report(
        cfg,
        "kill_instance",
        "kill",
        &stats,
        n_created,
        n_updated,
        n_deliveries,
        n_deliveries + n_twice,
        md,
    )
    .await;
}

// ---- Redis ----------------------------------------------------------------------------------

async fn redis_scenario(cfg: &Cfg, mock: &MockClerk, md: &mut String) {
    let redis_url = format!("redis://127.0.0.1:{}", cfg.redis_port);
    create_db(cfg, "redis_down").await;
    let db = pg_url(cfg, "redis_down");
    // 1. Start with REDIS_URL set and Redis down.
    ctl(cfg, "redis-stop").await;
    let (mut app, start_s) = App::start(cfg, mock, "redis", &db, Some(&redis_url)).await;
    // Mirror 200 users through webhooks.
    let n = 200;
    let (deliveries, _, _) = user_events("rd", n, 0);
    let t0 = Instant::now();
    let stats = deliver_all(
        deliveries,
        senders(&[&app]),
        16,
        Instant::now() + Duration::from_secs(30),
        t0,
    )
    .await;
    let key = TestKeyPair::fixed(0);
    let tokens = mint(
        (0..n)
            .map(|i| token_for(mock, &key, &format!("user_rd{i:05}")))
            .collect(),
    )
    .await;
    let c = client();
    let (down_me, _, _) = get(&c, &app.url("/api/me"), &tokens[0]).await;
    let mut lat = Vec::new();
    for t in tokens.iter().take(50) {
        let b = Instant::now();
        let _ = get(&c, &app.url("/api/me"), t).await;
        lat.push(b.elapsed().as_secs_f64() * 1e3);
    }
    let down_p99 = percentile(&mut lat, 99.0);
    // 2. Redis up, traffic, Redis stopped for a while, started again.
    ctl(cfg, "redis-start").await;
    let log = Log::default();
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let handles = spawn_workers(
        6,
        "GET /api/me, mirrored users",
        app.url("/api/me"),
        cycle(tokens.clone()),
        stop.clone(),
        log.clone(),
        t0,
        Duration::ZERO,
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let fault_start = secs(t0);
    ctl(cfg, "redis-stop").await;
    // While Redis is down: rename 50 users by webhook; the cache invalidation cannot reach Redis.
    let renames: Vec<Delivery> = (0..50)
        .map(|i| {
            let id = format!("user_rd{i:05}");
            let body = bodies::UserBody::new(&id, &format!("rd{i}@faults.example"))
                .first_name("renamed-during-outage")
                .updated_at(bodies::DEFAULT_UPDATED_AT_MS + 120_000)
                .event("user.updated");
            Delivery {
                msg_id: format!("msg_rdren{i:05}"),
                body: bodies::to_bytes(&body),
                twice: false,
            }
        })
        .collect();
    let ren = deliver_all(
        renames,
        senders(&[&app]),
        8,
        Instant::now() + Duration::from_secs(30),
        t0,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(env_u64("REDIS_DOWN_S", 6))).await;
    ctl(cfg, "redis-start").await;
    let fault_end = secs(t0);
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    join_all(handles).await;
    // Stale reads after the outage?
    let mut stale = 0;
    for t in tokens.iter().take(50) {
        if let Ok(r) = c.get(app.url("/api/me")).bearer_auth(t).send().await {
            let v: serde_json::Value =
                serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or_default();
            if v.get("first_name").and_then(|f| f.as_str()) != Some("renamed-during-outage") {
                stale += 1;
            }
        }
    }
    // 3. Redis hanging (SIGSTOP): connections open, nothing answered.
    let log2 = Log::default();
    let stop2 = Arc::new(AtomicBool::new(false));
    let t1 = Instant::now();
    let handles = spawn_workers(
        6,
        "GET /api/me, mirrored users",
        app.url("/api/me"),
        cycle(tokens.clone()),
        stop2.clone(),
        log2.clone(),
        t1,
        Duration::ZERO,
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pause_start = secs(t1);
    ctl(cfg, "redis-pause").await;
    tokio::time::sleep(Duration::from_secs(env_u64("REDIS_DOWN_S", 6))).await;
    ctl(cfg, "redis-resume").await;
    let pause_end = secs(t1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop2.store(true, Ordering::Relaxed);
    join_all(handles).await;
    app.stop().await;
    let samples = log.take();
    write_raw(cfg, "redis", &samples);
    let paused = log2.take();
    write_raw(cfg, "redis-pause", &paused);
    let ren_ok = ren.done.len();
    let _ = writeln!(
        md,
        "\n### redis: Redis (the user/organization lookup cache of `REDIS_URL`) stopped and started\n\nStarted with `REDIS_URL` set and Redis down: healthy after {start_s:.2} s; 200 users mirrored by webhook ({} of 267 deliveries answered 2xx); `GET /api/me` with Redis down: {down_me}, p99 of 50 sequential requests {down_p99:.1} ms. Then Redis started, 6 closed-loop clients on `GET /api/me` over the 200 users; Redis stopped at t = {fault_start:.1} s, 50 users renamed by webhook while it was down ({ren_ok} of 50 answered 2xx), Redis started at t = {fault_end:.1} s (empty: `--save ''`), 6 s more. Users still showing their old name afterwards (stale cache): **{stale}** of 50.\n",
        stats.done.len()
    );
    class_table(&samples, (fault_start, fault_end), md);
    let _ = writeln!(
        md,
        "\nThen Redis hung (SIGSTOP: connections accepted by the kernel, nothing answered) at t = {pause_start:.1} s, resumed (SIGCONT) at t = {pause_end:.1} s, 5 s more, same traffic:\n"
    );
    class_table(&paused, (pause_start, pause_end), md);
}

// ---- main -----------------------------------------------------------------------------------

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut app, mut ctl_path, mut out, mut scenarios) = (None, None, None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--app" => app = args.next().map(PathBuf::from),
            "--ctl" => ctl_path = args.next().map(PathBuf::from),
            "--out" => out = args.next().map(PathBuf::from),
            "--scenarios" => scenarios = args.next(),
            other => panic!("unknown argument {other}"),
        }
    }
    let cfg = Cfg {
        app: app.expect("--app"),
        ctl: ctl_path.expect("--ctl"),
        out: out.expect("--out"),
        app_cpu: std::env::var("APP_CPU").unwrap_or_else(|_| "0".to_owned()),
        pg_port: env_u64("PG_PORT", 55432) as u16,
        redis_port: env_u64("REDIS_PORT", 56379) as u16,
    };
    std::fs::create_dir_all(&cfg.out).unwrap();
    assert!(
        Path::new(&cfg.app).exists(),
        "no app binary at {}",
        cfg.app.display()
    );
    let all = "jwks-hang,jwks-500,jwks-garbage,jwks-slow,api-429,pg-restart,pg-outage-long,redis,kill-instance";
    let scenarios = scenarios.unwrap_or_else(|| all.to_owned());
    let mock = MockClerk::builder()
        .keys(vec![TestKeyPair::fixed(0)])
        .start()
        .await;
    let started = Instant::now();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "App under test: `{}` (release build), one worker thread.",
        cfg.app
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let needs_pools = scenarios.contains("jwks");
    let pools = if needs_pools {
        let k0 = TestKeyPair::fixed(0);
        let k1 = TestKeyPair::fixed(1);
        Some(Pools {
            known: mint(
                (0..400)
                    .map(|i| token_for(&mock, &k0, &format!("user_known{i}")))
                    .collect(),
            )
            .await,
            new_kid: mint(
                (0..400)
                    .map(|i| token_for(&mock, &k1, &format!("user_newkid{i}")))
                    .collect(),
            )
            .await,
        })
    } else {
        None
    };
    for s in scenarios.split(',') {
        let t = Instant::now();
        eprintln!("== {s} (t = {:.0} s)", started.elapsed().as_secs_f64());
        let before = md.len();
        match s {
            "jwks-hang" => {
                jwks_scenario(
                    &cfg,
                    &mock,
                    pools.as_ref().unwrap(),
                    s,
                    Fault::Delay(Duration::from_secs(120)),
                    &mut md,
                )
                .await
            }
            "jwks-500" => {
                jwks_scenario(
                    &cfg,
                    &mock,
                    pools.as_ref().unwrap(),
                    s,
                    Fault::Status(500),
                    &mut md,
                )
                .await
            }
            "jwks-garbage" => {
                jwks_scenario(
                    &cfg,
                    &mock,
                    pools.as_ref().unwrap(),
                    s,
                    Fault::Garbage,
                    &mut md,
                )
                .await
            }
            "jwks-slow" => {
                jwks_scenario(
                    &cfg,
                    &mock,
                    pools.as_ref().unwrap(),
                    s,
                    Fault::Delay(Duration::from_secs(env_u64("JWKS_SLOW_S", 4))),
                    &mut md,
                )
                .await
            }
            "api-429" => api_429(&cfg, &mock, &mut md).await,
            "pg-restart" => pg_restart(&cfg, &mock, s, env_u64("PG_DOWN_S", 4), &mut md).await,
            "pg-outage-long" => {
                pg_restart(&cfg, &mock, s, env_u64("PG_LONG_DOWN_S", 40), &mut md).await
            }
            "redis" => redis_scenario(&cfg, &mock, &mut md).await,
            "kill-instance" => kill_instance(&cfg, &mock, &mut md).await,
            other => panic!("unknown scenario {other}"),
        }
        let _ = writeln!(
            md,
            "\n(scenario wall time {:.0} s)",
            t.elapsed().as_secs_f64()
        );
        eprint!("{}", &md[before..]);
        std::fs::write(cfg.out.join("report.md"), &md).unwrap();
    }
    mock.shutdown().await;
    println!("{md}");
    eprintln!("== done in {:.0} s", started.elapsed().as_secs_f64());
}

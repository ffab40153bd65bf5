//! The Rocket rows of the load run (`bench/load/run.sh --variant …`): one JSON route,
//! `GET /api/hello`, served three ways:
//!
//! - `none`: no guard (Rocket's own cost: row a);
//! - `clerk-rocket`: `ClerkFairing` + the `ClerkAuth` guard, default verified-token cache
//!   (row b with one token, cache warm);
//! - `clerk-rocket-nocache`: the same with the verified-token cache off, so every request runs
//!   the full verification with its RSA signature check (row c).
//!
//! usage: load-server-rocket <variant> <addr>; the `CLERK_*` settings come from the
//! environment; `TOKIO_WORKER_THREADS` sets Rocket's workers (as the Axum server's threads).

use clerk_rocket::{ClerkAuth, ClerkFairing};
use rocket::serde::json::Json;
use rocket::{get, routes};
use serde_json::{json, Value};

#[get("/api/hello")]
fn anonymous() -> Json<Value> {
    Json(json!({ "ok": true, "user_id": null }))
}

#[get("/api/hello")]
fn ours(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "ok": true, "user_id": auth.user_id }))
}

#[get("/healthz")]
fn healthz() -> &'static str {
    "ok"
}

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().expect("usage: load-server-rocket <variant> <addr>");
    let addr: std::net::SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned())
        .parse()
        .expect("addr");
    let workers: usize = std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let figment = rocket::Config::figment()
        .merge(("address", addr.ip()))
        .merge(("port", addr.port()))
        .merge(("workers", workers))
        .merge(("log_level", "off"))
        .merge(("cli_colors", false));
    let rocket = rocket::custom(figment).mount("/", routes![healthz]);
    let rocket = match variant.as_str() {
        "none" => rocket.mount("/", routes![anonymous]),
        "clerk-rocket" => rocket
            .attach(ClerkFairing::new())
            .register("/", clerk_rocket::catchers())
            .mount("/", routes![ours]),
        "clerk-rocket-nocache" => rocket
            .attach(ClerkFairing::new().token_cache_capacity(0))
            .register("/", clerk_rocket::catchers())
            .mount("/", routes![ours]),
        other => panic!("unknown variant {other}: none | clerk-rocket | clerk-rocket-nocache"),
    };
    eprintln!("load-server-rocket {variant} on {addr}");
    if let Err(error) = rocket::execute(rocket.launch()) {
        panic!("launch: {error}");
    }
}

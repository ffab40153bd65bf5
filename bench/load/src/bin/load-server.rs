//! One JSON route, `GET /api/hello`, served four ways (the load run's variants):
//!
//! - `none`: no authentication (a);
//! - `clerk-axum`: clerk-axum's `ClerkLayer` + the `ClerkAuth` extractor, default verified-token
//!   cache (b: one token, cache warm; also the memory run);
//! - `clerk-axum-app`: the app's one-liner, `Clerk::builder(config, store).build()?.install(routes)`
//!   over a `MemoryStore` mirror: the layer with the stored-user lookup and the machine
//!   verifier, the standing check of each signed-in request, the webhook route;
//! - `clerk-axum-nocache`: the same with the verified-token cache off, so every request runs the
//!   full verification with its RSA signature check (c);
//! - `clerk-axum-outer`: the same layer wrapped around the whole router instead of applied
//!   with `Router::layer` (so axum does not box and clone a layered service per route);
//! - `floor`: no authentication, but the least a layer can do to hand a user to a handler:
//!   axum's own `Extension` layer inserts a user id (`Arc<str>`, the id the load tokens carry) into
//!   every request and the handler returns it as `ours` does, so it pays the request
//!   extension and the id's serialization but no token work (what any auth layer costs at least);
//! - `clerk-rs`: the clerk-rs crate's axum `ClerkLayer` with its `MemoryCacheJwksProvider`,
//!   pointed at the mock Clerk (d).
//!
//! usage: load-server <variant> <addr>; the `CLERK_*` settings come from the environment;
//! `TOKIO_WORKER_THREADS` sets the runtime's threads.

use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

async fn anonymous() -> Json<Value> {
    Json(json!({ "ok": true, "user_id": null }))
}

async fn ours(auth: clerk_axum::ClerkAuth) -> Json<Value> {
    Json(json!({ "ok": true, "user_id": auth.user_id }))
}

async fn floor(Extension(user_id): Extension<std::sync::Arc<str>>) -> Json<Value> {
    Json(json!({ "ok": true, "user_id": &*user_id }))
}

async fn theirs(Extension(jwt): Extension<clerk_rs::validators::authorizer::ClerkJwt>) -> Json<Value> {
    Json(json!({ "ok": true, "user_id": jwt.sub }))
}

fn clerk_axum_layer(cache: bool) -> clerk_axum::ClerkLayer {
    let config = clerk_core::ClerkConfig::from_env().expect("CLERK_* settings");
    let mut builder = clerk_core::Authenticator::builder(config);
    if !cache {
        builder = builder.token_cache_capacity(0);
    }
    clerk_axum::ClerkLayer::new(builder.build().expect("authenticator"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().expect("usage: load-server <variant> <addr>");
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("TOKIO_WORKER_THREADS").ok().and_then(|n| n.parse().ok()) {
        runtime.worker_threads(n);
    }
    let runtime = runtime.enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let app = match variant.as_str() {
            "none" => Router::new().route("/api/hello", get(anonymous)),
            "clerk-axum" => Router::new().route("/api/hello", get(ours)).layer(clerk_axum_layer(true)),
            "floor" => Router::new()
                .route("/api/hello", get(floor))
                .layer(Extension(std::sync::Arc::<str>::from("user_load_0"))),
            "clerk-axum-app" => {
                let config = clerk_core::ClerkConfig::from_env().expect("CLERK_* settings");
                let store: std::sync::Arc<dyn clerk_core::store::Store> =
                    std::sync::Arc::new(clerk_store::MemoryStore::new());
                let clerk = clerk_axum::Clerk::builder(config, store).build().expect("clerk");
                clerk.install(Router::new().route("/api/hello", get(ours)))
            }
            "clerk-axum-outer" => Router::new().route("/api/hello", get(ours)),
            "clerk-axum-nocache" => Router::new().route("/api/hello", get(ours)).layer(clerk_axum_layer(false)),
            "clerk-rs" => {
                let api_url = std::env::var("CLERK_API_URL").expect("CLERK_API_URL");
                let secret = std::env::var("CLERK_SECRET_KEY").expect("CLERK_SECRET_KEY");
                let config = clerk_rs::ClerkConfiguration::new(secret).with_base_path(format!("{api_url}/v1"));
                let provider = clerk_rs::validators::jwks::MemoryCacheJwksProvider::new(clerk_rs::clerk::Clerk::new(config));
                Router::new()
                    .route("/api/hello", get(theirs))
                    .layer(clerk_rs::validators::axum::ClerkLayer::new(provider, None, false))
            }
            other => panic!("unknown variant {other}: none | floor | clerk-axum | clerk-axum-app | clerk-axum-outer | clerk-axum-nocache | clerk-rs"),
        };
        let app = app.route("/healthz", get(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
        eprintln!("load-server {variant} on {addr}");
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        if variant == "clerk-axum-outer" {
            let service = tower_layer::Layer::layer(&clerk_axum_layer(true), app);
            axum::serve(listener, axum::ServiceExt::<axum::extract::Request>::into_make_service(service))
                .with_graceful_shutdown(stop)
                .await
                .expect("serve");
        } else {
            axum::serve(listener, app).with_graceful_shutdown(stop).await.expect("serve");
        }
    });
}

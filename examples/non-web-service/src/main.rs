//! `non-web-service`: the WebSocket server of this crate as a binary.
//!
//! Configuration comes from the environment: the `CLERK_*` settings (`CLERK_SECRET_KEY`,
//! `CLERK_PUBLISHABLE_KEY`, `CLERK_FRONTEND_HOSTS`, …, see `ClerkConfig::from_env`) and `BIND`
//! (default `127.0.0.1:3001`). Users connect with their Clerk session; other services with a
//! Clerk M2M token (`non_web_service::serve_with_machines`). Logs go to stderr, filtered by `RUST_LOG` (default `info`).
#![forbid(unsafe_code)]

use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;

use clerk_core::machine::MachineVerifier;
use clerk_core::reqwest_client::ReqwestClient;
use clerk_core::{Authenticator, ClerkConfig, HttpClient};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Where the server listens unless `BIND` says otherwise.
const DEFAULT_BIND: &str = "127.0.0.1:3001";

#[tokio::main]
async fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let config = ClerkConfig::from_env()?;
    // One HTTP client for the JWKS and the M2M verify endpoint.
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestClient::new(config.api_timeout)?);
    let authenticator = Authenticator::builder(config.clone())
        .shared_http_client(Arc::clone(&http))
        .build()?;
    // Other services connect with Clerk M2M tokens (opaque ones need CLERK_SECRET_KEY).
    let machines = MachineVerifier::new(authenticator.clone(), &config, Some(http));
    let bind = match std::env::var("BIND") {
        Ok(bind) => bind,
        Err(std::env::VarError::NotPresent) => DEFAULT_BIND.to_owned(),
        Err(std::env::VarError::NotUnicode(_)) => return Err("BIND: not valid UTF-8".into()),
    };
    let listener = TcpListener::bind(&bind)
        .await
        .map_err(|e| format!("BIND: cannot listen on {bind}: {e}"))?;
    tokio::select! {
        served = non_web_service::serve_with_machines(listener, authenticator, machines) => served?,
        signal = tokio::signal::ctrl_c() => {
            signal?;
            tracing::info!("interrupted: shutting down");
        }
    }
    Ok(())
}

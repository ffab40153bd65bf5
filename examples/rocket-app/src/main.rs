//! `rocket-app`: the [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications) example server on Rocket. Configuration from the environment
//! (see the library docs); logs with `RUST_LOG` (default `info`).

use std::process::ExitCode;

// tokio's `block_on`, not `#[rocket::main]`: the latter needs a `Send` future, and rustc
// cannot prove that for sqlx's migration future behind `clerk_store::open_database_url`.
#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match rocket_app::AppConfig::from_env() {
        Ok(config) => rocket_app::run(config).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rocket-app: {error}");
            ExitCode::FAILURE
        }
    }
}

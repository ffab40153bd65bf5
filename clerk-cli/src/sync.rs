//! `clerk sync users` / `clerk sync organizations [--memberships]`: the library sync of
//! [`clerk_store::sync`] with a progress bar (terminal) or log lines (otherwise).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Instant;

use clerk_core::backend_api::{BackendApi, TokioSleeper};
use clerk_core::config::ClerkConfigBuilder;
use clerk_core::reqwest_client::ReqwestClient;
use clerk_core::time::{Clock, SystemClock};
use clerk_core::{ClerkConfig, ConfigError};
use clerk_store::sync::{sync_organizations, sync_users, ObjectKind, Phase, Progress, SyncOptions};
use clerk_store::AnyStore;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{SyncArgs, SyncTarget};
use crate::error::CliError;

/// Log lines (no terminal): one every this many pages, plus phase changes.
const LOG_EVERY_PAGES: u64 = 20;

/// The Clerk settings the sync needs, read through `lookup` (the environment in `main`): only
/// `CLERK_SECRET_KEY`, `CLERK_API_URL` and `CLERK_API_TIMEOUT_MS` matter; token-verification
/// settings (`CLERK_FRONTEND_HOSTS`, `CLERK_PUBLISHABLE_KEY`) are not required, since the
/// command verifies no tokens.
///
/// # Errors
/// [`ConfigError`] naming the missing or invalid setting.
pub fn clerk_config(lookup: impl Fn(&str) -> Option<String>) -> Result<ClerkConfig, ConfigError> {
    let config = ClerkConfigBuilder::from_lookup(lookup)?
        .insecure_allow_any_authorized_party()
        .insecure_skip_issuer_check()
        .build()?;
    if config.secret_key().is_none() {
        // CLERK_JWT_KEY alone satisfies token verification, not the Backend API.
        return Err(ConfigError::Missing {
            setting: "CLERK_SECRET_KEY",
            hint:
                "set it to the secret key from the Clerk dashboard (the sync calls the Backend API)",
        });
    }
    Ok(config)
}

/// Runs `clerk sync <target>` with settings from `lookup`; prints the summary on stdout.
///
/// # Errors
/// [`CliError`] naming the setting, the request or the batch that failed.
pub async fn run(
    target: SyncTarget,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), CliError> {
    let (args, memberships) = match target {
        SyncTarget::Users(args) => (args, None),
        SyncTarget::Organizations {
            common,
            memberships,
        } => (common, Some(memberships)),
    };
    let config = clerk_config(lookup)?;
    let http = ReqwestClient::new(config.api_timeout)?;
    let api = BackendApi::from_config(&config, Arc::new(http), Arc::new(TokioSleeper))?;
    let store = AnyStore::connect(&args.database.database_url)
        .await
        .map_err(|e| CliError::store("DATABASE_URL", e))?;
    let backend = store.backend_name();
    let options = options(&args);
    let started = Instant::now();
    let mut reporter = Reporter::new(args.dry_run);
    let dyn_store = store.clone().into_dyn();
    let (summary, changed) = match memberships {
        None => {
            // Users have no total in their listing: one count request sizes the bar.
            if reporter.bar.is_some() {
                let total = api.count_users().await?;
                reporter.set_length(total);
            }
            let report = sync_users(&api, &dyn_store, options, |p| reporter.update(&p)).await;
            reporter.finish();
            let report = report?;
            (format!("users: {report}"), report.changed())
        }
        Some(with_memberships) => {
            let report = sync_organizations(&api, &dyn_store, options, with_memberships, |p| {
                reporter.update(&p)
            })
            .await;
            reporter.finish();
            let report = report?;
            let changed = report.organizations.changed() || report.memberships.changed();
            (report.to_string(), changed)
        }
    };
    store.close().await;
    let secs = started.elapsed().as_secs_f64();
    let outcome = match (args.dry_run, changed) {
        (false, false) => "nothing changed",
        (false, true) => "changes written",
        (true, false) => "dry run: nothing would change",
        (true, true) => "dry run: nothing written",
    };
    println!("{summary} ({outcome})");
    eprintln!("done in {secs:.1} s ({backend})");
    Ok(())
}

fn options(args: &SyncArgs) -> SyncOptions {
    // The command is the driver: it holds the clock the sync takes as an argument.
    SyncOptions::new(SystemClock.now())
        .dry_run(args.dry_run)
        .deactivate_missing(args.deactivate_missing)
        .page_size(args.page_size)
}

fn kind_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Users => "users",
        ObjectKind::Organizations => "organizations",
        ObjectKind::Memberships => "memberships",
        _ => "objects",
    }
}

/// A progress bar on a terminal (stderr), log lines on stderr otherwise.
struct Reporter {
    bar: Option<ProgressBar>,
    dry_run: bool,
    last_kind: Option<(ObjectKind, Phase)>,
}

impl Reporter {
    fn new(dry_run: bool) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:>14} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Reporter {
            bar,
            dry_run,
            last_kind: None,
        }
    }

    fn set_length(&self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    fn update(&mut self, progress: &Progress) {
        let changed = self.last_kind != Some((progress.kind, progress.phase));
        self.last_kind = Some((progress.kind, progress.phase));
        let name = kind_name(progress.kind);
        match &self.bar {
            Some(bar) => {
                if changed {
                    bar.set_message(name);
                    if let Some(total) = progress.total {
                        bar.set_length(total);
                    }
                    if progress.phase == Phase::Deactivating {
                        bar.set_message(format!("{name}: deactivating"));
                    }
                }
                bar.set_position(progress.fetched);
            }
            None => {
                let page_due = progress.report.pages % LOG_EVERY_PAGES == 0;
                if changed || page_due {
                    let phase = match progress.phase {
                        Phase::Listing => "listing",
                        Phase::Deactivating => "deactivating missing",
                        Phase::Finished => "finished",
                        _ => "working",
                    };
                    let total = progress
                        .total
                        .map(|t| format!(" of {t}"))
                        .unwrap_or_default();
                    let would = if self.dry_run { " (dry run)" } else { "" };
                    let mut err = std::io::stderr().lock();
                    // A closed stderr must not stop the sync.
                    let _ = writeln!(
                        err,
                        "{name}: {phase}: {}{total} fetched; {}{would}",
                        progress.fetched, progress.report
                    );
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

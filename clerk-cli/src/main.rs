//! The `clerk` binary: parses the command line and runs [`clerk_cli::run`].

use std::process::ExitCode;

use clap::Parser;
use clerk_cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse(); // exits with 2 on usage errors, 0 for --help / --version
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(clerk_cli::EXIT_FAILURE);
        }
    };
    match runtime.block_on(clerk_cli::run(cli, |name| std::env::var(name).ok())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

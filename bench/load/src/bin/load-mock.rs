//! The mock Clerk for the load run: serves the JWKS (and Backend API) of the test kit on
//! `127.0.0.1:<port>`, writes the settings the servers need to `<dir>/env` and `<count>`
//! distinct session tokens (one per line, valid for two hours) to `<dir>/tokens.txt`, then
//! runs until killed.
//!
//! usage: load-mock <port> <dir> [count]

use std::io::Write;
use std::time::Duration;

use clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY;
use clerk_testkit::{MockClerk, TestKeyPair};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).expect("usage: load-mock <port> <dir> [count]");
    let dir = std::path::PathBuf::from(args.next().expect("usage: load-mock <port> <dir> [count]"));
    let count: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(10_000);
    let clerk = MockClerk::builder()
        .keys(vec![TestKeyPair::fixed(0)])
        .bind(([127, 0, 0, 1], port).into())
        .start()
        .await;

    let mut env = std::fs::File::create(dir.join("env")).expect("env file");
    writeln!(env, "CLERK_API_URL={}", clerk.url()).unwrap();
    writeln!(env, "CLERK_SECRET_KEY={}", clerk.secret_key()).unwrap();
    writeln!(env, "CLERK_PUBLISHABLE_KEY={}", clerk.publishable_key()).unwrap();
    writeln!(env, "CLERK_FRONTEND_HOSTS={DEFAULT_AUTHORIZED_PARTY}").unwrap();

    let mut tokens = std::io::BufWriter::new(std::fs::File::create(dir.join("tokens.txt")).expect("tokens file"));
    for n in 0..count {
        let token = clerk
            .token_v2()
            .subject(&format!("user_load_{n}"))
            .session_id(&format!("sess_load_{n}"))
            .authorized_party(DEFAULT_AUTHORIZED_PARTY)
            .expires_in(Duration::from_secs(2 * 3600))
            .sign();
        writeln!(tokens, "{token}").unwrap();
    }
    tokens.flush().unwrap();
    drop(tokens);
    // run.sh waits for this file: everything above is in place.
    std::fs::write(dir.join("ready"), b"ok").unwrap();
    let _ = tokio::signal::ctrl_c().await;
    clerk.shutdown().await;
}

//! The one-minute demo: no Clerk account, no network.
//!
//! Starts the test kit's mock Clerk on loopback, starts the WebSocket service with an
//! `Authenticator` pointed at it, then plays a client: a bad token is refused at the
//! handshake, a freshly minted session token is welcomed and echoed.
//!
//! ```sh
//! cargo run -p non-web-service --example ws_demo
//! ```
#![allow(clippy::unwrap_used, missing_docs)]

use clerk_core::{Authenticator, ClerkConfig};
use clerk_testkit::{MockClerk, TestKeyPair};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const FRONT_END: &str = "http://localhost:3000";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clerk = MockClerk::builder().start().await;
    println!(
        "1. mock Clerk listening at {} (serves GET /v1/jwks)",
        clerk.url()
    );

    let config = ClerkConfig::builder()
        .secret_key(clerk.secret_key())
        .publishable_key(clerk.publishable_key())
        .api_url(clerk.url())
        .frontend_host(FRONT_END)
        .build()?;
    let authenticator = Authenticator::builder(config).build()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(non_web_service::serve(listener, authenticator));
    println!("2. WebSocket service listening at ws://{addr}/");

    let connect = |token: String| async move {
        let mut request = format!("ws://{addr}/").into_client_request()?;
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        let stream = TcpStream::connect(addr).await?;
        let result = tokio_tungstenite::client_async(request, stream).await;
        Ok::<_, Box<dyn std::error::Error>>(result)
    };

    let forged = clerk
        .token_v2()
        .subject("user_mallory")
        .authorized_party(FRONT_END)
        .sign_with(&TestKeyPair::generate());
    match connect(forged).await? {
        Err(WsError::Http(response)) => {
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            println!(
                "3. a token signed by the wrong key is refused: HTTP {} {body}",
                response.status()
            );
        }
        other => println!("3. unexpected: {:?}", other.map(|_| "connected")),
    }

    let token = clerk
        .token_v2()
        .subject("user_alice")
        .session_id("sess_demo")
        .authorized_party(FRONT_END)
        .sign();
    let (mut ws, _) = connect(token).await??;
    if let Some(Ok(Message::Text(welcome))) = ws.next().await {
        println!("4. a valid session token is welcomed: {welcome}");
    }
    ws.send(Message::text("hello from the demo")).await?;
    if let Some(Ok(Message::Text(echo))) = ws.next().await {
        println!("5. and messages carry the verified identity: {echo}");
    }
    ws.close(None).await?;
    println!(
        "6. the mock served the JWKS {} time(s): keys are cached",
        clerk.jwks_requests()
    );
    Ok(())
}

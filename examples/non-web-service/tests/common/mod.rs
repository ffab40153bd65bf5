//! What both end-to-end suites do as a client: open a WebSocket with given headers, and read
//! a refused handshake.

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::{client_async, WebSocketStream};

/// How long any one step may take.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A client connection.
pub(crate) type Ws = WebSocketStream<TcpStream>;

/// Opens a WebSocket to `addr` with `headers` on the upgrade request.
pub(crate) async fn connect(
    addr: SocketAddr,
    headers: &[(&'static str, String)],
) -> Result<Ws, WsError> {
    let mut request = format!("ws://{addr}/").into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    let stream = TcpStream::connect(addr).await.unwrap();
    let (ws, _response) = tokio::time::timeout(WAIT, client_async(request, stream))
        .await
        .expect("the handshake finished in time")?;
    Ok(ws)
}

/// The status and JSON body of a refused handshake.
pub(crate) fn refused(result: Result<Ws, WsError>) -> (StatusCode, Value) {
    match result {
        Err(WsError::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            let body = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("JSON body ({e}): {}", String::from_utf8_lossy(&body)));
            (response.status(), body)
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected an HTTP refusal, the connection was accepted"),
    }
}

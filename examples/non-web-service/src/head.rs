//! Raw HTTP/1.1 on the socket, just enough for the upgrade: reading the request head and
//! writing a response head (with an optional small body).

use std::io;

use http::{HeaderMap, Request, Response, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest request head accepted. A session token may be up to 16 KiB (clerk-core rejects
/// larger ones), in the `Authorization` header or a cookie, plus the rest of a browser's head.
pub(crate) const MAX_HEAD_BYTES: usize = 32 * 1024;

/// The most header lines accepted.
const MAX_HEADERS: usize = 64;

/// A parsed request head and the bytes read after it (a client should send none before the
/// `101`, but any that came are kept for the WebSocket).
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) request: Request<()>,
    pub(crate) rest: Vec<u8>,
}

/// Why no request head could be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The socket failed.
    Io(io::Error),
    /// The peer closed before a complete head.
    Closed,
    /// Over [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`].
    TooLarge,
    /// Not an HTTP/1.x request head.
    Malformed,
}

impl From<io::Error> for HeadError {
    fn from(error: io::Error) -> Self {
        HeadError::Io(error)
    }
}

/// Reads from `stream` until a complete request head has arrived.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Head, HeadError> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some((request, len)) = parse(&buf)? {
            let rest = buf.split_off(len);
            return Ok(Head { request, rest });
        }
        if buf.len() >= MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
    }
}

/// `Ok(None)` while the head is incomplete; otherwise the request and the head's length.
fn parse(buf: &[u8]) -> Result<Option<(Request<()>, usize)>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD_BYTES => len,
        Ok(httparse::Status::Complete(_)) | Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::TooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HeadError::Malformed),
    };
    let version = match parsed.version {
        Some(1) => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    let mut builder = Request::builder()
        .method(parsed.method.unwrap_or_default())
        .uri(parsed.path.unwrap_or_default())
        .version(version);
    for header in parsed.headers.iter() {
        builder = builder.header(header.name, header.value);
    }
    let request = builder.body(()).map_err(|_| HeadError::Malformed)?;
    Ok(Some((request, len)))
}

/// Writes `response` as an HTTP/1.1 response head followed by its body, in one write. A
/// non-empty body gets its `Content-Length`.
pub(crate) async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    response: &Response<String>,
) -> io::Result<()> {
    let status = response.status();
    let mut out = Vec::with_capacity(256 + response.body().len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    write_headers(&mut out, response.headers());
    if !response.body().is_empty() {
        out.extend_from_slice(format!("content-length: {}\r\n", response.body().len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(response.body().as_bytes());
    stream.write_all(&out).await?;
    stream.flush().await
}

fn write_headers(out: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// An error response with a JSON body `{"error": error, "reason": reason}` that closes the
/// connection.
pub(crate) fn error_response(status: StatusCode, error: &str, reason: &str) -> Response<String> {
    let body = serde_json::json!({ "error": error, "reason": reason }).to_string();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn reads_a_head_across_reads_and_keeps_what_follows() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            client
                .write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nCookie: __session=a.b.c\r\n")
                .await
                .unwrap();
            client.write_all(b"\r\nEXTRA").await.unwrap();
            client
        });
        let head = read_head(&mut server).await.unwrap();
        assert_eq!(head.request.uri(), "/ws");
        assert_eq!(head.request.version(), Version::HTTP_11);
        assert_eq!(head.request.headers()["cookie"], "__session=a.b.c");
        assert_eq!(head.rest, b"EXTRA");
        drop(writer.await.unwrap());
    }

    #[tokio::test]
    async fn refuses_oversized_and_malformed_heads() {
        let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
        huge.resize(MAX_HEAD_BYTES + 10, b'a');
        assert!(matches!(
            read_head(&mut &huge[..]).await,
            Err(HeadError::TooLarge)
        ));
        assert!(matches!(
            read_head(&mut &b"\x00\x01 nonsense\r\n\r\n"[..]).await,
            Err(HeadError::Malformed)
        ));
        assert!(matches!(
            read_head(&mut &b"GET / HTTP/1.1\r\n"[..]).await,
            Err(HeadError::Closed)
        ));
    }

    #[tokio::test]
    async fn writes_status_headers_and_body() {
        let response = error_response(StatusCode::UNAUTHORIZED, "unauthenticated", "token-expired");
        let mut out = Vec::new();
        write_response(&mut out, &response).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{text}");
        assert!(text.contains("content-type: application/json\r\n"));
        assert!(
            text.ends_with("\r\n\r\n{\"error\":\"unauthenticated\",\"reason\":\"token-expired\"}")
        );
    }
}

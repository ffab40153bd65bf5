//! [`RedisLink`]: the one connection layer of everything clerk-store keeps in Redis (the
//! cache, the session store): a multiplexed connection opened on first use and shared by
//! clones, connecting and every command bounded by a timeout, and a back-off after a failure
//! so that a dead or unreachable server costs at most one timeout per back-off period instead
//! of one per call.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, FromRedisValue, RedisError};
use tokio::time::Instant;

/// Why a Redis call failed.
#[derive(Debug)]
pub(crate) enum LinkError {
    /// Connecting or the command took longer than the timeout.
    Timeout(Duration),
    /// The server is unreachable, the connection broke, or the link is backing off after
    /// such a failure.
    Unavailable(String),
    /// The server answered with an error (a script error, a wrong type).
    Backend(RedisError),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Timeout(timeout) => write!(f, "timed out after {timeout:?}"),
            LinkError::Unavailable(why) => write!(f, "unavailable: {why}"),
            LinkError::Backend(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Default)]
struct ConnectionState {
    connection: Option<MultiplexedConnection>,
    retry_at: Option<Instant>,
}

/// A client, its shared connection and the back-off state.
pub(crate) struct RedisLink {
    client: redis::Client,
    timeout: Duration,
    reconnect_backoff: Duration,
    state: Mutex<ConnectionState>,
}

impl RedisLink {
    /// Parses `url` (`redis://[user:password@]host[:port][/db]`); connects on first use.
    pub(crate) fn open(
        url: &str,
        timeout: Duration,
        reconnect_backoff: Duration,
    ) -> Result<RedisLink, RedisError> {
        Ok(RedisLink {
            client: redis::Client::open(url)?,
            timeout,
            reconnect_backoff,
            state: Mutex::new(ConnectionState::default()),
        })
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn reconnect_backoff(&self) -> Duration {
        self.reconnect_backoff
    }

    fn state(&self) -> MutexGuard<'_, ConnectionState> {
        // The state is two plain fields, consistent after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn connection(&self) -> Result<MultiplexedConnection, LinkError> {
        {
            let state = self.state();
            if let Some(connection) = &state.connection {
                return Ok(connection.clone());
            }
            if state.retry_at.is_some_and(|at| Instant::now() < at) {
                return Err(LinkError::Unavailable(
                    "not reconnecting to Redis yet: the last attempt failed".to_owned(),
                ));
            }
        }
        let timeout = self.timeout;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let attempt = tokio::time::timeout(
            timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        let mut state = self.state();
        match attempt {
            Ok(Ok(connection)) => {
                state.connection = Some(connection.clone());
                state.retry_at = None;
                Ok(connection)
            }
            Ok(Err(e)) => {
                state.retry_at = Some(Instant::now() + self.reconnect_backoff);
                Err(classify(e, timeout))
            }
            Err(_) => {
                state.retry_at = Some(Instant::now() + self.reconnect_backoff);
                Err(LinkError::Timeout(timeout))
            }
        }
    }

    /// Drops the shared connection and backs off: calls fail at once until the back-off
    /// period is over, then the next one reconnects. (A server that accepts connections but
    /// never answers would otherwise cost a timeout on every call.)
    fn forget_connection(&self) {
        let mut state = self.state();
        state.connection = None;
        state.retry_at = Some(Instant::now() + self.reconnect_backoff);
    }

    /// Runs `command` on the shared connection.
    pub(crate) async fn run<T: FromRedisValue>(&self, command: redis::Cmd) -> Result<T, LinkError> {
        let mut connection = self.connection().await?;
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, command.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if is_connection_error(&e) {
                    self.forget_connection();
                }
                Err(classify(e, timeout))
            }
            Err(_) => {
                self.forget_connection();
                Err(LinkError::Timeout(timeout))
            }
        }
    }
}

fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

fn classify(e: RedisError, timeout: Duration) -> LinkError {
    if e.is_timeout() {
        LinkError::Timeout(timeout)
    } else if is_connection_error(&e) {
        LinkError::Unavailable(e.to_string())
    } else {
        LinkError::Backend(e)
    }
}

//! [`AppProcess`]: an example application's binary run as a child process on a free loopback
//! port, waited for until `GET /healthz` answers, killed on drop, its stderr kept for failure
//! messages.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Failure;

/// How long a start may take before it counts as failed (first builds of SQLite/PostgreSQL
/// schemas included); a deadline for a hang, not a speed assertion.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Starts are retried this often when the process exits before it is healthy, because the free
/// port picked for `BIND` can be taken by someone else between picking and binding.
const START_ATTEMPTS: usize = 3;

/// Environment variables passed through from the test's own environment (everything else is
/// cleared, so a developer's `CLERK_*` or `DATABASE_URL` never leaks into the app under test).
const PASSED_THROUGH: &[&str] = &["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"];

/// A running example-app process. Dropping it kills the process.
#[derive(Debug)]
pub struct AppProcess {
    child: Child,
    addr: SocketAddr,
    binary: PathBuf,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl AppProcess {
    /// Spawns `binary` with a cleared environment plus `env` and `BIND=127.0.0.1:<free port>`,
    /// and waits until `GET /healthz` answers 200.
    ///
    /// # Errors
    /// The process could not be spawned, exited, or did not become healthy within a minute; the
    /// message carries its stderr.
    pub async fn spawn(binary: &Path, env: &[(String, String)]) -> Result<AppProcess, Failure> {
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match Self::spawn_once(binary, env).await {
                Ok(process) => return Ok(process),
                Err(StartError::Exited(failure)) => last = Some(failure),
                Err(StartError::Fatal(failure)) => return Err(failure),
            }
        }
        Err(last.unwrap_or_else(|| Failure::new("the app never started")))
    }

    async fn spawn_once(binary: &Path, env: &[(String, String)]) -> Result<AppProcess, StartError> {
        let addr = free_port()
            .map_err(|e| StartError::Fatal(Failure::new(format!("no free loopback port: {e}"))))?;
        let mut command = Command::new(binary);
        command.env_clear();
        for name in PASSED_THROUGH {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("BIND", addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            StartError::Fatal(Failure::new(format!(
                "cannot spawn {}: {e}",
                binary.display()
            )))
        })?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            // A plain thread: the pipe is blocking, and it ends when the process does.
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .extend_from_slice(&buf[..n]);
                }
            });
        }
        let mut process = AppProcess {
            child,
            addr,
            binary: binary.to_owned(),
            stderr,
        };
        process.wait_healthy().await?;
        Ok(process)
    }

    async fn wait_healthy(&mut self) -> Result<(), StartError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StartError::Fatal(Failure::new(format!("HTTP client: {e}"))))?;
        let url = self.url("/healthz");
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader thread drain the pipe before quoting it.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(StartError::Exited(
                    Failure::new(format!(
                        "{} exited with {status} before answering GET /healthz",
                        self.binary.display()
                    ))
                    .with_stderr(self.stderr()),
                ));
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status() == 200 {
                    return Ok(());
                }
            }
            if started.elapsed() > START_DEADLINE {
                return Err(StartError::Fatal(
                    Failure::new(format!(
                        "{} did not answer GET /healthz with 200 within {START_DEADLINE:?}",
                        self.binary.display()
                    ))
                    .with_stderr(self.stderr()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The address the app listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr><path>`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The operating-system process id (for `/proc/<pid>/status`).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's peak resident memory in KiB (`VmHWM` of `/proc/<pid>/status`); `None`
    /// where there is no `/proc` (not Linux).
    #[must_use]
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// The process's resident memory now in KiB (`VmRSS` of `/proc/<pid>/status`); `None`
    /// where there is no `/proc` (not Linux).
    #[must_use]
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// What the process wrote to stderr so far (lossy UTF-8).
    #[must_use]
    pub fn stderr(&self) -> String {
        let bytes = self
            .stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Sends SIGTERM (what an orchestrator sends at a deploy) and waits up to `within` for the
    /// process to exit.
    ///
    /// # Errors
    /// The signal could not be sent, or the process was still running after `within`.
    pub async fn terminate(
        &mut self,
        within: Duration,
    ) -> Result<std::process::ExitStatus, Failure> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|e| Failure::new(format!("kill -TERM: {e}")))?;
        if !sent.success() {
            return Err(Failure::new(format!("kill -TERM failed: {sent}")));
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Ok(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Failure::new(format!(
                    "still running {within:?} after SIGTERM\n  stderr: {}",
                    self.stderr()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

enum StartError {
    /// The process exited before it was healthy: worth another port.
    Exited(Failure),
    /// Anything else: give up.
    Fatal(Failure),
}

/// A loopback port nothing listens on right now.
fn free_port() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.local_addr()
}

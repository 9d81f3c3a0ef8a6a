//! Test support (feature `testing`): a `moto_server` on 127.0.0.1 that
//! plays DynamoDB for the adapter and gateway tests.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};

/// A `moto_server` child process on a free loopback port; killed on drop.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    addr: SocketAddr,
}

impl MotoServer {
    /// Where `moto_server` is: `$MOTO_SERVER`, else the project's
    /// `.venv/bin/moto_server` (what `make setup` installs), else `PATH`.
    pub fn program() -> PathBuf {
        if let Some(path) = std::env::var_os("MOTO_SERVER").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
        if venv.exists() {
            return venv;
        }
        PathBuf::from("moto_server")
    }

    /// Starts the server and waits (at most 30 s) until it says it listens.
    pub fn start() -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let program = Self::program();
        let mut child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e} (run `make setup`, or set MOTO_SERVER)",
                    program.display()
                )
            })?;
        // Werkzeug says "Running on http://..." once it listens; the rest of
        // its output (a line per request) is drained so that it never blocks.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        if let Some(stderr) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if line.contains("Running on") {
                        let _ = ready_tx.send(());
                    }
                }
            });
        }
        let server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(()) => Ok(server),
            Err(_) => Err(format!(
                "{} did not start listening on {} within 30 s",
                program.display(),
                server.addr
            )),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A DynamoDB client for this server, with dummy credentials.
    pub fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        dynamodb_client(&self.endpoint())
    }
}

/// SDK configuration for servers on 127.0.0.1: region us-east-1 and dummy
/// static credentials (requests are signed; nothing checks the signature).
pub fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "testing",
        )))
        .build()
}

/// A DynamoDB client for `endpoint`, configured by [`sdk_config`].
pub fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `program` with exactly `env` (nothing inherited) and returns whether
/// it succeeded and what it printed, stdout then stderr.
pub fn run_with_env(program: &str, env: &[(&str, &str)]) -> (bool, String) {
    match Command::new(program)
        .env_clear()
        .envs(env.iter().copied())
        .output()
    {
        Ok(output) => (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        ),
        Err(err) => (false, format!("cannot run {program}: {err}")),
    }
}

/// A store whose every call fails, as when DynamoDB is unreachable.
#[derive(Debug, Default, Clone, Copy)]
pub struct FailingStore;

impl crate::ConnectionStore for FailingStore {
    async fn put(&self, _: &crate::Connection) -> Result<(), crate::StoreError> {
        Err(crate::StoreError::new(
            "PutItem",
            "ResourceNotFoundException: secret table arn:aws:dynamodb:…",
        ))
    }
    async fn remove(&self, _: &str) -> Result<(), crate::StoreError> {
        Err(crate::StoreError::new(
            "DeleteItem",
            "ResourceNotFoundException: secret table arn:aws:dynamodb:…",
        ))
    }
    async fn members(
        &self,
        _: &crate::ChannelName,
        _: Option<String>,
    ) -> Result<crate::Page, crate::StoreError> {
        Err(crate::StoreError::new(
            "Query",
            "ResourceNotFoundException: secret table arn:aws:dynamodb:…",
        ))
    }
    async fn count(&self, _: &crate::ChannelName) -> Result<u64, crate::StoreError> {
        Err(crate::StoreError::new(
            "Query",
            "ResourceNotFoundException: secret table arn:aws:dynamodb:…",
        ))
    }
}

//! Test support (feature `testing`): a `moto_server` on 127.0.0.1 that
//! plays the AWS services for the adapter and gateway tests, and SDK
//! configuration for servers on loopback.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
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
    ///
    /// moto binds port 0 itself and prints the port it got, so no port
    /// number is ever released by one process and taken up by another.
    pub fn start() -> Result<Self, String> {
        let program = Self::program();
        Self::spawn(Command::new(&program), &program)
    }

    /// A server that handles one request at a time. moto_server serves
    /// requests on threads and does not make an item update atomic, which
    /// DynamoDB does: under concurrent `UpdateItem`s on one item, moto can
    /// lose an increment. Served one by one, each request is atomic, as on
    /// DynamoDB, and a test of concurrent clients tests the clients. (No SQS
    /// long polling on this one: a poll would hold up every other request.)
    pub fn start_one_at_a_time() -> Result<Self, String> {
        let program = Self::program();
        let python = program.with_file_name("python");
        let mut command = Command::new(&python);
        command.args([
            "-c",
            "import sys, moto.server as m\n\
             serve = m.run_simple\n\
             m.run_simple = lambda *a, **k: serve(*a, **{**k, 'threaded': False})\n\
             sys.argv = ['moto_server'] + sys.argv[1:]\n\
             m.main()",
        ]);
        Self::spawn(command, &python)
    }

    fn spawn(mut command: Command, program: &std::path::Path) -> Result<Self, String> {
        let mut child = command
            .args(["-H", "127.0.0.1", "-p", "0"])
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
        // Werkzeug says "Running on http://127.0.0.1:PORT" once it listens;
        // the rest of its output (a line per request) is drained so that it
        // never blocks.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        if let Some(stderr) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = listening_on(&line) {
                        let _ = ready_tx.send(addr);
                    }
                }
            });
        }
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => Ok(Self { child, addr }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "{} did not start listening on 127.0.0.1 within 30 s",
                    program.display()
                ))
            }
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

    /// An SQS client for this server, with dummy credentials.
    #[cfg(feature = "sqs")]
    pub fn sqs_client(&self) -> aws_sdk_sqs::Client {
        sqs_client(&self.endpoint())
    }

    /// A KMS client for this server, with dummy credentials.
    #[cfg(feature = "kms")]
    pub fn kms_client(&self) -> aws_sdk_kms::Client {
        kms_client(&self.endpoint())
    }
}

/// A KMS client for `endpoint`, configured by [`sdk_config`].
#[cfg(feature = "kms")]
pub fn kms_client(endpoint: &str) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::config::Builder::from(&sdk_config())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

/// An SQS client for `endpoint`, configured by [`sdk_config`].
#[cfg(feature = "sqs")]
pub fn sqs_client(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(&sdk_config())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// SDK configuration for servers on 127.0.0.1: region us-east-1 and dummy
/// static credentials (requests are signed; nothing checks the signature).
pub fn sdk_config() -> aws_types::SdkConfig {
    aws_types::SdkConfig::builder()
        .http_client(crate::sdk::https_client())
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

/// The address in werkzeug's " * Running on http://127.0.0.1:PORT" line.
fn listening_on(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("Running on http://")? + "Running on http://".len()..];
    rest.split_whitespace()
        .next()?
        .trim_end_matches('/')
        .parse()
        .ok()
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::listening_on;

    #[test]
    fn reads_the_port_werkzeug_got() {
        assert_eq!(
            listening_on(" * Running on http://127.0.0.1:39669"),
            Some("127.0.0.1:39669".parse().unwrap())
        );
        assert_eq!(listening_on("Press CTRL+C to quit"), None);
        assert_eq!(listening_on(" * Running on http://127.0.0.1:x"), None);
    }
}

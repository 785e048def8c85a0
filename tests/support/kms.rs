//! KMS emulator harness: runs `tests/support/kms_emulator.py` (moto's KMS,
//! patched for DIGEST signing, key seeding and key state; see that file) on
//! 127.0.0.1 with an ephemeral port, and kills it by its own PID on drop.
//!
//! AWS SDK hygiene: nothing here uses the default credential or region
//! chain. Clients get an explicit region, static dummy credentials and an
//! explicit `http://127.0.0.1:PORT` endpoint; child processes get the same
//! through the environment (the chain's first provider), with
//! `AWS_EC2_METADATA_DISABLED=true` and the shared config files pointed at
//! paths that do not exist.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_kms::config::{BehaviorVersion, Region};
use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
use k256::ecdsa::SigningKey;
use livepeer_signer::config::AwsKmsConfig;
use livepeer_signer::keys::aws_kms::{http_client, AwsKmsBackend, AwsKmsError};

/// The region every test uses.
pub const REGION: &str = "us-east-1";
/// Dummy static credentials (moto accepts anything; they are not secrets).
pub const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// See [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// The emulator's CreateKey tag that seeds a secp256k1 private key.
pub const SEED_TAG: &str = "livepeer-signer-test:private-key-hex";
/// The emulator's CreateKey tag that throttles the next n Sign calls.
pub const THROTTLE_TAG: &str = "livepeer-signer-test:throttle-sign";

const INSTALL_HINT: &str = "the aws-kms tests need a Python with the exact moto of \
    tests/requirements.txt: run scripts/test.sh once (it builds the virtual environment \
    .tools/venv and sets TEST_PYTHON), or point TEST_PYTHON at a Python that has it";

/// The Python that runs the emulator: `$TEST_PYTHON` (scripts/test.sh sets
/// it to `.tools/venv/bin/python`), else that virtual environment when it
/// exists (a plain `cargo test` after one scripts/test.sh run), else
/// `python3`. The emulator itself refuses a moto other than the pinned one.
pub fn test_python() -> PathBuf {
    if let Some(p) = std::env::var_os("TEST_PYTHON").filter(|p| !p.is_empty()) {
        return p.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/python");
    if venv.is_file() {
        return venv;
    }
    "python3".into()
}

/// The static dummy credentials.
pub fn credentials() -> Credentials {
    Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        None,
        None,
        "livepeer-signer-tests",
    )
}

/// A running emulator; killed by its PID on drop.
pub struct KmsEmulator {
    child: Child,
    /// The bound port on 127.0.0.1.
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    stderr: Arc<Mutex<String>>,
}

impl KmsEmulator {
    /// The patched emulator: DIGEST signs the digest as is, like KMS.
    pub fn start() -> KmsEmulator {
        Self::spawn(false)
    }

    /// Stock moto DIGEST handling (it hashes the digest again): signatures
    /// that do not recover to the key, for the fail-closed tests.
    pub fn start_unpatched_digest() -> KmsEmulator {
        Self::spawn(true)
    }

    fn spawn(unpatched_digest: bool) -> KmsEmulator {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/kms_emulator.py");
        let python = test_python();
        let mut cmd = Command::new(&python);
        cmd.arg(&script);
        if unpatched_digest {
            cmd.arg("--unpatched-digest");
        }
        cmd.env("AWS_EC2_METADATA_DISABLED", "true")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run {} {}: {e}; {INSTALL_HINT}",
                python.display(),
                script.display()
            )
        });

        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err_pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok);
            let _ = tx.send(first);
            for _ in lines {} // keep draining
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(line)) => line
                .strip_prefix("PORT ")
                .and_then(|p| p.trim().parse::<u16>().ok()),
            _ => None,
        };
        match port {
            Some(port) => KmsEmulator {
                child,
                port,
                endpoint: format!("http://127.0.0.1:{port}"),
                stderr,
            },
            None => {
                let _ = child.kill();
                let status = child.wait().ok();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "the KMS emulator ({} {}) did not start (exit status {status:?}); {INSTALL_HINT}\nits stderr:\n{}",
                    python.display(),
                    script.display(),
                    stderr.lock().unwrap()
                );
            }
        }
    }

    /// The emulator's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the emulator printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `[key.aws_kms]` for `key_id` on this emulator: explicit region and
    /// endpoint, 2 attempts.
    pub fn config(&self, key_id: &str) -> AwsKmsConfig {
        config_for(&self.endpoint, key_id)
    }

    /// Opens the backend with the static dummy credentials.
    pub async fn open(&self, key_id: &str) -> Result<AwsKmsBackend, AwsKmsError> {
        AwsKmsBackend::open_with_credentials(&self.config(key_id), credentials()).await
    }

    /// An admin client (CreateKey, DisableKey, …): explicit region,
    /// credentials and endpoint.
    pub fn client(&self) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(credentials())
            .endpoint_url(&self.endpoint)
            .http_client(http_client())
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }

    /// Creates a key; with `seed`, the emulator uses that private key.
    /// Returns the key id.
    pub async fn create_key(&self, spec: KeySpec, usage: KeyUsageType, seed: Option<&SigningKey>) -> String {
        self.create_key_with_policy(spec, usage, seed, None).await
    }

    /// [`KmsEmulator::create_key`] with a key policy.
    pub async fn create_key_with_policy(
        &self,
        spec: KeySpec,
        usage: KeyUsageType,
        seed: Option<&SigningKey>,
        policy: Option<&str>,
    ) -> String {
        let mut req = self.client().create_key().key_spec(spec).key_usage(usage);
        if let Some(k) = seed {
            req = req.tags(
                Tag::builder()
                    .tag_key(SEED_TAG)
                    .tag_value(hex::encode(k.to_bytes()))
                    .build()
                    .unwrap(),
            );
        }
        if let Some(p) = policy {
            req = req.policy(p);
        }
        let out = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateKey: {}", aws_sdk_kms::error::DisplayErrorContext(e)));
        out.key_metadata().unwrap().key_id().to_string()
    }

    /// A seeded secp256k1 SIGN_VERIFY key whose next `n` Sign calls answer
    /// ThrottlingException.
    pub async fn create_throttled_key(&self, key: &SigningKey, n: u32) -> String {
        let out = self
            .client()
            .create_key()
            .key_spec(KeySpec::EccSecgP256K1)
            .key_usage(KeyUsageType::SignVerify)
            .tags(
                Tag::builder()
                    .tag_key(SEED_TAG)
                    .tag_value(hex::encode(key.to_bytes()))
                    .build()
                    .unwrap(),
            )
            .tags(
                Tag::builder()
                    .tag_key(THROTTLE_TAG)
                    .tag_value(n.to_string())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateKey: {}", aws_sdk_kms::error::DisplayErrorContext(e)));
        out.key_metadata().unwrap().key_id().to_string()
    }

    /// A secp256k1 SIGN_VERIFY key with a seeded private key.
    pub async fn create_seeded_key(&self, key: &SigningKey) -> String {
        self.create_key(KeySpec::EccSecgP256K1, KeyUsageType::SignVerify, Some(key))
            .await
    }
}

impl Drop for KmsEmulator {
    fn drop(&mut self) {
        // Child::kill signals this child's own PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `[key.aws_kms]` for `key_id` at `endpoint`.
pub fn config_for(endpoint: &str, key_id: &str) -> AwsKmsConfig {
    AwsKmsConfig {
        key_id: key_id.into(),
        region: Some(REGION.into()),
        endpoint_url: Some(endpoint.into()),
        profile: None,
        connect_timeout_ms: 2000,
        operation_timeout_ms: 10_000,
        max_attempts: 2,
    }
}

/// A config file for `serve` / `check`: backend aws-kms, listening on an
/// ephemeral port.
pub fn write_config(dir: &Path, endpoint: &str, key_id: &str) -> PathBuf {
    let cfg = dir.join("signer.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[key]\nbackend = \"aws-kms\"\n\n[key.aws_kms]\n\
             key_id = {key_id:?}\nregion = {REGION:?}\nendpoint_url = {endpoint:?}\n\
             connect_timeout_ms = 2000\noperation_timeout_ms = 10000\nmax_attempts = 2\n"
        ),
    )
    .unwrap();
    cfg
}

/// Sets the AWS environment of a child process: static dummy credentials
/// (the chain's first provider), no metadata service, no shared config
/// files (`dir` holds no such files), nothing inherited.
pub fn aws_env(cmd: &mut Command, dir: &Path) {
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_KMS",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-such-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-such-aws-credentials"));
}

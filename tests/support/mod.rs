//! Shared test helpers: the vectors.md §C key, the shared test data, and a
//! harness that runs the real `livepeer-signer` binary.
#![allow(dead_code)]

pub mod config_files;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use k256::ecdsa::SigningKey;
use livepeer_signer::eth::hex;

/// vectors.md A10/§C private key (go-livepeer `eth/backend_test.go:55`).
pub const C_KEY: &str = "fad9c8855b740a0b7ed4c221dbad0f33a83a49cad6b3fe8d5817ac83d38b6a19";
/// Its EIP-55 address.
pub const C_ADDRESS: &str = "0x96216849c49358B10257cb55b28eA603c874b05E";
/// vectors.md C1: the exact `/sign-orchestrator-info` body, newline included.
pub const C1_BODY: &str = "{\"address\":\"0x96216849c49358B10257cb55b28eA603c874b05E\",\"signature\":\"0xa224e17c21555def269cf7f7c379a974b62870990c56c1ea81e6aeac3c5758be2a3e1bf6419b39e2d245d7e309d02a492f5b9a5e7b9f8479c71dfbc24af8398d1b\"}\n";
/// vectors.md C7: V3 keystore of the §C key (light scrypt), password `livepeer-test`.
pub const C7_KEYSTORE: &str = r#"{"address": "96216849c49358b10257cb55b28ea603c874b05e", "crypto": {"cipher": "aes-128-ctr", "ciphertext": "d3e83830feccc40dfb645a9dd02f8dbd06d7f5d9d4fd0ee2f4be601f0b5ec626", "cipherparams": {"iv": "000102030405060708090a0b0c0d0e0f"}, "kdf": "scrypt", "kdfparams": {"dklen": 32, "n": 4096, "p": 6, "r": 8, "salt": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}, "mac": "2ccb162d2fb9bd919fc8b6a7023e387aecd977bbffc025b2e0bce6f2f9896950"}, "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6", "version": 3}"#;
/// C7's password.
pub const C7_PASSWORD: &str = "livepeer-test";

/// The §C signing key.
pub fn c_key() -> SigningKey {
    SigningKey::from_slice(&hex::decode(C_KEY).unwrap()).unwrap()
}

/// `../shared/testdata` (the project's sibling `shared/` directory).
pub fn shared_testdata() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    assert!(
        p.is_dir(),
        "shared test data missing at {}: the repo must sit next to shared/",
        p.display()
    );
    p
}

/// Writes the C7 keystore and its password into `dir`; returns (key file, password file).
pub fn write_c7(dir: &Path) -> (PathBuf, PathBuf) {
    let ks = dir.join("keystore");
    std::fs::create_dir_all(&ks).unwrap();
    let key = ks.join("UTC--2026-01-01T00-00-00.000000000Z--96216849c49358b10257cb55b28ea603c874b05e");
    std::fs::write(&key, C7_KEYSTORE).unwrap();
    let pw = dir.join("password");
    std::fs::write(&pw, format!("{C7_PASSWORD}\n")).unwrap();
    (key, pw)
}

/// A keystore config file for `key` / `password`, listening on an ephemeral port.
pub fn write_keystore_config(dir: &Path, key: &Path, password: &Path) -> PathBuf {
    let cfg = dir.join("signer.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[key]\nbackend = \"keystore\"\n\n[key.keystore]\npath = {:?}\npassword_file = {:?}\n",
            key.display().to_string(),
            password.display().to_string()
        ),
    )
    .unwrap();
    cfg
}

/// The compiled binary, as a `Command` that inherits none of the test
/// runner's `LIVEPEER_SIGNER*` variables (`LIVEPEER_SIGNER_CONFIG`,
/// `LIVEPEER_SIGNER__SECTION__KEY` overrides) nor `RUST_LOG`: an override in
/// a developer's shell must not make a test pass or fail. Every test that
/// runs the binary starts from this; a test sets the variables it means.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_livepeer-signer"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LIVEPEER_SIGNER") {
            c.env_remove(k);
        }
    }
    c.env_remove("RUST_LOG");
    c
}

/// Runs a command to completion: (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run command");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `POST {url}/sign-orchestrator-info` as a go-livepeer gateway sends it
/// (no body, `Content-Type: application/json`), from a blocking context:
/// (status, body).
pub fn post_orch_info_blocking(url: &str) -> (u16, String) {
    let url = format!("{url}/sign-orchestrator-info");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let resp = reqwest::Client::new()
                .post(url)
                .header("Content-Type", "application/json")
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        })
    })
    .join()
    .unwrap()
}

/// Extracts the value of `key` from a text (`key=value`) or JSON (`"key":"value"`) log line.
pub fn log_field(line: &str, key: &str) -> Option<String> {
    for pat in [format!(" {key}="), format!("\"{key}\":\"")] {
        if let Some(i) = line.find(&pat) {
            let rest = &line[i + pat.len()..];
            let end = rest
                .find(|c: char| c == '"' || c.is_whitespace())
                .unwrap_or(rest.len());
            return Some(rest[..end].to_string());
        }
    }
    None
}

/// A `livepeer-signer serve` child process; killed (by its own PID) on drop.
pub struct Daemon {
    child: Child,
    /// `http(s)://127.0.0.1:PORT`
    pub url: String,
    /// Everything it logged so far (stderr), filled by a reader thread.
    pub logs: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Starts `cmd` (which must run `serve`, normally on port 0) and waits for
    /// the "listening" log line.
    pub fn start(mut cmd: Command) -> Daemon {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn livepeer-signer");
        let stderr = child.stderr.take().unwrap();
        let logs = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = logs.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                {
                    let mut l = sink.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                if line.contains("livepeer-signer listening") {
                    if let Some(url) = log_field(&line, "url") {
                        let _ = tx.send(url);
                    }
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => Daemon {
                child,
                url,
                logs,
                reader: Some(reader),
            },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                let _ = reader.join();
                panic!(
                    "daemon did not start (status {status:?}); logs:\n{}",
                    logs.lock().unwrap()
                );
            }
        }
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (by name, e.g. "TERM", "HUP") to this child only.
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} {}", self.pid());
    }

    /// The logs so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until the logs contain `needle` (or panics after 30 s).
    pub fn wait_for_log(&self, needle: &str) {
        for _ in 0..300 {
            if self.logs().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("log line {needle:?} never appeared; logs:\n{}", self.logs());
    }

    /// Waits for exit (after a signal sent by the test) and for the log reader.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let status = self.child.wait().unwrap();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
pub mod anvil;
pub mod orchestrator;
pub mod rpc_proxy;
pub mod web3;

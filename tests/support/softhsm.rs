//! SoftHSM2 harness: one throwaway token directory and `softhsm2.conf` per
//! test process (SoftHSM reads `SOFTHSM2_CONF` once, at `C_Initialize`, and
//! a process initialises a module once), and one fresh token with a unique
//! label per test, found by label (SoftHSM gives slots random ids).
//!
//! SoftHSM2 missing is a failure with an install hint, never a skip.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::Pkcs11;
use cryptoki::session::{Session, UserType};
use livepeer_signer::config::Pkcs11Config;
use livepeer_signer::keys::pkcs11::{self, find_token, login_session, TokenSelector};
use secrecy::SecretString;

/// SoftHSM2's module on Debian/Ubuntu.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The user PIN of every test token.
pub const USER_PIN: &str = "4711-user";
/// The security officer PIN of every test token.
pub const SO_PIN: &str = "4711-so";

const INSTALL_HINT: &str = "the PKCS#11 tests need SoftHSM2 (and opensc's pkcs11-tool): \
     `sudo apt-get install -y softhsm2 opensc`, or run scripts/test.sh, which installs them";

struct Env {
    _dir: tempfile::TempDir,
    conf: PathBuf,
    tokens: PathBuf,
}

static ENV: OnceLock<Env> = OnceLock::new();
static INIT_TOKEN: Mutex<()> = Mutex::new(());
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Panics (loudly, with the install hint) when SoftHSM2 is not installed.
pub fn require_softhsm() {
    assert!(Path::new(MODULE).exists(), "{MODULE} not found: {INSTALL_HINT}");
    let util = Command::new("softhsm2-util").arg("--version").output();
    assert!(
        matches!(&util, Ok(o) if o.status.success()),
        "softhsm2-util not runnable ({util:?}): {INSTALL_HINT}"
    );
}

fn env() -> &'static Env {
    ENV.get_or_init(|| {
        require_softhsm();
        let dir = tempfile::Builder::new().prefix("softhsm-test-").tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .unwrap();
        // Set before the first PKCS#11 call of this process (C_Initialize
        // reads it); nothing in this process has loaded the module yet.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        Env { _dir: dir, conf, tokens }
    })
}

/// This process's `softhsm2.conf` (creating it on first use).
pub fn conf() -> &'static Path {
    &env().conf
}

/// This process's token directory.
pub fn token_dir() -> &'static Path {
    &env().tokens
}

/// The process-wide SoftHSM2 context (the library's own once-per-process
/// module registry, so tests and backends share it).
pub fn ctx() -> Pkcs11 {
    env();
    pkcs11::module(Path::new(MODULE)).expect("load SoftHSM2")
}

/// The real binary ([`crate::support::bin`]: no inherited
/// `LIVEPEER_SIGNER*` variable) with `SOFTHSM2_CONF` pointing at this
/// process's tokens.
pub fn bin() -> Command {
    let mut c = crate::support::bin();
    c.env("SOFTHSM2_CONF", conf());
    c
}

/// A fresh, initialised token with a unique label, plus a directory for
/// its PIN file and configs.
pub struct Token {
    /// The unique token label.
    pub label: String,
    /// Temp dir holding `pin` and configs.
    pub dir: tempfile::TempDir,
    /// File holding [`USER_PIN`].
    pub pin_file: PathBuf,
}

impl Token {
    /// Initialises a new token in SoftHSM's free slot, through cryptoki
    /// (`C_InitToken`, SO login, `C_InitPIN`).
    pub fn new(name: &str) -> Token {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let mut label = format!("{n}-{name}");
        label.truncate(32);
        Token::with_label(&label)
    }

    /// Initialises a new token with exactly `label` (e.g. to bring back a
    /// deleted token).
    pub fn with_label(label: &str) -> Token {
        let label = label.to_string();
        let ctx = ctx();
        {
            let _guard = INIT_TOKEN.lock().unwrap_or_else(|p| p.into_inner());
            let slots = ctx.get_all_slots().unwrap();
            let free = slots
                .into_iter()
                .find(|s| {
                    ctx.get_token_info(*s)
                        .map(|i| !i.token_initialized())
                        .unwrap_or(false)
                })
                .expect("SoftHSM2 always offers one uninitialised slot");
            ctx.init_token(free, &SecretString::from(SO_PIN), &label).unwrap();
            // SoftHSM renumbers the slot on init: find it again by label.
            let (slot, _) =
                find_token(&ctx, Path::new(MODULE), &TokenSelector::Label(label.clone())).unwrap();
            let so = ctx.open_rw_session(slot).unwrap();
            so.login(UserType::So, Some(&SecretString::from(SO_PIN))).unwrap();
            so.init_pin(&SecretString::from(USER_PIN)).unwrap();
            so.logout().unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let pin_file = dir.path().join("pin");
        std::fs::write(&pin_file, format!("{USER_PIN}\n")).unwrap();
        Token { label, dir, pin_file }
    }

    /// A new token holding `key`, imported as label `key_label`, id 01
    /// (through the signer's own `pkcs11 import` path).
    #[allow(dead_code)] // Not every test binary including this module imports keys.
    pub fn with_key(name: &str, key: &k256::ecdsa::SigningKey, key_label: &str) -> Token {
        let token = Token::new(name);
        livepeer_signer::keys::pkcs11::admin::import_key(
            &token.session(),
            key,
            key_label,
            &[0x01],
            &token.label,
        )
        .unwrap();
        token
    }

    /// A logged-in read/write user session on this token.
    pub fn session(&self) -> Session {
        let ctx = ctx();
        let (slot, desc) =
            find_token(&ctx, Path::new(MODULE), &TokenSelector::Label(self.label.clone())).unwrap();
        login_session(&ctx, slot, &SecretString::from(USER_PIN), true, &desc).unwrap()
    }

    /// `[key.pkcs11]` for this token.
    pub fn config(&self, key_label: Option<&str>, key_id: Option<&str>, sessions: usize) -> Pkcs11Config {
        Pkcs11Config {
            module: MODULE.into(),
            token_label: Some(self.label.clone()),
            slot: None,
            key_label: key_label.map(str::to_string),
            key_id: key_id.map(str::to_string),
            pin_file: Some(self.pin_file.clone()),
            pin_env: None,
            sessions,
        }
    }

    /// A whole config file (pkcs11 backend, port 0) in this token's dir.
    pub fn config_file(&self, key_label: Option<&str>, key_id: Option<&str>) -> PathBuf {
        let mut key = String::new();
        if let Some(l) = key_label {
            key.push_str(&format!("key_label = {l:?}\n"));
        }
        if let Some(i) = key_id {
            key.push_str(&format!("key_id = {i:?}\n"));
        }
        let path = self.dir.path().join("signer.toml");
        std::fs::write(
            &path,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n\n[key]\nbackend = \"pkcs11\"\n\n[key.pkcs11]\nmodule = {MODULE:?}\ntoken_label = {:?}\n{key}pin_file = {:?}\nsessions = 2\n",
                self.label,
                self.pin_file.display().to_string()
            ),
        )
        .unwrap();
        path
    }
}

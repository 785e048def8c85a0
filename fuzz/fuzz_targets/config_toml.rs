//! Config loading: `Config::from_toml_with_env` on arbitrary TOML text and
//! `LIVEPEER_SIGNER__…` environment overrides.
//!
//! Input: TOML text, then optionally a NUL byte followed by `KEY=VALUE`
//! lines (each key gets the `LIVEPEER_SIGNER__` prefix unless it has it).
//! Property: never panics; every error names its source.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepeer_signer::config::{Config, ConfigSource};

fuzz_target!(|data: &[u8]| {
    let (text, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let env: Vec<(String, String)> = String::from_utf8_lossy(env)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let k = if k.starts_with("LIVEPEER_SIGNER__") {
                k.to_string()
            } else {
                format!("LIVEPEER_SIGNER__{k}")
            };
            (k, v.to_string())
        })
        .collect();
    if let Err(e) = Config::from_toml_with_env(text, &ConfigSource::Embedded, env) {
        let msg = e.to_string();
        assert!(!msg.is_empty());
    }
});

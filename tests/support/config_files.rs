//! Example configs made runnable: the absolute files they name (TLS
//! certificate and key, client CA, token, password and PIN files) are
//! created under a scratch root and the config is rewritten to point there,
//! because `check --offline` reads every file `serve` reads.

use std::path::Path;

/// Roots that examples and deploy manifests use for their files.
const ROOTS: [&str; 3] = ["/etc/", "/run/", "/var/"];

/// Returns `text` with every quoted absolute path under `/etc/`, `/run/` or
/// `/var/` moved under `root`, after creating the files the config reads:
/// a self-signed certificate and its key for `cert_file` / `key_file`, a CA
/// certificate for `client_ca_file`, a secret for `file`, `password_file`
/// and `pin_file`, a `Name: value` line for `headers_file` (the
/// `[payments.webhook]` headers). Comment lines are rewritten but create
/// nothing.
pub fn materialize(text: &str, root: &Path) -> String {
    let mut out = text.to_string();
    for r in ROOTS {
        out = out.replace(&format!("\"{r}"), &format!("\"{}{r}", root.display()));
    }
    let tls = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    for line in out.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let Some(path) = value
            .split('"')
            .nth(1)
            .filter(|p| p.starts_with(&root.display().to_string()))
        else {
            continue;
        };
        let path = Path::new(path);
        let contents = match key.trim() {
            "cert_file" | "client_ca_file" => tls.cert.pem(),
            "key_file" => tls.key_pair.serialize_pem(),
            "file" | "password_file" | "pin_file" => "a-secret-written-by-the-test\n".to_string(),
            "headers_file" => "Authorization: Bearer a-secret-written-by-the-test\n".to_string(),
            _ => continue,
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    std::fs::create_dir_all(root).unwrap();
    out
}

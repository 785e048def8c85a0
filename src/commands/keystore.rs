//! `keystore new`.

use anyhow::Context;

use super::Failure;
use crate::cli::KeystoreNew;
use crate::keys::keystore::{create_key, create_password_file, ScryptStrength};
use crate::secret::{self, SecretSource};

pub(super) async fn new(args: KeystoreNew) -> Result<(), Failure> {
    let strength = if args.light {
        ScryptStrength::Light
    } else {
        ScryptStrength::Standard
    };
    let (password, created_password) = match (&args.password_file, &args.password_env) {
        (Some(file), _) if file.exists() => (
            secret::read_file(file).map_err(|e| Failure::config(anyhow::anyhow!("password {e}")))?,
            false,
        ),
        (Some(file), _) => (create_password_file(file).map_err(Failure::runtime)?, true),
        (None, Some(var)) => (
            SecretSource::Env {
                var: var.clone(),
                origin: "--password-env",
            }
            .read()
            .map_err(Failure::config)?,
            false,
        ),
        (None, None) => {
            return Err(Failure::config(anyhow::anyhow!(
                "give --password-file FILE or --password-env VAR"
            )))
        }
    };
    let dir = args.dir.clone();
    let (file, address) = tokio::task::spawn_blocking(move || create_key(&dir, &password, strength))
        .await
        .context("key creation task failed")
        .map_err(Failure::runtime)?
        .map_err(Failure::runtime)?;
    if created_password {
        if let Some(pw) = &args.password_file {
            eprintln!("wrote a random password to {} (mode 0600)", pw.display());
        }
    }
    eprintln!("wrote key file {} (mode 0600)", file.display());
    println!("{address}");
    Ok(())
}

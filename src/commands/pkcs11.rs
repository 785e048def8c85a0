//! `pkcs11 list | generate | import`: key management in the token of
//! `[key.pkcs11]`.

use std::io::BufRead;
use std::path::Path;

use anyhow::{anyhow, Context};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{init_logging, load_config, Failure};
use crate::cli::{Pkcs11Command, Pkcs11Generate, Pkcs11Import};
use crate::eth::{hex, keccak256, recover_digest, Address};
use crate::keys::keystore::{KeyFile, V3Error};
use crate::keys::pkcs11::{
    admin, ec, find_token, list_keys, list_tokens, login_session, module, KeySelector, Pkcs11Backend,
    Pkcs11Error, Target,
};
use crate::secret::{self, SecretSource};
use crate::signer::Signer;

/// Exit code 2 for usage/config problems, 1 for the rest.
fn fail(e: Pkcs11Error) -> Failure {
    match e {
        Pkcs11Error::Usage(_)
        | Pkcs11Error::Config(_)
        | Pkcs11Error::Pin(_)
        | Pkcs11Error::ModuleMissing { .. } => Failure::config(e),
        e => Failure::runtime(e),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .context("PKCS#11 task failed")
        .map_err(Failure::runtime)?
}

pub(super) async fn run(config_path: Option<&Path>, cmd: Pkcs11Command) -> Result<(), Failure> {
    let (config, source) = load_config(config_path)?;
    init_logging(&config.log);
    let p11 = config.key.pkcs11.clone().ok_or_else(|| {
        Failure::config(anyhow!(
            "{source} has no [key.pkcs11] section: give --config with module, token_label (or slot) and pin_file (or pin_env); see config/pkcs11.example.toml"
        ))
    })?;
    let target = Target::from_config(&p11).map_err(fail)?;
    match cmd {
        Pkcs11Command::List => blocking(move || list(&target)).await,
        Pkcs11Command::Generate(args) => blocking(move || generate(&target, &args)).await,
        Pkcs11Command::Import(args) => import(target, args).await,
    }
}

fn parse_id(id: &Option<String>) -> Result<Option<Vec<u8>>, Failure> {
    match id {
        None => Ok(None),
        Some(s) => {
            let bytes = hex::decode(s).map_err(|e| Failure::config(anyhow!("--id {s:?} is not hex: {e}")))?;
            if bytes.is_empty() {
                return Err(Failure::config(anyhow!("--id must not be empty")));
            }
            Ok(Some(bytes))
        }
    }
}

fn list(target: &Target) -> Result<(), Failure> {
    let ctx = module(&target.module).map_err(fail)?;
    let tokens = list_tokens(&ctx, &target.module).map_err(fail)?;
    if tokens.is_empty() {
        println!("no initialised tokens in {}", target.module.display());
    }
    for t in &tokens {
        println!(
            "token {:?} slot {} ({}, serial {})",
            t.label,
            t.slot.id(),
            t.model,
            t.serial
        );
    }
    let (slot, desc) = find_token(&ctx, &target.module, &target.token).map_err(fail)?;
    let session = login_session(&ctx, slot, &target.pin, false, &desc).map_err(fail)?;
    let keys = list_keys(&session, &desc).map_err(fail)?;
    println!("EC private keys in {desc}: {}", keys.len());
    for k in keys {
        println!(
            "key label {:?} id {} curve {} address {}",
            k.label,
            if k.id.is_empty() {
                "-".into()
            } else {
                hex::encode(&k.id)
            },
            ec::short_curve_name(&k.params),
            k.address().map(|a| a.to_checksum()).unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}

fn print_custody(session: &cryptoki::session::Session, key: cryptoki::object::ObjectHandle, desc: &str) {
    match admin::custody(session, key, desc) {
        Ok(c) => eprintln!(
            "key custody: CKA_SENSITIVE={:?} CKA_EXTRACTABLE={:?} CKA_ALWAYS_SENSITIVE={:?} CKA_NEVER_EXTRACTABLE={:?} CKA_VALUE readable={}",
            c.sensitive, c.extractable, c.always_sensitive, c.never_extractable, c.value_readable
        ),
        Err(e) => eprintln!("warning: cannot read the key's custody attributes: {e}"),
    }
}

fn generate(target: &Target, args: &Pkcs11Generate) -> Result<(), Failure> {
    let id = match parse_id(&args.id)? {
        Some(id) => id,
        None => {
            let mut id = vec![0u8; 8];
            rand::rngs::OsRng.fill_bytes(&mut id);
            id
        }
    };
    let ctx = module(&target.module).map_err(fail)?;
    let (slot, desc) = find_token(&ctx, &target.module, &target.token).map_err(fail)?;
    let session = login_session(&ctx, slot, &target.pin, true, &desc).map_err(fail)?;
    let found = admin::generate_key(&session, &args.label, &id, &desc).map_err(fail)?;
    let address = Address::from_public_key(&found.public_key);
    eprintln!(
        "generated a secp256k1 key in {desc}: label {:?} id {}; a test signature through the token verified",
        args.label,
        hex::encode(&id)
    );
    print_custody(&session, found.handle, &desc);
    eprintln!(
        "use it with [key.pkcs11] key_label = {:?} and/or key_id = \"{}\"",
        args.label,
        hex::encode(&id)
    );
    println!("{address}");
    Ok(())
}

fn read_password(args: &Pkcs11Import) -> Result<SecretString, Failure> {
    if let Some(file) = &args.password_file {
        return secret::read_file(file).map_err(|e| Failure::config(anyhow!("keystore password {e}")));
    }
    if let Some(var) = &args.password_env {
        return SecretSource::Env {
            var: var.clone(),
            origin: "--password-env",
        }
        .read()
        .map_err(Failure::config);
    }
    eprintln!("reading the keystore password from the first line of standard input");
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the keystore password from standard input")
        .map_err(Failure::runtime)?;
    let trimmed = line.trim_end_matches(['\r', '\n']);
    if trimmed.is_empty() {
        return Err(Failure::config(anyhow!(
            "no keystore password: give --password-file FILE, --password-env VAR, or a line on standard input"
        )));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

async fn import(target: Target, args: Pkcs11Import) -> Result<(), Failure> {
    let id_arg = parse_id(&args.id)?;
    let password = read_password(&args)?;
    let keystore = args.keystore.clone();
    let import_target = target.clone();
    // Decrypt (scrypt) and move into the token on a blocking thread.
    let (address, label, id) = blocking(move || {
        let bytes = std::fs::read(&keystore)
            .with_context(|| format!("keystore {}", keystore.display()))
            .map_err(Failure::config)?;
        let file = KeyFile::parse(&bytes)
            .with_context(|| format!("keystore {}", keystore.display()))
            .map_err(Failure::config)?;
        // SigningKey zeroizes its scalar on drop.
        let key = file
            .decrypt(password.expose_secret().as_bytes())
            .map_err(|e| match e {
                V3Error::WrongPassword => Failure::runtime(anyhow!(
                    "wrong password for keystore {}: check --password-file / --password-env",
                    keystore.display()
                )),
                e => Failure::config(anyhow!("keystore {}: {e}", keystore.display())),
            })?;
        drop(password);
        let address = Address::from_public_key(key.verifying_key());
        let id = id_arg.unwrap_or_else(|| address.as_bytes().to_vec());
        let target = import_target;
        let ctx = module(&target.module).map_err(fail)?;
        let (slot, desc) = find_token(&ctx, &target.module, &target.token).map_err(fail)?;
        let session = login_session(&ctx, slot, &target.pin, true, &desc).map_err(fail)?;
        let found = admin::import_key(&session, &key, &args.label, &id, &desc).map_err(fail)?;
        drop(key);
        let in_token = Address::from_public_key(&found.public_key);
        if in_token != address {
            return Err(Failure::runtime(anyhow!(
                "the key in the token has address {in_token}, not the keystore's {address}"
            )));
        }
        eprintln!(
            "imported keystore {} into {desc}: label {:?} id {}",
            keystore.display(),
            args.label,
            hex::encode(&id)
        );
        print_custody(&session, found.handle, &desc);
        Ok((address, args.label, id))
    })
    .await?;

    // Prove it end to end: a signature made by the token, through the
    // Signer, recovers to the keystore's address.
    let backend_target = Target {
        key: KeySelector {
            label: Some(label.clone()),
            id: Some(id.clone()),
        },
        ..target
    };
    let backend = blocking(move || Pkcs11Backend::open_blocking(backend_target, 1).map_err(fail)).await?;
    let signer = Signer::new(Box::new(backend));
    let digest = keccak256(b"livepeer-signer pkcs11 import check");
    let sig = signer.sign_digest(&digest).await.map_err(|e| {
        Failure::runtime(anyhow::Error::new(e).context("test signature through the token failed"))
    })?;
    let recovered = recover_digest(&digest, sig.as_bytes())
        .map_err(|e| Failure::runtime(anyhow!("test signature does not recover: {e}")))?;
    if recovered != address {
        return Err(Failure::runtime(anyhow!(
            "test signature through the token recovers to {recovered}, not {address}"
        )));
    }
    eprintln!("test signature through the token recovers to {recovered}");
    eprintln!(
        "use it with [key.pkcs11] key_label = {label:?} and/or key_id = \"{}\"; then remove or archive the keystore file as your key policy requires",
        hex::encode(&id)
    );
    println!("{address}");
    Ok(())
}

//! `check` and `address`.

use std::path::Path;

use super::{init_logging, load_config, Failure};
use crate::eth::keccak256;
use crate::keys;
use crate::livepeer::orch_info::OrchInfoSignature;
use crate::signer::Signer;

async fn open_signer(config_path: Option<&Path>) -> Result<Signer, Failure> {
    let (config, _) = load_config(config_path)?;
    init_logging(&config.log);
    let backend = keys::open(&config.key)
        .await
        .map_err(|e| Failure::runtime(anyhow::Error::new(e).context("cannot open the key backend")))?;
    Ok(Signer::new(backend))
}

/// `address`: print only the EIP-55 address.
pub(super) async fn address(config_path: Option<&Path>) -> Result<(), Failure> {
    let signer = open_signer(config_path).await?;
    println!("{}", signer.address());
    Ok(())
}

/// `check [--offline]`.
pub(super) async fn check(config_path: Option<&Path>, offline: bool) -> Result<(), Failure> {
    if offline {
        let (config, source) = load_config(config_path)?;
        super::serve::preflight(&config)?;
        println!("config ok: {source} (backend {})", config.key.backend);
        return Ok(());
    }
    let signer = open_signer(config_path).await?;
    let probe = keccak256(b"livepeer-signer check probe");
    let sig = signer
        .sign_digest(&probe)
        .await
        .map_err(|e| Failure::runtime(anyhow::Error::new(e).context("probe signature failed")))?;
    let orch = OrchInfoSignature::create(&signer)
        .await
        .map_err(|e| Failure::runtime(anyhow::Error::new(e).context("OrchestratorInfo signature failed")))?;
    println!(
        "ok: {} address {}: probe signature verified (v={}), OrchestratorInfo signature verified",
        signer.backend().describe(),
        orch.address(),
        sig.v()
    );
    Ok(())
}

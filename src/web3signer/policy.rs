//! The signing policy for `eth_signTransaction` and raw signing: what no eth1
//! signer offers. Every refusal names its rule.

use alloy_primitives::U256;

use crate::config::Web3SignerConfig;
use crate::eth::tx::UnsignedTx;
use crate::eth::Address;

/// A refusal: the rule (metrics label, config key) and a message saying what
/// to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `chain_ids`, `allowed_to`, `max_value_wei`, `allow_contract_creation`, `allow_raw_sign`, `scope`.
    pub rule: &'static str,
    /// Human explanation.
    pub message: String,
}

/// `[web3signer]` policy, parsed.
#[derive(Debug, Clone)]
pub struct Policy {
    chain_ids: Vec<u64>,
    allowed_to: Vec<Address>,
    max_value: U256,
    allow_contract_creation: bool,
    allow_raw_sign: bool,
}

impl Policy {
    /// From the config (typed and validated at load).
    pub fn from_config(c: &Web3SignerConfig) -> Policy {
        Policy {
            chain_ids: c.chain_ids.clone(),
            allowed_to: c.allowed_to.clone(),
            max_value: c.max_value_wei,
            allow_contract_creation: c.allow_contract_creation,
            allow_raw_sign: c.allow_raw_sign,
        }
    }

    /// Checks a transaction against every rule.
    pub fn check_tx(&self, chain_id: u64, tx: &UnsignedTx) -> Result<(), Refusal> {
        if !self.chain_ids.contains(&chain_id) {
            return Err(Refusal {
                rule: "chain_ids",
                message: format!(
                    "chainId {chain_id} is not allowed by [web3signer] chain_ids = {:?}",
                    self.chain_ids
                ),
            });
        }
        match tx.to() {
            None if !self.allow_contract_creation => {
                return Err(Refusal {
                    rule: "allow_contract_creation",
                    message:
                        "contract creation (no `to`) is refused: [web3signer] allow_contract_creation = false"
                            .into(),
                })
            }
            None => {}
            Some(to) => {
                let to = Address::from_bytes(to.0 .0);
                if !self.allowed_to.is_empty() && !self.allowed_to.contains(&to) {
                    return Err(Refusal {
                        rule: "allowed_to",
                        message: format!("recipient {to} is not in [web3signer] allowed_to"),
                    });
                }
            }
        }
        if tx.value() > self.max_value {
            return Err(Refusal {
                rule: "max_value_wei",
                message: format!(
                    "value {} wei exceeds [web3signer] max_value_wei = {}",
                    tx.value(),
                    self.max_value
                ),
            });
        }
        Ok(())
    }

    /// Raw hash signing is off unless `allow_raw_sign = true`.
    pub fn check_raw(&self) -> Result<(), Refusal> {
        if self.allow_raw_sign {
            Ok(())
        } else {
            Err(Refusal {
                rule: "allow_raw_sign",
                message: "raw signing is disabled: [web3signer] allow_raw_sign = false".into(),
            })
        }
    }

    /// Is any chain allowed at all?
    pub fn has_chains(&self) -> bool {
        !self.chain_ids.is_empty()
    }
}

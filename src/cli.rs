//! Command-line interface (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Remote signer for go-livepeer gateways (`-remoteSignerUrl`).
#[derive(Debug, Parser)]
#[command(name = "livepeer-signer", version, about, long_about = None)]
pub struct Cli {
    /// Config file (TOML). Without it the embedded development config is
    /// used. Overrides: `LIVEPEER_SIGNER__<SECTION>__<KEY>`.
    #[arg(long, global = true, env = "LIVEPEER_SIGNER_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the signing daemon.
    Serve,
    /// Print the signer's EIP-55 address and exit.
    Address,
    /// Load the config, open the backend, sign and self-verify a probe.
    Check {
        /// Only parse and validate the config; do not open the backend.
        #[arg(long)]
        offline: bool,
    },
    /// Manage V3 keystore files.
    #[command(subcommand)]
    Keystore(KeystoreCommand),
    /// Manage bearer tokens for `[[auth.tokens]]`.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage keys in the PKCS#11 token of `[key.pkcs11]` (from --config).
    #[cfg(feature = "pkcs11")]
    #[command(subcommand)]
    Pkcs11(Pkcs11Command),
    /// The signer's on-chain state (needs `[chain]`).
    #[command(subcommand)]
    Chain(ChainCommand),
    /// Fund, unlock and withdraw the TicketBroker deposit and reserve with
    /// the signer's key, wherever it lives (needs `[chain]`).
    #[command(subcommand)]
    Deposit(DepositCommand),
}

/// `chain …`
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Address, chain id, contracts, deposit and reserve, unlock state, round, L1 block, ETH balance.
    Status {
        /// One JSON object instead of text (wei as decimal strings).
        #[arg(long)]
        json: bool,
    },
}

/// An amount: wei (`50000000000000000`) or ether with an `eth` suffix (`0.05eth`).
use crate::eth::units::parse_amount as amount;

/// What every deposit command shares.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Sign and send the transaction. Without it, print what would be sent and send nothing.
    #[arg(long)]
    pub yes: bool,
    /// How long to wait for the receipt, in seconds.
    #[arg(long, value_name = "S", default_value_t = 300)]
    pub receipt_timeout_s: u64,
}

/// `deposit …`: TicketBroker transactions from the signer's address.
#[derive(Debug, Subcommand)]
pub enum DepositCommand {
    /// `fundDepositAndReserve(deposit, reserve)` with value = deposit + reserve.
    Fund {
        /// Added to the deposit (wei, or e.g. `0.05eth`).
        #[arg(long, value_name = "AMOUNT", value_parser = amount)]
        deposit: alloy_primitives::U256,
        /// Added to the reserve (wei, or e.g. `0.05eth`).
        #[arg(long, value_name = "AMOUNT", value_parser = amount)]
        reserve: alloy_primitives::U256,
        #[command(flatten)]
        send: SendArgs,
    },
    /// `fundDeposit()` with value = amount.
    FundDeposit {
        /// Wei, or e.g. `0.05eth`.
        #[arg(long, value_name = "AMOUNT", value_parser = amount)]
        amount: alloy_primitives::U256,
        #[command(flatten)]
        send: SendArgs,
    },
    /// `fundReserve()` with value = amount.
    FundReserve {
        /// Wei, or e.g. `0.05eth`.
        #[arg(long, value_name = "AMOUNT", value_parser = amount)]
        amount: alloy_primitives::U256,
        #[command(flatten)]
        send: SendArgs,
    },
    /// `unlock()`: start the unlock period of deposit and reserve.
    Unlock {
        #[command(flatten)]
        send: SendArgs,
    },
    /// `cancelUnlock()`.
    CancelUnlock {
        #[command(flatten)]
        send: SendArgs,
    },
    /// `withdraw()`: after the unlock period, pay deposit and reserve back.
    Withdraw {
        #[command(flatten)]
        send: SendArgs,
    },
}

impl DepositCommand {
    /// The transaction and the send options.
    pub fn split(self) -> (crate::chain::SenderTx, SendArgs) {
        use crate::chain::SenderTx;
        match self {
            DepositCommand::Fund {
                deposit,
                reserve,
                send,
            } => (SenderTx::FundDepositAndReserve { deposit, reserve }, send),
            DepositCommand::FundDeposit { amount, send } => (SenderTx::FundDeposit { amount }, send),
            DepositCommand::FundReserve { amount, send } => (SenderTx::FundReserve { amount }, send),
            DepositCommand::Unlock { send } => (SenderTx::Unlock, send),
            DepositCommand::CancelUnlock { send } => (SenderTx::CancelUnlock, send),
            DepositCommand::Withdraw { send } => (SenderTx::Withdraw, send),
        }
    }
}

/// `token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a fresh random token (once) and the config lines holding its SHA-256.
    New {
        /// Name shown in logs and metrics, e.g. the gateway's name.
        #[arg(long)]
        name: String,
    },
}

/// `keystore …`
#[derive(Debug, Subcommand)]
pub enum KeystoreCommand {
    /// Create a new key in a V3 key file (go-livepeer's scrypt n = 2^18) and print its address.
    New(KeystoreNew),
}

/// `keystore new`
#[derive(Debug, Args)]
pub struct KeystoreNew {
    /// Directory to write `UTC--<time>--<address>` into (created 0700).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Password file; if it does not exist, a random password is written to it (0600).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "password_env",
        required_unless_present = "password_env"
    )]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// geth's light scrypt parameters (n = 2^12, p = 6): tests and development only.
    #[arg(long)]
    pub light: bool,
}

/// `pkcs11 …`: uses `module`, `token_label`/`slot` and `pin_file`/`pin_env`
/// of `[key.pkcs11]` in the config file.
#[cfg(feature = "pkcs11")]
#[derive(Debug, Subcommand)]
pub enum Pkcs11Command {
    /// List the tokens, and the EC keys of the configured token (label, id, curve, Ethereum address).
    List,
    /// Generate a secp256k1 key pair inside the token (sensitive, non-extractable) and print its address.
    Generate(Pkcs11Generate),
    /// Move a go-livepeer/geth V3 keystore key into the token (sensitive, non-extractable) and print its address.
    Import(Pkcs11Import),
}

/// `pkcs11 generate`
#[cfg(feature = "pkcs11")]
#[derive(Debug, Args)]
pub struct Pkcs11Generate {
    /// CKA_LABEL of the new key pair (must be unused in the token).
    #[arg(long, value_name = "LABEL")]
    pub label: String,
    /// CKA_ID as hex (must be unused); default: 8 random bytes.
    #[arg(long, value_name = "HEX")]
    pub id: Option<String>,
}

/// `pkcs11 import`
#[cfg(feature = "pkcs11")]
#[derive(Debug, Args)]
pub struct Pkcs11Import {
    /// The V3 key file (geth / go-livepeer keystore).
    #[arg(long, value_name = "FILE")]
    pub keystore: PathBuf,
    /// File holding the keystore password; without it and --password-env,
    /// the password is read from the first line of standard input.
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the keystore password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// CKA_LABEL of the imported key pair (must be unused in the token).
    #[arg(long, value_name = "LABEL")]
    pub label: String,
    /// CKA_ID as hex (must be unused); default: the 20-byte address.
    #[arg(long, value_name = "HEX")]
    pub id: Option<String>,
}

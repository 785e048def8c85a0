//! Subcommands. `anyhow` lives here, at the command edge, and nowhere else.

mod check;
mod keystore;
#[cfg(feature = "pkcs11")]
mod pkcs11;
mod serve;
mod token;

use std::path::Path;

use crate::cli::{Cli, Command, KeystoreCommand, TokenCommand};
use crate::config::{Config, ConfigSource, LogConfig, LogFormat};

/// Exit code for a runtime failure.
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code for a usage or configuration error.
pub const EXIT_CONFIG: u8 = 2;

/// A failed command: what to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// Process exit code.
    pub code: u8,
    /// The error, printed with its causes.
    pub error: anyhow::Error,
}

impl Failure {
    /// Exit code 1.
    pub fn runtime(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: EXIT_RUNTIME,
            error: error.into(),
        }
    }

    /// Exit code 2.
    pub fn config(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: EXIT_CONFIG,
            error: error.into(),
        }
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve => serve::run(cli.config.as_deref()).await,
        Command::Address => check::address(cli.config.as_deref()).await,
        Command::Check { offline } => check::check(cli.config.as_deref(), offline).await,
        Command::Keystore(KeystoreCommand::New(args)) => keystore::new(args).await,
        Command::Token(TokenCommand::New { name }) => token::new(&name),
        #[cfg(feature = "pkcs11")]
        Command::Pkcs11(cmd) => pkcs11::run(cli.config.as_deref(), cmd).await,
    }
}

/// Loads and validates the config (exit code 2 on error).
fn load_config(path: Option<&Path>) -> Result<(Config, ConfigSource), Failure> {
    Config::load(path).map_err(Failure::config)
}

/// Installs the global `tracing` subscriber: logs go to stderr.
fn init_logging(log: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = match log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

//! Subcommands. `anyhow` lives here, at the command edge, and nowhere else.

mod chain;
mod check;
mod keystore;
#[cfg(feature = "pkcs11")]
mod pkcs11;
mod serve;
mod token;

use std::path::Path;

use crate::cli::{ChainCommand, Cli, Command, KeystoreCommand, TokenCommand};
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
        Command::Chain(ChainCommand::Status { json }) => chain::status(cli.config.as_deref(), json).await,
        Command::Deposit(cmd) => chain::deposit(cli.config.as_deref(), cmd).await,
    }
}

/// Loads and validates the config (exit code 2 on error).
fn load_config(path: Option<&Path>) -> Result<(Config, ConfigSource), Failure> {
    Config::load(path).map_err(Failure::config)
}

/// Keeps the log writer thread alive; dropping it flushes what is queued.
/// Hold it until the command returns.
#[must_use = "dropping the guard stops the log writer"]
pub(crate) struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Lines the log channel holds before callers wait for the writer thread.
const LOG_QUEUE_LINES: usize = 64 * 1024;

/// Installs the global `tracing` subscriber: logs go to stderr, written
/// synchronously (short-lived commands).
fn init_logging(log: &LogConfig) {
    let _ = install_subscriber(log, std::io::stderr);
}

/// Installs the global `tracing` subscriber for `serve`: logs go to stderr
/// through a background writer.
///
/// Lines are formatted on the calling thread and written by a dedicated
/// thread through a 64 KiB buffer flushed whenever the queue runs empty, so
/// a busy server writes many lines per `write(2)` and an actix worker never
/// blocks on the log file or pipe. Nothing is dropped: when the queue is
/// full, callers wait (`lossy(false)`). Lines still queued are lost only if
/// the process is killed (SIGKILL, abort); returning from the command
/// (dropping the guard) flushes them.
fn init_background_logging(log: &LogConfig) -> LogGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr()));
    // Already installed (a second call in one process): keep the first writer.
    LogGuard(install_subscriber(log, writer).then_some(guard))
}

/// `true` when installed (false: a subscriber was already set).
fn install_subscriber<W>(log: &LogConfig, writer: W) -> bool
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    // RUST_LOG wins when set, but only if it is ASCII: tracing-subscriber's
    // directive parser can panic on other input.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| v.is_ascii())
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    match log.format {
        LogFormat::Text => builder.try_init().is_ok(),
        LogFormat::Json => builder.json().flatten_event(true).try_init().is_ok(),
    }
}

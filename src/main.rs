//! `livepeer-signer`: thin entry point; the work is in the library.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use livepeer_signer::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("livepeer-signer: error: cannot start the async runtime: {e}");
            return ExitCode::from(livepeer_signer::EXIT_RUNTIME);
        }
    };
    match runtime.block_on(livepeer_signer::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("livepeer-signer: error: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}

//! The `qlat` binary: parses the command line, sets up logging, runs the
//! command ([`qlat::cli`]) and reports its error, once, with a non-zero
//! exit code.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = qlat::cli::Cli::parse();
    qlat::cli::init_tracing(cli.log_format);
    match qlat::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qlat: error: {}", qlat::cli::error_report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

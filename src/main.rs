use clap::Parser;
use std::process::ExitCode;

use pgward::cli::{Cli, Command};
use pgward::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = match Config::load(&args) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("pgward: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Err(e) = pgward::logging::init(&config.log) {
                eprintln!("pgward: {e}");
                return ExitCode::from(2);
            }
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("pgward: cannot start runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(pgward::server::serve(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("pgward: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

use clap::Parser;
use std::process::ExitCode;

use pgward::cli::{Cli, Command};
use pgward::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => {
            let (report, ok) = pgward::explain::check(&args);
            if ok {
                print!("{report}");
                ExitCode::SUCCESS
            } else {
                eprint!("{report}");
                ExitCode::from(1)
            }
        }
        Command::Rls(pgward::cli::RlsCommand::Plan(args)) => match pgward::rls::plan(&args) {
            Ok(sql) => {
                print!("{sql}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("pgward: {e}");
                ExitCode::from(2)
            }
        },
        Command::Rls(pgward::cli::RlsCommand::Check(args)) => {
            let (report, ok) = pgward::rls::check(&args);
            print!("{report}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::Explain(args) => match pgward::explain::explain(&args) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("pgward: {e}");
                ExitCode::from(2)
            }
        },
        Command::Audit(pgward::cli::AuditCommand::Tail(args)) => {
            let dir = match (&args.spool_dir, &args.config) {
                (Some(d), _) => d.clone(),
                (None, config) => {
                    let serve = pgward::cli::ServeArgs {
                        config: config.clone(),
                        ..Default::default()
                    };
                    match Config::load(&serve) {
                        Ok(Config { audit: Some(a), .. }) => a.spool_dir,
                        Ok(_) => {
                            eprintln!("pgward: the config has no audit section (give --spool-dir)");
                            return ExitCode::from(2);
                        }
                        Err(e) => {
                            eprintln!("pgward: {e}");
                            return ExitCode::from(2);
                        }
                    }
                }
            };
            let mut out = std::io::stdout().lock();
            match pgward::audit::tail::run(&dir, args.json, args.follow, &mut out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("pgward: {}: {e}", dir.display());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Mcp(args) => {
            let args = *args;
            let mut config = match Config::load(&args.serve) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("pgward: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Some(db) = args.database {
                config.mcp.database = Some(db);
            }
            // Logs go to stderr; stdout is the MCP channel.
            if let Err(e) = pgward::logging::init(&config.log) {
                eprintln!("pgward: {e}");
                return ExitCode::from(2);
            }
            let runtime = match runtime(&config) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("pgward: cannot start runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(pgward::mcp::stdio::serve(config, args.user)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("pgward: {e}");
                    ExitCode::FAILURE
                }
            }
        }
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
            let runtime = match runtime(&config) {
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

/// pg_query's parser recurses deeply on nested statements: give every
/// worker room for the deepest statement it accepts (about 2 MiB in a
/// debug build), with margin.
fn runtime(config: &Config) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_stack_size(8 << 20);
    if let Some(n) = config.workers {
        builder.worker_threads(n);
    }
    builder.build()
}

//! `clinker-crashtest`: kill a server under load again and again and check what recovery
//! leaves.

use std::process::ExitCode;

use clap::Parser;

/// Kill a server under load again and again and check what recovery leaves.
#[derive(Debug, Parser)]
#[command(name = "clinker-crashtest", version, about)]
struct Cli {
    #[command(flatten)]
    opts: clinker_crashtest::CrashOptions,
}

fn main() -> ExitCode {
    clinker_crashtest::cli(Cli::parse().opts)
}

//! `clinker-crashtest`: kill a server under load again and again and check what recovery
//! leaves; `clinker-crashtest cluster`: the same for a cluster of controllers and agents
//! in network namespaces, with stops and partitions too.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Kill a server under load again and again and check what recovery leaves.
#[derive(Debug, Parser)]
#[command(
    name = "clinker-crashtest",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    opts: clinker_crashtest::CrashOptions,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Controllers and storage agents as separate processes on PostgreSQL, agents in
    /// network namespaces (needs root): kill -9, SIGSTOP past the lease and partitions,
    /// in rounds.
    Cluster(clinker_crashtest::cluster::ClusterOptions),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.mode {
        Some(Mode::Cluster(opts)) => clinker_crashtest::cluster::cli(&opts),
        None => clinker_crashtest::cli(cli.opts),
    }
}

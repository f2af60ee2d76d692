//! `clinker-bench`: drive a running Clinker over HTTP and report latency and throughput.

use std::process::ExitCode;

use clap::Parser;

/// Drive a running server over HTTP and report latency and throughput.
#[derive(Debug, Parser)]
#[command(name = "clinker-bench", version, about)]
struct Cli {
    #[command(flatten)]
    opts: clinker_bench::BenchOptions,
}

fn main() -> ExitCode {
    clinker_bench::cli(Cli::parse().opts)
}

//! std start-up plus the whole clap parse of the real command line, and nothing else.
use clap::Parser;

fn main() {
    let cli = watchdog::cli::Cli::parse();
    std::hint::black_box(&cli);
}

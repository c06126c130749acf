//! The `upwatch` binary: parse the command line and hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    upwatch::cli::main(upwatch::cli::Cli::parse())
}

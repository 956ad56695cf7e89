//! The `probe` command: see [`probe::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    probe::cli::main()
}

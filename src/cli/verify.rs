//! `probe verify`: check a log's integrity and ordering guarantees.

use std::path::PathBuf;

use anyhow::Result;

use super::{emit, with_newline};
use crate::log::verify;

/// Arguments of `probe verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The log to check.
    log: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `probe verify`.
pub fn run(args: VerifyArgs) -> Result<u8> {
    let VerifyArgs { log, json } = args;
    let report = verify::verify_path(&log);
    if json {
        emit(&with_newline(serde_json::to_string_pretty(&report)?))?;
    } else {
        emit(&with_newline(report.to_string()))?;
    }
    Ok(u8::try_from(report.exit_code()).unwrap_or(2))
}

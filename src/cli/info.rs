//! `probe info`: summarise a log.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{emit, with_newline};
use crate::log::info;

/// Arguments of `probe info`.
#[derive(clap::Args)]
pub struct InfoArgs {
    /// The log to summarise.
    log: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `probe info`.
pub fn run(args: InfoArgs) -> Result<u8> {
    let InfoArgs { log, json } = args;
    let report = info::info_path(&log).with_context(|| format!("reading {}", log.display()))?;
    if json {
        emit(&with_newline(serde_json::to_string_pretty(&report)?))?;
    } else {
        emit(&with_newline(report.to_string()))?;
    }
    Ok(0)
}

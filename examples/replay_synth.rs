//! Writes synthetic logs for `probe replay`: the benchmark's large series
//! and the gallery of every panel kind used for the README images.
//!
//! ```text
//! cargo run --release --example replay_synth -- series N OUT.probe [DT_NS]
//! cargo run --release --example replay_synth -- gallery OUT.probe
//! ```
//!
//! `series` writes one float probe with N records DT_NS (default 300) apart
//! (a noisy signal with rare spikes).

#[path = "../tests/replay_common/mod.rs"]
mod replay_common;

use std::path::PathBuf;
use std::process::ExitCode;

use probe::model::Value;
use replay_common::*;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["series", n, out, rest @ ..] => {
            let (Ok(n), Some(dt)) = (
                n.parse::<u64>(),
                rest.first().map_or(Some(300), |d| d.parse::<u64>().ok()),
            ) else {
                eprintln!("replay_synth: N and DT_NS must be whole numbers");
                return ExitCode::from(2);
            };
            let end = write_series(&PathBuf::from(out), n, dt, |i| Value::Float(signal(i)));
            eprintln!("replay_synth: wrote {out}: {} records", end.total_records);
        }
        ["gallery", out] => {
            let end = write_gallery(&PathBuf::from(out));
            eprintln!("replay_synth: wrote {out}: {} records", end.total_records);
        }
        _ => {
            eprintln!(
                "usage: replay_synth series N OUT.probe [DT_NS] | replay_synth gallery OUT.probe"
            );
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

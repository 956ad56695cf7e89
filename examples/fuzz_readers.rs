//! The long hostile-log campaign behind `scripts/fuzz-readers.sh`: the
//! harness of `tests/hostile_logs.rs` (structure-aware generation and
//! mutation of real logs, every reader command as a subprocess under a
//! time and a memory limit) on as many inputs as asked, with a summary.
//!
//!   fuzz_readers [--inputs N] [--first I] [--seed S] [--per-input K]
//!                [--jobs J] [--save DIR] [--cpu SECS] [--wall SECS]

#[path = "../tests/hostile/mod.rs"]
mod hostile;

use hostile::*;

fn main() {
    let mut cfg = Campaign {
        inputs: 20_000,
        first: 0,
        seed: 0x5eed_0016,
        per_input: 3,
        jobs: 2,
        bounds: Bounds::default(),
        save: None,
        progress_every: 500,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_default();
        match a.as_str() {
            "--inputs" => cfg.inputs = val().parse().expect("--inputs N"),
            "--first" => cfg.first = val().parse().expect("--first I"),
            "--seed" => cfg.seed = val().parse().expect("--seed S"),
            "--per-input" => cfg.per_input = val().parse().expect("--per-input K"),
            "--jobs" => cfg.jobs = val().parse().expect("--jobs J"),
            "--save" => cfg.save = Some(val().into()),
            "--cpu" => {
                cfg.bounds.cpu = std::time::Duration::from_secs(val().parse().expect("--cpu SECS"))
            }
            "--wall" => {
                cfg.bounds.wall =
                    std::time::Duration::from_secs(val().parse().expect("--wall SECS"))
            }
            other => {
                eprintln!("fuzz_readers: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let s = campaign(&cfg);
    println!("{}", s.render());
    std::process::exit(i32::from(!s.failures.is_empty()));
}

//! Every reader command on hostile logs (SPEC §5, §10; issue 16): 1,000
//! inputs of at most 1 MiB with fixed seeds — half built field by field
//! with valid checksums and hostile contents, half mutations of real logs
//! — each run through `verify` and a rotating share of `info`, `replay`,
//! `diff`, `diff --plot` and `export` (every format), as real subprocesses
//! limited to 10 s and 1 GiB of address space. Bar: every run ends in
//! time with exit status 0, 1 or 2, no signal, no panic; and `verify`
//! never says OK on a log whose header or frames were altered.
//! `scripts/fuzz-readers.sh` runs the same harness on 20,000+ inputs.

mod hostile;

use hostile::*;

#[test]
fn a_thousand_hostile_logs_through_every_reader_command() {
    let cfg = Campaign {
        inputs: 1000,
        first: 0,
        seed: 0x5eed_0016,
        per_input: 3,
        jobs: 2,
        bounds: Bounds::default(),
        save: None,
        progress_every: 0,
    };
    let s = campaign(&cfg);
    println!("{}", s.render());
    // Every command was exercised.
    for c in Cmd::ALL {
        let n: u64 = s
            .by_status
            .iter()
            .filter(|((k, _), _)| *k == c)
            .map(|(_, n)| n)
            .sum();
        assert!(n >= 50, "{} ran only {n} times", c.name());
    }
    assert!(s.failures.is_empty(), "{}", s.render());
}

//! Timestamps for the fast path: CLOCK_MONOTONIC (what the Python cores'
//! `time.monotonic_ns` reads) costs ~16-30 ns through the vDSO here, more
//! than a quarter of a record; the x86 time-stamp counter costs about half
//! of that. So, where the kernel itself uses the TSC as its clock source
//! (then it is invariant and synchronised across CPUs), a timestamp is the
//! monotonic clock extrapolated from the last calibration point by TSC
//! ticks at the rate measured between the last two calibrations — one per
//! flush, at most 25 ms apart, so the drift between them (NTP slews the
//! monotonic clock by at most 500 ppm) stays within microseconds. Until a
//! rate is known, and elsewhere, the clock is read directly.
//!
//! A timestamp never goes back from the previous one this clock gave; the
//! recorder keeps timestamps non-decreasing along the sequence across the
//! Python cores' too (wire/mod.rs).

/// CLOCK_MONOTONIC in ns.
pub fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC always
    // exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

#[cfg(target_arch = "x86_64")]
fn ticks() -> u64 {
    // SAFETY: RDTSC exists on every x86_64 CPU and has no preconditions.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
fn ticks() -> u64 {
    0
}

/// The fast path's clock.
pub struct Clock {
    /// The TSC may be used (x86_64, kernel clock source `tsc`).
    tsc: bool,
    /// The last calibration point.
    ref_ticks: u64,
    ref_ns: i64,
    /// ns per tick × 2^32, once measured.
    mult: Option<u64>,
    /// The last timestamp given.
    last: i64,
}

impl Clock {
    /// A clock; the TSC is used only where the kernel keeps time with it.
    pub fn new() -> Clock {
        let tsc = cfg!(target_arch = "x86_64")
            && std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .is_ok_and(|s| s.trim() == "tsc");
        let (ref_ticks, ref_ns) = pair();
        Clock {
            tsc,
            ref_ticks,
            ref_ns,
            mult: None,
            last: 0,
        }
    }

    /// Now, in monotonic ns.
    #[inline(always)]
    pub fn now(&mut self) -> i64 {
        let t = match self.mult {
            Some(mult) if self.tsc => {
                let d = ticks().wrapping_sub(self.ref_ticks);
                self.ref_ns + ((u128::from(d) * u128::from(mult)) >> 32) as i64
            }
            _ => monotonic_ns(),
        };
        let t = t.max(self.last);
        self.last = t;
        t
    }

    /// A new calibration point (at each flush): the rate over the interval
    /// since the previous one, if it is long enough to measure and
    /// plausible (0.1–20 GHz).
    pub fn calibrate(&mut self) {
        if !self.tsc {
            return;
        }
        let (t, n) = pair();
        let (dt, dn) = (t.wrapping_sub(self.ref_ticks), n - self.ref_ns);
        if dn >= 1_000_000 && dt > 0 {
            let mult = ((dn as u128) << 32) / u128::from(dt);
            self.mult = ((1u128 << 32) / 20..=(10u128 << 32))
                .contains(&mult)
                .then_some(mult as u64);
        }
        if dn >= 1_000_000 || self.mult.is_none() {
            self.ref_ticks = t;
            self.ref_ns = n;
        }
    }
}

/// A (ticks, ns) pair read together: the ticks halfway between two reads
/// around the clock.
fn pair() -> (u64, i64) {
    let a = ticks();
    let n = monotonic_ns();
    let b = ticks();
    (a + b.wrapping_sub(a) / 2, n)
}

//! [`RedrawThrottler`]: which frames a display refreshing at a fixed rate
//! would have drawn while the program ran.
//!
//! Capture storage and display refresh are separate: every record goes into
//! its probe's history, and the display redraws at most once per refresh
//! tick. The refresh ticks are at `k / fps` seconds after the recording
//! started; the frame at tick `k` shows every record captured at or before
//! that time. A frame is drawn only at ticks in which at least one probe got
//! new data (its *dirty* probes), and the last frame holds every record.
//!
//! Records are fed in seq order. Capture times can step back slightly
//! between threads; a record is never shown before a record with a smaller
//! seq, so the time used is the running maximum of the capture times. That
//! keeps every frame's history a prefix, in seq order, of the complete one.
//! The schedule is a pure function of the records and `fps`: the same log
//! gives the same frames.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::Serialize;

use crate::history::buffer::ProbeDataBuffer;

/// One frame of the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// Position in the schedule (0-based).
    pub index: usize,
    /// Refresh tick number (`time = tick / fps`).
    pub tick: u64,
    /// Time of the tick, ns since the recording started.
    pub time_ns: u64,
    /// Records of each probe shown (index = probe id; probes not fed stay 0).
    pub counts: Vec<u64>,
    /// Probes that got new data since the previous frame.
    pub dirty: Vec<u32>,
    /// True for the last frame (it shows every record).
    pub is_final: bool,
}

/// Groups records into refresh ticks; see the module docs.
#[derive(Debug, Clone)]
pub struct RedrawThrottler {
    fps: u32,
    counts: Vec<u64>,
    dirty: Vec<bool>,
    any_dirty: bool,
    latest_ts: u64,
    tick: u64,
    frames: Vec<Frame>,
    /// Frames emitted (kept or not).
    emitted: usize,
    /// Keep at most this many frames (the rest are only counted).
    keep: usize,
}

impl RedrawThrottler {
    /// A throttler for a display refreshing `fps` times a second (at least
    /// 1), with `probes` probes.
    pub fn new(fps: u32, probes: usize) -> Self {
        RedrawThrottler {
            fps: fps.max(1),
            counts: vec![0; probes],
            dirty: vec![false; probes],
            any_dirty: false,
            latest_ts: 0,
            tick: 0,
            frames: Vec::new(),
            emitted: 0,
            keep: usize::MAX,
        }
    }

    /// The first tick at or after `ts_ns`.
    pub fn tick_of(&self, ts_ns: u64) -> u64 {
        let num = u128::from(ts_ns) * u128::from(self.fps);
        num.div_ceil(1_000_000_000) as u64
    }

    /// Time of tick `k` in ns (rounded up).
    pub fn time_of(&self, tick: u64) -> u64 {
        (u128::from(tick) * 1_000_000_000).div_ceil(u128::from(self.fps)) as u64
    }

    /// A record of `probe` captured at `ts_ns`, in seq order.
    pub fn push(&mut self, probe: u32, ts_ns: u64) {
        self.latest_ts = self.latest_ts.max(ts_ns);
        let tick = self.tick_of(self.latest_ts);
        if self.any_dirty && tick != self.tick {
            self.emit();
        }
        self.tick = tick;
        let p = probe as usize;
        if p >= self.counts.len() {
            self.counts.resize(p + 1, 0);
            self.dirty.resize(p + 1, false);
        }
        self.counts[p] += 1;
        self.dirty[p] = true;
        self.any_dirty = true;
    }

    fn emit(&mut self) {
        let dirty = self
            .dirty
            .iter()
            .enumerate()
            .filter(|(_, d)| **d)
            .map(|(p, _)| p as u32)
            .collect();
        self.dirty.iter_mut().for_each(|d| *d = false);
        self.any_dirty = false;
        self.emitted += 1;
        if self.frames.len() >= self.keep {
            return;
        }
        self.frames.push(Frame {
            index: self.frames.len(),
            tick: self.tick,
            time_ns: self.time_of(self.tick),
            counts: self.counts.clone(),
            dirty,
            is_final: false,
        });
    }

    /// The schedule: every frame, the last marked final. With no records at
    /// all it is one (empty) final frame.
    pub fn finish(mut self) -> Vec<Frame> {
        if self.any_dirty || self.emitted == 0 {
            self.emit();
        }
        if let Some(last) = self.frames.last_mut() {
            last.is_final = true;
        }
        self.frames
    }

    /// The schedule for the histories of `buffers` (index = probe id),
    /// merged in seq order.
    pub fn schedule(fps: u32, buffers: &[ProbeDataBuffer]) -> Vec<Frame> {
        Self::run(RedrawThrottler::new(fps, buffers.len()), buffers).finish()
    }

    /// How many frames [`RedrawThrottler::schedule`] would give, without
    /// holding them (each frame holds a count per probe: a replay checks
    /// how many there are, and what they cost, before it builds them).
    pub fn count(fps: u32, buffers: &[ProbeDataBuffer]) -> usize {
        let mut t = RedrawThrottler::new(fps, buffers.len());
        t.keep = 0;
        let mut t = Self::run(t, buffers);
        if t.any_dirty || t.emitted == 0 {
            t.emit();
        }
        t.emitted
    }

    fn run(mut t: RedrawThrottler, buffers: &[ProbeDataBuffer]) -> RedrawThrottler {
        let live: Vec<usize> = (0..buffers.len())
            .filter(|&p| !buffers[p].is_empty())
            .collect();
        if let [p] = live[..] {
            for &ts in buffers[p].timestamps() {
                t.push(p as u32, ts);
            }
            return t;
        }
        let mut at = vec![0usize; buffers.len()];
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> = live
            .iter()
            .map(|&p| Reverse((buffers[p].seqs()[0], p)))
            .collect();
        while let Some(Reverse((_, p))) = heap.pop() {
            let b = &buffers[p];
            let i = at[p];
            t.push(p as u32, b.timestamps()[i]);
            at[p] = i + 1;
            if let Some(&next) = b.seqs().get(i + 1) {
                heap.push(Reverse((next, p)));
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Status, Value};

    #[test]
    fn records_in_one_tick_make_one_frame() {
        let mut t = RedrawThrottler::new(10, 2); // ticks every 100 ms
        for (p, ts) in [(0, 1), (1, 50_000_000), (0, 100_000_000), (0, 100_000_001)] {
            t.push(p, ts);
        }
        let f = t.finish();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].tick, 1);
        assert_eq!(f[0].counts, vec![2, 1]);
        assert_eq!(f[0].dirty, vec![0, 1]);
        assert_eq!(f[0].time_ns, 100_000_000);
        assert!(!f[0].is_final);
        assert_eq!(f[1].tick, 2);
        assert_eq!(f[1].counts, vec![3, 1]);
        assert_eq!(f[1].dirty, vec![0]);
        assert!(f[1].is_final);
    }

    #[test]
    fn a_timestamp_stepping_back_never_reorders_frames() {
        let mut t = RedrawThrottler::new(10, 1);
        t.push(0, 250_000_000);
        t.push(0, 90_000_000); // earlier clock reading from another thread
        t.push(0, 310_000_000);
        let f = t.finish();
        let ticks: Vec<u64> = f.iter().map(|f| f.tick).collect();
        assert_eq!(ticks, vec![3, 4]);
        assert_eq!(f[0].counts, vec![2]);
    }

    #[test]
    fn no_records_give_one_empty_final_frame() {
        let f = RedrawThrottler::new(60, 3).finish();
        assert_eq!(f.len(), 1);
        assert!(f[0].is_final);
        assert_eq!(f[0].counts, vec![0, 0, 0]);
    }

    #[test]
    fn schedule_merges_probes_by_seq() {
        let mut a = ProbeDataBuffer::default();
        let mut b = ProbeDataBuffer::default();
        // At 60 fps: ticks 1, 2 and 3.
        a.push_record(0, 10, Status::Ok, Value::Int(1));
        b.push_record(1, 20_000_000, Status::Ok, Value::Int(2));
        a.push_record(2, 40_000_000, Status::Ok, Value::Int(3));
        let f = RedrawThrottler::schedule(60, &[a, b]);
        let counts: Vec<Vec<u64>> = f.iter().map(|f| f.counts.clone()).collect();
        assert_eq!(counts, vec![vec![1, 0], vec![1, 1], vec![2, 1]]);
    }
}

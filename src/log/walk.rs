//! Reading a log's records: the one walk every command consumes.
//!
//! A [`Walk`] goes through the frames a log's [`Plan`] accepted, in seq
//! order, decodes each block (through [`LogReader::decode_block`], which
//! enforces every bound), joins placeholders with their completions
//! ([`Completions`]), and keeps the accounts: records read, frames that
//! did not decode, placeholders never completed. [`Walk::finish`] turns
//! them, with the scan's damage and the plan's misplaced frames, into one
//! [`ReadReport`] — the same words for the same damage in `info`,
//! `replay`, `diff` and `export`. (`verify` walks the same plan with raw,
//! unjoined blocks: its job is the placeholders and completions themselves.)
//!
//! Blocks come one at a time ([`Walk::next_block`], for streaming
//! consumers such as `diff` and `info`) or decoded in parallel and handed
//! over in seq order ([`Walk::par_units`], for `replay` and `export`), with
//! as many in flight as the memory budget allows.

use std::collections::HashMap;
use std::ops::ControlFlow;

use rayon::prelude::*;
use serde::Serialize;

use crate::log::block::{BlockCodec, RecordBlock, BLOCK_BYTES_PER_RECORD};
use crate::log::coverage::{lost_captures, lost_values, Coverage, Problem};
use crate::log::error::ViolationKind;
use crate::log::limits::Charge;
use crate::log::reader::{FrameInfo, LogReader};
use crate::log::LogError;
use crate::model::{Status, Value};

/// Every completion entry of a log, by the seq of the placeholder it
/// completes (the first entry wins when a seq is completed twice; `verify`
/// reports that).
#[derive(Debug, Default)]
pub struct Completions {
    map: HashMap<u64, (Status, Value)>,
    failed: Vec<(FrameInfo, LogError)>,
    _charge: Charge,
}

impl Completions {
    /// Collect the completions of `reader` (only frames whose header says
    /// they hold some are decoded, and only their completion entries).
    /// Fails only when they do not fit the memory budget; frames that do
    /// not decode are remembered for the report.
    pub fn load(reader: &LogReader) -> Result<Completions, LogError> {
        let mut c = Completions {
            _charge: Charge::on(reader.budget()),
            ..Completions::default()
        };
        let mut codec = BlockCodec::new();
        for f in reader.plan().with_completions() {
            match reader.decode_completions(f, &mut codec, &mut c._charge) {
                Ok(list) => {
                    // The entries were charged as they decoded; the map
                    // grows without aborting.
                    c.map
                        .try_reserve(list.len())
                        .map_err(|_| LogError::OverBudget {
                            what: "the completions of the log".to_string(),
                            needed: c._charge.bytes(),
                            budget: reader.budget().limit(),
                        })?;
                    for x in list {
                        c.map.entry(x.seq).or_insert((x.status, x.value));
                    }
                }
                Err(e) if e.is_resource() => return Err(e),
                Err(e) => c.failed.push((*f, e)),
            }
        }
        Ok(c)
    }

    /// The final status and value of placeholder `seq`, if completed.
    pub fn get(&self, seq: u64) -> Option<&(Status, Value)> {
        self.map.get(&seq)
    }

    /// Number of completion entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the log completes no placeholder.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Give every placeholder of `b` that has a completion its final status
    /// and value; returns the placeholders left without one.
    pub fn join(&self, b: &mut RecordBlock) -> u64 {
        if !b.status.contains(&Status::Pending) {
            return 0;
        }
        let mut open = 0;
        for i in 0..b.len() {
            if b.status[i] == Status::Pending {
                match self.map.get(&(b.seq_start + i as u64)) {
                    Some((s, v)) => b.set(i, *s, v),
                    None => open += 1,
                }
            }
        }
        open
    }
}

/// What reading a log found besides its records: every problem, each
/// naming where, in the same words for every command.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ReadReport {
    /// Records read.
    pub records: u64,
    /// True when the log has an end marker.
    pub has_end: bool,
    /// Damage, gaps, misplaced frames, placeholders never completed,
    /// captures lost, a missing end marker.
    pub problems: Vec<Problem>,
}

impl ReadReport {
    /// True when what was read is the complete, ordered, undamaged record.
    pub fn is_clean(&self) -> bool {
        self.has_end && self.problems.is_empty()
    }

    /// The problems' messages.
    pub fn messages(&self) -> Vec<String> {
        self.problems.iter().map(|p| p.message.clone()).collect()
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A pass over a log's accepted frames; see the module docs.
pub struct Walk<'r> {
    reader: &'r LogReader,
    completions: Completions,
    coverage: Coverage,
    problems: Vec<Problem>,
    records: u64,
    unresolved: u64,
    next: usize,
    codec: BlockCodec,
    strict: bool,
}

impl LogReader {
    /// Start a pass over the records (loads the completions first).
    /// `strict`: a frame that does not decode ends the pass with its error
    /// (for commands that refuse damaged logs); otherwise it is reported
    /// and the pass goes on.
    pub fn walk(&self, strict: bool) -> Result<Walk<'_>, LogError> {
        let completions = Completions::load(self)?;
        if strict {
            if let Some((_, e)) = completions.failed.first() {
                return Err(e.clone_error());
            }
        }
        Ok(Walk {
            reader: self,
            completions,
            coverage: self.plan().coverage(),
            problems: Vec::new(),
            records: 0,
            unresolved: 0,
            next: 0,
            codec: BlockCodec::new(),
            strict,
        })
    }

    /// Every readable record in seq order, placeholders joined with their
    /// completions. A frame that cannot be decoded yields one `Err` (with
    /// its offset) and reading goes on with the next frame.
    pub fn records(&self) -> Records<'_> {
        Records {
            walk: self.walk(false),
            block: None,
            i: 0,
            done: false,
        }
    }

    /// The accepted frames' blocks in seq order, placeholders joined, with
    /// the error of each frame that did not decode.
    pub fn blocks(&self) -> Blocks<'_> {
        Blocks {
            walk: self.walk(false),
            done: false,
        }
    }
}

impl LogError {
    /// A copy of the error (an I/O error's copy keeps its kind and text).
    pub fn clone_error(&self) -> LogError {
        match self {
            LogError::Io { op, path, error } => LogError::Io {
                op,
                path: path.clone(),
                error: std::io::Error::new(error.kind(), error.to_string()),
            },
            LogError::OutputExists { path } => LogError::OutputExists { path: path.clone() },
            LogError::BadOutput { path, reason } => LogError::BadOutput {
                path: path.clone(),
                reason: reason.clone(),
            },
            LogError::DiskFull { path, len } => LogError::DiskFull {
                path: path.clone(),
                len: *len,
            },
            LogError::BadMagic { found } => LogError::BadMagic {
                found: found.clone(),
            },
            LogError::UnsupportedVersion { found, supported } => LogError::UnsupportedVersion {
                found: *found,
                supported: *supported,
            },
            LogError::Truncated { offset, detail } => LogError::Truncated {
                offset: *offset,
                detail: detail.clone(),
            },
            LogError::Checksum { offset, detail } => LogError::Checksum {
                offset: *offset,
                detail: detail.clone(),
            },
            LogError::Damaged { offset, detail } => LogError::Damaged {
                offset: *offset,
                detail: detail.clone(),
            },
            LogError::Undecodable { offset, detail } => LogError::Undecodable {
                offset: *offset,
                detail: detail.clone(),
            },
            LogError::Invalid(s) => LogError::Invalid(s.clone()),
            LogError::NotAFile { path, what } => LogError::NotAFile {
                path: path.clone(),
                what,
            },
            LogError::OverBudget {
                what,
                needed,
                budget,
            } => LogError::OverBudget {
                what: what.clone(),
                needed: *needed,
                budget: *budget,
            },
            LogError::BadField { offset, detail } => LogError::BadField {
                offset: *offset,
                detail: detail.clone(),
            },
            LogError::TooDense {
                records,
                frame_bytes,
                what,
                limit,
            } => LogError::TooDense {
                records: *records,
                frame_bytes: *frame_bytes,
                what,
                limit: *limit,
            },
        }
    }
}

/// A unit of frames decoded together by [`Walk::par_units`]: their
/// blocks, placeholders joined, in seq order.
pub type Unit = Vec<(FrameInfo, RecordBlock)>;

impl<'r> Walk<'r> {
    /// The log being read.
    pub fn reader(&self) -> &'r LogReader {
        self.reader
    }

    /// The log's completions.
    pub fn completions(&self) -> &Completions {
        &self.completions
    }

    /// A frame that did not decode: its records go back to the gaps; the
    /// error is returned (strict, or over budget: the walk cannot go on)
    /// or reported.
    fn failed(&mut self, f: &FrameInfo, e: LogError) -> Result<(), LogError> {
        self.coverage.unclaim(f);
        if self.strict || e.is_resource() {
            return Err(e);
        }
        self.problems.push(Problem::from(&e));
        Ok(())
    }

    /// The next block in seq order, placeholders joined, or the error of a
    /// frame that did not decode. A strict walk (or one over budget) ends
    /// after its first error; a lenient one has reported it in the
    /// [`ReadReport`] already and goes on with the next frame.
    pub fn next_block(&mut self) -> Option<Result<(FrameInfo, RecordBlock), LogError>> {
        let reader = self.reader;
        let f = reader.plan().accepted().get(self.next)?;
        self.next += 1;
        match reader.decode_block(f, &mut self.codec) {
            Ok(mut b) => {
                self.unresolved += self.completions.join(&mut b);
                self.records += b.len() as u64;
                Some(Ok((*f, b)))
            }
            Err(e) => {
                let copy = e.clone_error();
                if let Err(e) = self.failed(f, e) {
                    self.next = usize::MAX;
                    return Some(Err(e));
                }
                Some(Err(copy))
            }
        }
    }

    /// Decode the remaining accepted frames in parallel, `per_unit` frames
    /// to a unit: `map(unit_index, unit)` runs on worker threads, `each`
    /// gets the results in seq order on this thread (and may stop the
    /// walk). As many units are in flight as the memory budget allows (at
    /// most four per thread, at least one).
    pub fn par_units<T, M, E>(
        &mut self,
        per_unit: usize,
        map: M,
        mut each: E,
    ) -> Result<(), LogError>
    where
        T: Send,
        M: Fn(usize, Unit) -> T + Sync,
        E: FnMut(T) -> ControlFlow<()>,
    {
        self.par_windows(per_unit, map, |outs| {
            for t in outs {
                each(t)?;
            }
            ControlFlow::Continue(())
        })
    }

    /// [`Walk::par_units`], handing over each window of units in flight at
    /// once (in seq order), for consumers that work on a window in parallel
    /// themselves.
    pub fn par_windows<T, M, E>(
        &mut self,
        per_unit: usize,
        map: M,
        mut each: E,
    ) -> Result<(), LogError>
    where
        T: Send,
        M: Fn(usize, Unit) -> T + Sync,
        E: FnMut(Vec<T>) -> ControlFlow<()>,
    {
        let reader = self.reader;
        let frames = &reader.plan().accepted()[self.next.min(reader.plan().accepted().len())..];
        self.next = usize::MAX;
        let units: Vec<&[FrameInfo]> = frames.chunks(per_unit.max(1)).collect();
        // What one unit may hold while decoded: its payloads, its columns,
        // and as much again for what the consumer builds from it.
        let cost = |u: &[FrameInfo]| -> u64 {
            u.iter()
                .map(|f| 2 * (u64::from(f.header.raw_len) + f.records() * BLOCK_BYTES_PER_RECORD))
                .sum::<u64>()
                .max(1)
        };
        let share = reader
            .budget()
            .limit()
            .saturating_sub(reader.budget().used())
            / 2;
        // Lent to the workers while this thread updates the accounts.
        let completions = std::mem::take(&mut self.completions);
        let result = self.run_windows(&units, cost, share, &completions, &map, &mut each);
        self.completions = completions;
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn run_windows<T, M, E>(
        &mut self,
        units: &[&[FrameInfo]],
        cost: impl Fn(&[FrameInfo]) -> u64,
        share: u64,
        completions: &Completions,
        map: &M,
        each: &mut E,
    ) -> Result<(), LogError>
    where
        T: Send,
        M: Fn(usize, Unit) -> T + Sync,
        E: FnMut(Vec<T>) -> ControlFlow<()>,
    {
        let reader = self.reader;
        let threads = rayon::current_num_threads().max(1);
        let mut at = 0usize;
        while at < units.len() {
            let mut window = 0usize;
            let mut spent = 0u64;
            while at + window < units.len() && window < threads * 4 {
                let c = cost(units[at + window]);
                if window > 0 && spent + c > share {
                    break;
                }
                spent += c;
                window += 1;
            }
            // Each unit is decoded and mapped by the same task, while its
            // blocks are still in cache; the accounts are kept from what
            // decoded, and failures are taken in seq order afterwards (a
            // strict walk then stops at the first, its window's maps wasted).
            type Done<T> = (T, Vec<(FrameInfo, LogError)>, u64, u64);
            let results: Vec<Done<T>> = units[at..at + window]
                .par_iter()
                .enumerate()
                .map_init(BlockCodec::new, |codec, (k, unit)| {
                    let mut ok = Vec::with_capacity(unit.len());
                    let mut bad = Vec::new();
                    let (mut open, mut records) = (0, 0);
                    for f in unit.iter() {
                        match reader.decode_block(f, codec) {
                            Ok(mut b) => {
                                open += completions.join(&mut b);
                                records += b.len() as u64;
                                ok.push((*f, b));
                            }
                            Err(e) => bad.push((*f, e)),
                        }
                    }
                    (map(at + k, ok), bad, open, records)
                })
                .collect();
            let mut outs: Vec<T> = Vec::with_capacity(results.len());
            for (t, bad, open, records) in results {
                for (f, e) in bad {
                    self.failed(&f, e)?;
                }
                self.unresolved += open;
                self.records += records;
                outs.push(t);
            }
            if each(outs).is_break() {
                return Ok(());
            }
            at += window;
        }
        Ok(())
    }

    /// The report: the scan's damage, misplaced frames, frames that did not
    /// decode, gaps, placeholders never completed, captures the end marker
    /// says were lost, a missing end marker.
    pub fn finish(self) -> ReadReport {
        let r = self.reader;
        let mut problems: Vec<Problem> = r.issues().iter().map(Problem::from).collect();
        problems.extend(r.plan().problems().iter().cloned());
        for (f, e) in &self.completions.failed {
            // Frames with records report their failure when they are read.
            if f.records() == 0 {
                problems.push(Problem::from(e));
            }
        }
        problems.extend(self.problems);
        let total = r.end().map(|e| e.total_records);
        let tail = r.end_offset().unwrap_or_else(|| r.data_end());
        problems.extend(
            self.coverage
                .gaps(total, r.plan().meta_end(), tail)
                .iter()
                .map(|g| g.problem()),
        );
        if self.unresolved > 0 {
            problems.push(Problem::new(
                ViolationKind::PlaceholderNotCompleted,
                0,
                None,
                format!(
                    "{} placeholder{} never completed (shown as gaps)",
                    self.unresolved,
                    plural(self.unresolved)
                ),
            ));
        }
        if let Some(end) = r.end() {
            if let Some(lost) = lost_captures(end) {
                problems.push(Problem::new(
                    ViolationKind::RecordsLost,
                    r.end_offset().unwrap_or(0),
                    Some(end.total_records),
                    lost,
                ));
            }
            if let Some(lost) = lost_values(end) {
                problems.push(Problem::new(
                    ViolationKind::ValuesLost,
                    r.end_offset().unwrap_or(0),
                    None,
                    lost,
                ));
            }
        } else {
            problems.push(Problem::new(
                ViolationKind::Incomplete,
                r.data_end(),
                None,
                incomplete_message(self.records, r.data_end()),
            ));
        }
        ReadReport {
            records: self.records,
            has_end: r.end().is_some(),
            problems,
        }
    }
}

/// What every reader says about a log without an end marker.
pub fn incomplete_message(records: u64, data_end: u64) -> String {
    format!(
        "incomplete: no end marker (program killed or recorder died); {records} records readable up to offset {data_end}"
    )
}

/// Iterator over records; see [`LogReader::records`].
pub struct Records<'a> {
    walk: Result<Walk<'a>, LogError>,
    block: Option<RecordBlock>,
    i: usize,
    done: bool,
}

impl Iterator for Records<'_> {
    type Item = Result<crate::model::CaptureRecord, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if let Some(b) = &self.block {
                if self.i < b.len() {
                    let r = b.record(self.i);
                    self.i += 1;
                    return Some(Ok(r));
                }
            }
            self.block = None;
            self.i = 0;
            let walk = match &mut self.walk {
                Ok(w) => w,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.clone_error()));
                }
            };
            match walk.next_block() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Ok((_, b))) => self.block = Some(b),
                Some(Err(e)) => return Some(Err(e)),
            }
        }
    }
}

/// Iterator over blocks; see [`LogReader::blocks`].
pub struct Blocks<'a> {
    walk: Result<Walk<'a>, LogError>,
    done: bool,
}

impl Iterator for Blocks<'_> {
    type Item = Result<(FrameInfo, RecordBlock), LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match &mut self.walk {
            Ok(w) => {
                let r = w.next_block();
                if r.is_none() {
                    self.done = true;
                }
                r
            }
            Err(e) => {
                self.done = true;
                Some(Err(e.clone_error()))
            }
        }
    }
}

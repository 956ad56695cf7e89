//! `probe diff A B`: compare two traces probe by probe (SPEC §8).
//!
//! Probes are paired by identity ([`matching`]); each pair's value
//! sequences are compared in seq order ([`compare`] has the tolerance
//! rules). Both logs are memory-mapped and decoded block by block on two
//! threads (one per trace) while this thread walks both record streams side
//! by side. When the traces have the same shape — the usual case, a re-run
//! of the same program — record k of A meets record k of B and is compared
//! at once, so memory stays at a few blocks; where one trace has extra
//! records of a probe, that probe's values wait in a queue until their
//! partners arrive (memory then grows with the skew, not with the traces).
//!
//! The first divergence of each probe is kept with its batch: after the
//! pass, the block holding it is decoded again in each trace to show the
//! other records of the same trigger.

pub mod ci;
pub mod compare;
pub mod matching;
pub mod plot;
mod render;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};

use serde::Serialize;

use crate::log::block::BlockCodec;
use crate::log::format::{tag, FrameKind};
use crate::log::{LogError, LogReader, RecordBlock};
use crate::model::{Status, Value};

pub use compare::Tolerance;
pub use matching::{match_probes, Matching, Pair};

/// What to compare and how.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Trace A: the reference (the golden trace).
    pub a: PathBuf,
    /// Trace B: the trace under test.
    pub b: PathBuf,
    /// `--map OLD=NEW` rules for renamed files (A's file OLD is B's NEW).
    pub maps: Vec<(String, String)>,
    /// Pair probes left unmatched by (file, name, role) when unambiguous.
    pub ignore_lines: bool,
    /// Tolerances.
    pub tol: Tolerance,
    /// Compare timestamps too: `Some(tol_ns)` makes a record differ when
    /// its `ts_ns` (time since its recording started) differs by more.
    pub timestamps: Option<u64>,
    /// Compare the readable records of incomplete or damaged traces
    /// instead of refusing them.
    pub allow_incomplete: bool,
}

/// Why two traces cannot be compared (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A trace cannot be read at all.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The trace.
        path: PathBuf,
        /// What is wrong with it.
        source: LogError,
    },
    /// A trace is incomplete or damaged.
    #[error("{path} is incomplete: {why}; a diff against it would report records the run never lost as missing (use --allow-incomplete to compare its {records} readable records)")]
    Incomplete {
        /// The trace.
        path: PathBuf,
        /// Missing end marker, or the first damage found.
        why: String,
        /// Records that could be read.
        records: u64,
    },
    /// The traces are of different programs, or share no probe.
    #[error("incomparable traces: {0}")]
    Incomparable(String),
}

/// One trace, as the report describes it.
#[derive(Debug, Clone, Serialize)]
pub struct TraceSummary {
    /// Path given.
    pub path: String,
    /// The traced command.
    pub command: Vec<String>,
    /// Records read.
    pub records: u64,
    /// The trace has its end marker and no damage.
    pub complete: bool,
    /// Why not, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

/// One record, rendered for the report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Shown {
    /// Sequence number.
    pub seq: u64,
    /// Nanoseconds since the recording started.
    pub ts_ns: u64,
    /// Probe label.
    pub probe: String,
    /// Position in its batch.
    pub order: u16,
    /// Status.
    pub status: &'static str,
    /// Value kind.
    pub kind: &'static str,
    /// The value, rendered.
    pub value: String,
}

/// Where a probe's sequences first disagree.
#[derive(Debug, Clone, Serialize)]
pub struct Divergence {
    /// Position in the probe's value sequence (0-based).
    pub index: u64,
    /// What differs.
    pub reason: String,
    /// A's record at that position (`None`: A has only `index` values).
    pub a: Option<Shown>,
    /// B's record at that position.
    pub b: Option<Shown>,
    /// The records of A's batch (same trigger) around it.
    pub batch_a: Vec<Shown>,
    /// The records of B's batch.
    pub batch_b: Vec<Shown>,
}

/// The comparison of one pair of probes.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeDiff {
    /// A's probe label.
    pub a: String,
    /// B's probe label.
    pub b: String,
    /// How they were paired: `identity`, `map` or `name`.
    pub matched_by: &'static str,
    /// Records of the probe in A.
    pub count_a: u64,
    /// Records of the probe in B.
    pub count_b: u64,
    /// Value pairs compared (the shorter count).
    pub compared: u64,
    /// Pairs that differ beyond tolerance.
    pub differing: u64,
    /// Largest absolute difference over numeric pairs (finite ones).
    pub max_abs: Option<f64>,
    /// Largest relative difference `|b - a| / |a|` (JSON null when infinite).
    pub max_rel: Option<f64>,
    /// First disagreement (values, statuses, or one sequence ending early).
    pub first: Option<Divergence>,
    /// Counts equal and every pair within tolerance.
    pub same: bool,
}

/// A probe found in one trace only.
#[derive(Debug, Clone, Serialize)]
pub struct Unmatched {
    /// Its label.
    pub probe: String,
    /// Its spec as recorded.
    pub spec: String,
    /// Its records.
    pub count: u64,
}

/// Settings echoed in the report.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// NaN equals NaN.
    pub nan_equal: bool,
    /// Timestamp tolerance in ns, when timestamps are compared.
    pub timestamps_ns: Option<u64>,
    /// `--ignore-lines`.
    pub ignore_lines: bool,
    /// `--map` rules.
    pub maps: Vec<String>,
}

/// What `probe diff` reports.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// Trace A (reference).
    pub a: TraceSummary,
    /// Trace B.
    pub b: TraceSummary,
    /// How values were compared.
    pub settings: Settings,
    /// Matched probes, in A's order.
    pub probes: Vec<ProbeDiff>,
    /// Probes only A has.
    pub only_in_a: Vec<Unmatched>,
    /// Probes only B has.
    pub only_in_b: Vec<Unmatched>,
    /// Frames that could not be decoded (only with `--allow-incomplete`).
    pub warnings: Vec<String>,
    /// True when every matched probe is the same and no probe is unmatched.
    pub same: bool,
}

impl DiffReport {
    /// 0 same, 1 different.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.same)
    }
}

/// A value waiting for its partner from the other trace.
struct Item {
    seq: u64,
    ts: u64,
    status: Status,
    value: Value,
}

struct First {
    index: u64,
    reason: String,
    a: Option<Item>,
    b: Option<Item>,
}

#[derive(Default)]
struct PairState {
    count_a: u64,
    count_b: u64,
    compared: u64,
    differing: u64,
    max_abs: Option<f64>,
    max_rel: Option<f64>,
    first: Option<First>,
    /// Values of one trace still waiting for the other's.
    queue: VecDeque<Item>,
    /// The queue holds A's values (else B's).
    queue_is_a: bool,
}

fn item(b: &RecordBlock, i: usize) -> Item {
    Item {
        seq: b.seq_start + i as u64,
        ts: b.ts[i],
        status: b.status[i],
        value: b.value(i),
    }
}

struct Comparer {
    tol: Tolerance,
    ts_tol: Option<u64>,
}

impl Comparer {
    /// Compare two items and fold the outcome into the pair's state.
    fn slow(&self, st: &mut PairState, a: Item, b: Item) {
        let index = st.compared;
        st.compared += 1;
        let mut reason = None;
        if a.status != b.status {
            reason = Some(format!(
                "status {} vs {}",
                a.status.as_str(),
                b.status.as_str()
            ));
        } else {
            let o = compare::compare(&a.value, &b.value, &self.tol);
            if let Some(d) = o.abs {
                st.max_abs = Some(st.max_abs.map_or(d, |m| m.max(d)));
            }
            if let Some(r) = o.rel {
                st.max_rel = Some(st.max_rel.map_or(r, |m| m.max(r)));
            }
            if !o.equal {
                reason = o.reason.or_else(|| Some("values differ".into()));
            }
        }
        if reason.is_none() {
            if let Some(tol) = self.ts_tol {
                if a.ts.abs_diff(b.ts) > tol {
                    reason = Some(format!("timestamp {} ns vs {} ns", a.ts, b.ts));
                }
            }
        }
        if let Some(reason) = reason {
            st.differing += 1;
            if st.first.is_none() {
                st.first = Some(First {
                    index,
                    reason,
                    a: Some(a),
                    b: Some(b),
                });
            }
        }
    }

    /// Record `ia` of A against record `ib` of B, both the next unpaired
    /// values of the same pair. Bit-identical plain scalars (the common
    /// case) are settled without building values.
    #[inline]
    fn direct(&self, st: &mut PairState, ba: &RecordBlock, ia: usize, bb: &RecordBlock, ib: usize) {
        let t = ba.tag[ia];
        let same_word = t < tag::COMPLEX
            && t == bb.tag[ib]
            && ba.num[ia] == bb.num[ib]
            && ba.status[ia] == bb.status[ib]
            && !(t == tag::FLOAT && !self.tol.nan_equal && f64::from_bits(ba.num[ia]).is_nan())
            && self
                .ts_tol
                .is_none_or(|tol| ba.ts[ia].abs_diff(bb.ts[ib]) <= tol);
        if same_word {
            st.compared += 1;
            if t >= tag::FALSE && st.max_abs.is_none() {
                st.max_abs = Some(0.0);
                st.max_rel = Some(0.0);
            }
        } else {
            self.slow(st, item(ba, ia), item(bb, ib));
        }
    }

    /// A value of one trace arrives for a pair whose queue may hold values.
    fn feed(&self, st: &mut PairState, it: Item, from_a: bool) {
        if !st.queue.is_empty() && st.queue_is_a != from_a {
            if let Some(other) = st.queue.pop_front() {
                if from_a {
                    self.slow(st, it, other);
                } else {
                    self.slow(st, other, it);
                }
            }
        } else {
            st.queue_is_a = from_a;
            st.queue.push_back(it);
        }
    }
}

/// A trace's blocks, decoded on their own thread.
struct Stream {
    rx: Receiver<Result<RecordBlock, LogError>>,
    block: Option<RecordBlock>,
    pos: usize,
    records: u64,
}

impl Stream {
    /// Make sure a block with unread records is current; false at the end.
    /// A frame that does not decode is an error when `strict`, else a warning.
    fn fill(
        &mut self,
        strict: bool,
        warnings: &mut Vec<String>,
        path: &Path,
    ) -> Result<bool, DiffError> {
        loop {
            if let Some(b) = &self.block {
                if self.pos < b.len() {
                    return Ok(true);
                }
            }
            self.block = None;
            self.pos = 0;
            match self.rx.recv() {
                Err(_) => return Ok(false),
                Ok(Ok(b)) => {
                    self.records += b.len() as u64;
                    self.block = Some(b);
                }
                Ok(Err(source)) if strict => {
                    return Err(DiffError::Unreadable {
                        path: path.to_path_buf(),
                        source,
                    })
                }
                Ok(Err(e)) => warnings.push(format!("{}: skipped a frame: {e}", path.display())),
            }
        }
    }
}

fn open(path: &Path, allow_incomplete: bool) -> Result<(LogReader, Option<String>), DiffError> {
    let r = LogReader::open(path).map_err(|source| DiffError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let why = r.incompleteness();
    if let Some(w) = &why {
        if !allow_incomplete {
            return Err(DiffError::Incomplete {
                path: path.to_path_buf(),
                why: w.clone(),
                records: r.readable_records(),
            });
        }
    }
    Ok((r, why))
}

/// Decode every RECORDS frame of `r` in order into `tx`, placeholders joined.
fn produce(
    r: &LogReader,
    tx: std::sync::mpsc::SyncSender<Result<RecordBlock, LogError>>,
    strict: bool,
) {
    let completions = r.completions();
    let mut codec = BlockCodec::new();
    for f in r.frames() {
        if !(f.intact && f.header.kind == FrameKind::Records) {
            continue;
        }
        let msg = r.decode_block(f, &mut codec).map(|mut b| {
            b.join_completions(&completions);
            b
        });
        let stop = strict && msg.is_err();
        if tx.send(msg).is_err() || stop {
            return;
        }
    }
}

/// Compare two traces. `Err` means they could not be compared (exit 2).
pub fn diff(opts: &DiffOptions) -> Result<DiffReport, DiffError> {
    let (ra, why_a) = open(&opts.a, opts.allow_incomplete)?;
    let (rb, why_b) = open(&opts.b, opts.allow_incomplete)?;
    let (ma, mb) = (ra.meta(), rb.meta());

    let prog_a = matching::program_name(&ma.command);
    let prog_b = matching::program_name(&mb.command);
    let prog_a_mapped = matching::mapped(&prog_a, &opts.maps)
        .and_then(|c| c.last().cloned())
        .unwrap_or_else(|| prog_a.clone());
    if prog_a_mapped != prog_b {
        return Err(DiffError::Incomparable(format!(
            "{} is a trace of `{}`, {} of `{}` (different programs; if the script was renamed, say so with --map {prog_a}={prog_b})",
            opts.a.display(),
            ma.command.join(" "),
            opts.b.display(),
            mb.command.join(" ")
        )));
    }
    let m = match_probes(&ma.probes, &mb.probes, &opts.maps, opts.ignore_lines);
    if m.pairs.is_empty() {
        let list = |r: &LogReader| {
            r.meta()
                .probes
                .iter()
                .map(|p| p.label())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(DiffError::Incomparable(format!(
            "no probe of {} ({}) matches a probe of {} ({}); use --map OLD=NEW for renamed files or --ignore-lines for moved lines",
            opts.a.display(),
            list(&ra),
            opts.b.display(),
            list(&rb)
        )));
    }

    let cmp = Comparer {
        tol: opts.tol,
        ts_tol: opts.timestamps,
    };
    let mut pair_of_a = vec![usize::MAX; ma.probes.len()];
    let mut pair_of_b = vec![usize::MAX; mb.probes.len()];
    for (k, p) in m.pairs.iter().enumerate() {
        pair_of_a[p.a as usize] = k;
        pair_of_b[p.b as usize] = k;
    }
    let mut states: Vec<PairState> = (0..m.pairs.len()).map(|_| PairState::default()).collect();
    let mut count_a = vec![0u64; ma.probes.len()];
    let mut count_b = vec![0u64; mb.probes.len()];
    let mut warnings = Vec::new();
    let strict = !opts.allow_incomplete;

    let result: Result<(u64, u64), DiffError> = std::thread::scope(|s| {
        let (txa, rxa) = sync_channel(4);
        let (txb, rxb) = sync_channel(4);
        s.spawn(|| produce(&ra, txa, strict));
        s.spawn(|| produce(&rb, txb, strict));
        let mut sa = Stream {
            rx: rxa,
            block: None,
            pos: 0,
            records: 0,
        };
        let mut sb = Stream {
            rx: rxb,
            block: None,
            pos: 0,
            records: 0,
        };
        let mut wa = Vec::new();
        let mut wb = Vec::new();
        loop {
            let ha = sa.fill(strict, &mut wa, &opts.a)?;
            let hb = sb.fill(strict, &mut wb, &opts.b)?;
            match (&sa.block, &sb.block) {
                (Some(ba), Some(bb)) if ha && hb => {
                    let n = (ba.len() - sa.pos).min(bb.len() - sb.pos);
                    for k in 0..n {
                        let (ia, ib) = (sa.pos + k, sb.pos + k);
                        let (pa, pb) = (ba.probe[ia] as usize, bb.probe[ib] as usize);
                        if let Some(c) = count_a.get_mut(pa) {
                            *c += 1;
                        }
                        if let Some(c) = count_b.get_mut(pb) {
                            *c += 1;
                        }
                        let ka = pair_of_a.get(pa).copied().unwrap_or(usize::MAX);
                        let kb = pair_of_b.get(pb).copied().unwrap_or(usize::MAX);
                        if ka == kb && ka != usize::MAX && states[ka].queue.is_empty() {
                            let st = &mut states[ka];
                            st.count_a += 1;
                            st.count_b += 1;
                            cmp.direct(st, ba, ia, bb, ib);
                        } else {
                            if ka != usize::MAX {
                                states[ka].count_a += 1;
                                cmp.feed(&mut states[ka], item(ba, ia), true);
                            }
                            if kb != usize::MAX {
                                states[kb].count_b += 1;
                                cmp.feed(&mut states[kb], item(bb, ib), false);
                            }
                        }
                    }
                    sa.pos += n;
                    sb.pos += n;
                }
                (Some(ba), _) if ha => {
                    for ia in sa.pos..ba.len() {
                        let pa = ba.probe[ia] as usize;
                        if let Some(c) = count_a.get_mut(pa) {
                            *c += 1;
                        }
                        if let Some(&k) = pair_of_a.get(pa).filter(|k| **k != usize::MAX) {
                            states[k].count_a += 1;
                            cmp.feed(&mut states[k], item(ba, ia), true);
                        }
                    }
                    sa.pos = ba.len();
                }
                (_, Some(bb)) if hb => {
                    for ib in sb.pos..bb.len() {
                        let pb = bb.probe[ib] as usize;
                        if let Some(c) = count_b.get_mut(pb) {
                            *c += 1;
                        }
                        if let Some(&k) = pair_of_b.get(pb).filter(|k| **k != usize::MAX) {
                            states[k].count_b += 1;
                            cmp.feed(&mut states[k], item(bb, ib), false);
                        }
                    }
                    sb.pos = bb.len();
                }
                _ => break,
            }
        }
        warnings.extend(wa);
        warnings.extend(wb);
        Ok((sa.records, sb.records))
    });
    let (records_a, records_b) = result?;

    // Values left in a queue are the longer trace's extra values.
    for st in &mut states {
        if st.first.is_none() && st.count_a != st.count_b {
            let extra = st.queue.pop_front();
            let (a, b) = if st.queue_is_a {
                (extra, None)
            } else {
                (None, extra)
            };
            st.first = Some(First {
                index: st.compared,
                reason: if st.count_a > st.count_b {
                    format!("B has only {} values, A has {}", st.count_b, st.count_a)
                } else {
                    format!("A has only {} values, B has {}", st.count_a, st.count_b)
                },
                a,
                b,
            });
        }
        st.queue.clear();
    }

    let labels_a = ma.unique_labels();
    let labels_b = mb.unique_labels();
    let ctx_a = Context::new(&ra, &labels_a);
    let ctx_b = Context::new(&rb, &labels_b);
    let probes: Vec<ProbeDiff> = m
        .pairs
        .iter()
        .zip(states)
        .map(|(p, st)| {
            let first = st.first.map(|f| Divergence {
                index: f.index,
                reason: f.reason,
                batch_a: f.a.as_ref().map_or_else(Vec::new, |i| ctx_a.batch(i.seq)),
                batch_b: f.b.as_ref().map_or_else(Vec::new, |i| ctx_b.batch(i.seq)),
                a: f.a
                    .map(|i| shown(&i, &labels_a[p.a as usize], ctx_a.order(i.seq))),
                b: f.b
                    .map(|i| shown(&i, &labels_b[p.b as usize], ctx_b.order(i.seq))),
            });
            ProbeDiff {
                a: labels_a[p.a as usize].clone(),
                b: labels_b[p.b as usize].clone(),
                matched_by: p.how,
                count_a: st.count_a,
                count_b: st.count_b,
                compared: st.compared,
                differing: st.differing,
                max_abs: st.max_abs,
                max_rel: st.max_rel,
                same: first.is_none(),
                first,
            }
        })
        .collect();
    let unmatched = |ids: &[u32], labels: &[String], r: &LogReader, counts: &[u64]| {
        ids.iter()
            .map(|&i| Unmatched {
                probe: labels[i as usize].clone(),
                spec: r.meta().probes[i as usize].spec.clone(),
                count: counts[i as usize],
            })
            .collect::<Vec<_>>()
    };
    let only_in_a = unmatched(&m.only_a, &labels_a, &ra, &count_a);
    let only_in_b = unmatched(&m.only_b, &labels_b, &rb, &count_b);
    let same = probes.iter().all(|p| p.same) && only_in_a.is_empty() && only_in_b.is_empty();
    let summary = |path: &Path, r: &LogReader, records, why: Option<String>| TraceSummary {
        path: path.display().to_string(),
        command: r.meta().command.clone(),
        records,
        complete: why.is_none(),
        incomplete: why,
    };
    Ok(DiffReport {
        a: summary(&opts.a, &ra, records_a, why_a),
        b: summary(&opts.b, &rb, records_b, why_b),
        settings: Settings {
            atol: opts.tol.atol,
            rtol: opts.tol.rtol,
            nan_equal: opts.tol.nan_equal,
            timestamps_ns: opts.timestamps,
            ignore_lines: opts.ignore_lines,
            maps: opts.maps.iter().map(|(o, n)| format!("{o}={n}")).collect(),
        },
        probes,
        only_in_a,
        only_in_b,
        warnings,
        same,
    })
}

fn shown(i: &Item, label: &str, order: u16) -> Shown {
    Shown {
        seq: i.seq,
        ts_ns: i.ts,
        probe: label.to_string(),
        order,
        status: i.status.as_str(),
        kind: i.value.kind(),
        value: compare::show(&i.value),
    }
}

/// Most records of a batch shown as context.
const MAX_BATCH_SHOWN: usize = 16;

/// Random access to one trace's records, for batch context after the pass.
struct Context<'a> {
    reader: &'a LogReader,
    labels: &'a [String],
    completions: std::cell::OnceCell<HashMap<u64, (Status, Value)>>,
}

impl<'a> Context<'a> {
    fn new(reader: &'a LogReader, labels: &'a [String]) -> Context<'a> {
        Context {
            reader,
            labels,
            completions: std::cell::OnceCell::new(),
        }
    }

    fn block_of(&self, seq: u64) -> Option<RecordBlock> {
        let f = self.reader.frames().iter().find(|f| {
            f.intact
                && f.header.kind == FrameKind::Records
                && f.header.seq_start <= seq
                && seq < f.header.seq_end
        })?;
        let mut b = self.reader.decode_block(f, &mut BlockCodec::new()).ok()?;
        if b.status.contains(&Status::Pending) {
            // Completions are needed only when the batch holds placeholders.
            b.join_completions(self.completions.get_or_init(|| self.reader.completions()));
        }
        Some(b)
    }

    fn order(&self, seq: u64) -> u16 {
        self.block_of(seq)
            .map_or(0, |b| b.order[(seq - b.seq_start) as usize])
    }

    /// The records of the batch (trigger) that holds `seq`.
    fn batch(&self, seq: u64) -> Vec<Shown> {
        let Some(b) = self.block_of(seq) else {
            return Vec::new();
        };
        let i = (seq - b.seq_start) as usize;
        let start = i.saturating_sub(usize::from(b.order[i]));
        let mut out = Vec::new();
        for j in start..b.len() {
            if (j > start && b.order[j] == 0) || out.len() == MAX_BATCH_SHOWN {
                break;
            }
            let it = item(&b, j);
            let label = self
                .labels
                .get(b.probe[j] as usize)
                .map_or("?", String::as_str);
            out.push(shown(&it, label, b.order[j]));
        }
        out
    }
}

pub use render::render_text;

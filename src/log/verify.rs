//! `probe verify`: check a log's integrity and its ordering guarantees (SPEC §6).
//!
//! Checks, in one pass over the columnar blocks:
//! - file header, frame header and payload checksums (damage found by the
//!   reader's scan, each with its offset);
//! - every seq in `0..N` exactly once (a gap is reported as
//!   "records S..E missing between offsets A and B");
//! - every placeholder completed exactly once, and no completion for
//!   anything that is not a placeholder;
//! - batch consistency: a batch is the run of records with order 0,1,…,k-1;
//!   all its records carry one timestamp and one thread;
//! - timestamps never decrease along seq;
//! - the END marker is present and its totals and per-probe counts equal
//!   what was read.
//!
//! Exit codes ([`VerifyReport::exit_code`]): 0 = all guarantees hold;
//! 1 = violations, which include damaged frames *and* a missing end marker
//! (completeness is a guarantee too; every intact record is still readable);
//! 2 = unreadable (not a probe log, newer version, header or META damaged).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::log::block::BlockCodec;
use crate::log::coverage::{lost_captures, lost_values, Problem};
use crate::log::error::ViolationKind;
use crate::log::format::{FrameKind, FILE_HEADER_LEN};
use crate::log::limits::Work;
use crate::log::meta::EndInfo;
use crate::log::reader::LogReader;
use crate::log::walk::incomplete_message;
use crate::log::LogError;
use crate::model::Status;
use crate::text::Esc;

/// At most this many violations are listed; the rest are only counted.
pub const MAX_LISTED: usize = 200;

/// One broken guarantee, with its location.
pub type Violation = Problem;

/// The outcome of verifying one log.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// All guarantees hold.
    pub ok: bool,
    /// The log has an intact end marker.
    pub complete: bool,
    /// Format version of the file (when readable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u16>,
    /// Number of probes in the probe table.
    pub probes: usize,
    /// Records read.
    pub records: u64,
    /// Frames found (including damaged ones).
    pub frames: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Placeholders read.
    pub placeholders: u64,
    /// Completion entries read.
    pub completions: u64,
    /// Values of a kind this reader does not know (newer writer): readable
    /// as `other`, not a violation.
    pub unknown_values: u64,
    /// The end marker, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<EndInfo>,
    /// Violations, in file order (at most [`MAX_LISTED`]).
    pub violations: Vec<Violation>,
    /// Violations found beyond the listed ones.
    pub violations_omitted: u64,
    /// Why the log could not be read at all (exit 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// Offset of the unreadable part, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable_offset: Option<u64>,
}

impl VerifyReport {
    /// The report of a log that cannot be read (or checked) at all.
    pub fn unreadable(bytes: u64, e: &LogError) -> Self {
        VerifyReport {
            ok: false,
            complete: false,
            format_version: None,
            probes: 0,
            records: 0,
            frames: 0,
            bytes,
            placeholders: 0,
            completions: 0,
            unknown_values: 0,
            end: None,
            violations: Vec::new(),
            violations_omitted: 0,
            unreadable: Some(e.to_string()),
            unreadable_offset: e.offset(),
        }
    }

    /// 0 = all guarantees hold, 1 = violations (incl. incomplete), 2 = unreadable.
    pub fn exit_code(&self) -> i32 {
        if self.unreadable.is_some() {
            2
        } else if !self.violations.is_empty() || self.violations_omitted > 0 {
            1
        } else {
            0
        }
    }
}

struct Collector {
    list: Vec<Violation>,
    omitted: u64,
}

impl Collector {
    fn add(&mut self, kind: ViolationKind, offset: u64, seq: Option<u64>, message: String) {
        self.push(Problem::new(kind, offset, seq, message));
    }

    fn push(&mut self, p: Problem) {
        if self.list.len() < MAX_LISTED {
            self.list.push(p);
        } else {
            self.omitted += 1;
        }
    }
}

/// Open and verify the log at `path`.
pub fn verify_path(path: &Path) -> VerifyReport {
    match LogReader::open(path) {
        Ok(r) => verify(&r),
        Err(e) => {
            let bytes = std::fs::symlink_metadata(path)
                .map(|m| m.len())
                .unwrap_or(0);
            VerifyReport::unreadable(bytes, &e)
        }
    }
}

/// State of one placeholder: where it was written, whether it got completed.
struct Placeholder {
    offset: u64,
    completed: bool,
    /// Its probe: a completion carries only the seq, and a value lost
    /// with the program's last message is counted against its probe.
    probe: u32,
}

/// Bytes a placeholder entry costs in the map (key, value, overhead).
const PLACEHOLDER_BYTES: u64 = 48;

/// Verify an opened log: one pass over the frames the reading layer
/// accepted (in seq order), with raw blocks — placeholders and completions
/// are what this checks, so nothing is joined.
pub fn verify(r: &LogReader) -> VerifyReport {
    match check(r) {
        Ok(rep) => rep,
        // Only a resource (the memory budget) stops the check: the log
        // may be fine, but it was not verified.
        Err(e) => VerifyReport::unreadable(r.file_len(), &e),
    }
}

fn check(r: &LogReader) -> Result<VerifyReport, LogError> {
    r.check_work(Work::Verify)?;
    let mut v = Collector {
        list: Vec::new(),
        omitted: 0,
    };
    for e in r.issues() {
        v.push(Problem::from(e));
    }
    for p in r.plan().problems() {
        v.push(p.clone());
    }
    // Frame order rules the plan does not cover.
    let mut seen_end = false;
    for f in r.frames() {
        match f.header.kind {
            FrameKind::Meta if f.offset != FILE_HEADER_LEN as u64 => v.add(
                ViolationKind::ExtraMeta,
                f.offset,
                None,
                format!("second META frame at offset {}", f.offset),
            ),
            FrameKind::End => {
                if seen_end {
                    v.add(
                        ViolationKind::ExtraEnd,
                        f.offset,
                        None,
                        format!("second END frame at offset {}", f.offset),
                    );
                }
                seen_end = true;
            }
            FrameKind::Records if seen_end => v.add(
                ViolationKind::AfterEnd,
                f.offset,
                Some(f.header.seq_start),
                format!("record frame at offset {} after the end marker", f.offset),
            ),
            _ => {}
        }
    }

    let n_probes = r.meta().probes.len();
    let mut per_probe = vec![0u64; n_probes];
    // Records whose value was lost (status `incomplete`, directly or by
    // their completion), per probe: which probes an end marker's
    // `lost_values` hit.
    let mut incomplete = vec![0u64; n_probes];
    let mut placeholders: HashMap<u64, Placeholder> = HashMap::new();
    let budget = r.budget();
    let mut held = 0u64;
    let (mut n_placeholders, mut n_completions, mut unknown) = (0u64, 0u64, 0u64);
    let mut records = 0u64;
    let mut coverage = r.plan().coverage();
    // (ts, thread, order) of the previous record, None after a gap.
    let mut prev: Option<(u64, u64, u16)> = None;
    let mut prev_end = 0u64;
    let mut codec = BlockCodec::new();

    for f in r.plan().accepted() {
        let b = match r.decode_block(f, &mut codec) {
            Ok(b) => b,
            Err(e) if e.is_resource() => return Err(e),
            Err(e) => {
                v.add(e.kind(), f.offset, Some(f.header.seq_start), e.to_string());
                coverage.unclaim(f);
                prev = None;
                continue;
            }
        };
        unknown += b.unknown_tags;
        if b.seq_start != prev_end {
            prev = None;
        }
        prev_end = b.seq_end();
        for i in 0..b.len() {
            let seq = b.seq_start + i as u64;
            // The decoder checked every probe id against the table.
            if let Some(c) = per_probe.get_mut(b.probe[i] as usize) {
                *c += 1;
            }
            if b.status[i] == Status::Incomplete {
                if let Some(c) = incomplete.get_mut(b.probe[i] as usize) {
                    *c += 1;
                }
            }
            if b.status[i] == Status::Pending {
                n_placeholders += 1;
                held += PLACEHOLDER_BYTES;
                let what = || "the placeholders verify tracks".to_string();
                budget.charge(PLACEHOLDER_BYTES, &what)?;
                if placeholders.len() == placeholders.capacity() {
                    // Grown without aborting (its entries are charged above).
                    placeholders
                        .try_reserve(placeholders.len().max(1024))
                        .map_err(|_| LogError::OverBudget {
                            what: what(),
                            needed: held * 2,
                            budget: budget.limit(),
                        })?;
                }
                placeholders.insert(
                    seq,
                    Placeholder {
                        offset: f.offset,
                        completed: false,
                        probe: b.probe[i],
                    },
                );
            }
            let (ts, th, ord) = (b.ts[i], b.thread[i], b.order[i]);
            if let Some((pts, pth, pord)) = prev {
                if ts < pts {
                    v.add(
                        ViolationKind::TimestampDecreases,
                        f.offset,
                        Some(seq),
                        format!(
                            "timestamp decreases at seq {seq} (offset {}): {ts} ns after {pts} ns",
                            f.offset
                        ),
                    );
                }
                if ord != 0 {
                    if u32::from(ord) != u32::from(pord) + 1 {
                        v.add(
                            ViolationKind::BatchOrder,
                            f.offset,
                            Some(seq),
                            format!(
                                "batch order {ord} at seq {seq} (offset {}) follows order {pord}",
                                f.offset
                            ),
                        );
                    }
                    if ts != pts || th != pth {
                        v.add(
                            ViolationKind::BatchMismatch,
                            f.offset,
                            Some(seq),
                            format!(
                                "seq {seq} (offset {}) is in the batch of seq {} but has {}",
                                f.offset,
                                seq.saturating_sub(1),
                                if ts != pts {
                                    format!("timestamp {ts} instead of {pts}")
                                } else {
                                    format!("thread {th} instead of {pth}")
                                }
                            ),
                        );
                    }
                }
            } else if ord != 0 && seq == 0 {
                v.add(
                    ViolationKind::BatchOrder,
                    f.offset,
                    Some(seq),
                    format!(
                        "seq {seq} (offset {}) has batch order {ord} but starts the log",
                        f.offset
                    ),
                );
            }
            prev = Some((ts, th, ord));
        }
        records += b.len() as u64;
        check_completions(
            &mut v,
            &mut placeholders,
            &b,
            f.offset,
            &mut n_completions,
            &mut incomplete,
        );
    }
    // Frames holding only completions (no records) are not in the plan's
    // accepted list; their completions count too.
    for f in r
        .plan()
        .with_completions()
        .iter()
        .filter(|f| f.records() == 0)
    {
        match r.decode_block(f, &mut codec) {
            Ok(b) => check_completions(
                &mut v,
                &mut placeholders,
                &b,
                f.offset,
                &mut n_completions,
                &mut incomplete,
            ),
            Err(e) if e.is_resource() => return Err(e),
            Err(e) => v.add(e.kind(), f.offset, None, e.to_string()),
        }
    }

    let end = r.end().cloned();
    let end_off = r.end_offset().unwrap_or(r.data_end());
    for g in coverage.gaps(
        end.as_ref().map(|e| e.total_records),
        r.plan().meta_end(),
        end_off,
    ) {
        v.push(g.problem());
    }
    if let Some(end) = &end {
        if end.total_records != records {
            v.add(
                ViolationKind::EndTotals,
                end_off,
                None,
                format!(
                    "end marker at offset {end_off} says {} records, {records} read",
                    end.total_records
                ),
            );
        }
        if end.per_probe != per_probe {
            let detail = describe_counts(&end.per_probe, &per_probe);
            v.add(
                ViolationKind::EndPerProbe,
                end_off,
                None,
                format!("end marker at offset {end_off}: per-probe counts differ: {detail}"),
            );
        }
        if end.placeholders != n_placeholders {
            v.add(
                ViolationKind::EndTotals,
                end_off,
                None,
                format!(
                    "end marker at offset {end_off} says {} placeholders, {n_placeholders} read",
                    end.placeholders
                ),
            );
        }
        if let Some(lost) = lost_captures(end) {
            v.add(
                ViolationKind::RecordsLost,
                end_off,
                Some(end.total_records),
                format!("end marker at offset {end_off}: {lost}"),
            );
        }
        if let Some(lost) = lost_values(end) {
            v.add(
                ViolationKind::ValuesLost,
                end_off,
                None,
                format!(
                    "end marker at offset {end_off}: {lost}{}",
                    incomplete_by_probe(r, &incomplete)
                ),
            );
        }
        if end.completions != n_completions {
            v.add(
                ViolationKind::EndTotals,
                end_off,
                None,
                format!(
                    "end marker at offset {end_off} says {} completions, {n_completions} read",
                    end.completions
                ),
            );
        }
    }
    let mut open: Vec<(u64, u64)> = placeholders
        .iter()
        .filter(|(_, p)| !p.completed)
        .map(|(s, p)| (*s, p.offset))
        .collect();
    open.sort_unstable();
    for (seq, off) in open {
        v.add(
            ViolationKind::PlaceholderNotCompleted,
            off,
            Some(seq),
            format!("placeholder seq {seq} (frame at offset {off}) never completed"),
        );
    }
    drop(placeholders);
    budget.release(held);
    if end.is_none() {
        v.add(
            ViolationKind::Incomplete,
            r.data_end(),
            None,
            incomplete_message(records, r.data_end()),
        );
    }
    v.list.sort_by_key(|x| x.offset);

    Ok(VerifyReport {
        ok: v.list.is_empty() && v.omitted == 0,
        complete: end.is_some(),
        format_version: Some(r.version()),
        probes: n_probes,
        records,
        frames: r.frames().len() as u64,
        bytes: r.file_len(),
        placeholders: n_placeholders,
        completions: n_completions,
        unknown_values: unknown,
        end,
        violations: v.list,
        violations_omitted: v.omitted,
        unreadable: None,
        unreadable_offset: None,
    })
}

/// A block's completion entries: each must complete a placeholder of an
/// earlier frame, once, with a final status.
fn check_completions(
    v: &mut Collector,
    placeholders: &mut HashMap<u64, Placeholder>,
    b: &crate::log::RecordBlock,
    offset: u64,
    n_completions: &mut u64,
    incomplete: &mut [u64],
) {
    for c in &b.completions {
        *n_completions += 1;
        let seq = c.seq;
        if c.status == Status::Pending {
            v.add(
                ViolationKind::BadCompletion,
                offset,
                Some(seq),
                format!("completion for seq {seq} at offset {offset} has status pending"),
            );
        }
        match placeholders.get_mut(&seq) {
            Some(ph) if seq < b.seq_start && ph.offset < offset => {
                if ph.completed {
                    v.add(
                        ViolationKind::DoubleCompletion,
                        offset,
                        Some(seq),
                        format!("placeholder seq {seq} completed a second time at offset {offset}"),
                    );
                }
                ph.completed = true;
                if c.status == Status::Incomplete {
                    if let Some(n) = incomplete.get_mut(ph.probe as usize) {
                        *n += 1;
                    }
                }
            }
            _ => v.add(
                ViolationKind::BadCompletion,
                offset,
                Some(seq),
                format!(
                    "completion at offset {offset} for seq {seq}, which is not a placeholder of an earlier frame"
                ),
            ),
        }
    }
}

/// `; incomplete records: x@lhs 3, y@rhs 1` — the probes whose records
/// say `incomplete` (their value was lost), by short label; empty when
/// none were read.
fn incomplete_by_probe(r: &LogReader, incomplete: &[u64]) -> String {
    let labels = crate::model::short_labels(&r.meta().probes);
    let hit: Vec<String> = incomplete
        .iter()
        .zip(&labels)
        .filter(|(n, _)| **n > 0)
        .map(|(n, l)| format!("{l} {n}"))
        .collect();
    if hit.is_empty() {
        String::new()
    } else {
        format!("; incomplete records: {}", hit.join(", "))
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn describe_counts(said: &[u64], read: &[u64]) -> String {
    if said.len() != read.len() {
        return format!(
            "the marker lists {} probes, the table has {}",
            said.len(),
            read.len()
        );
    }
    let diffs: Vec<String> = said
        .iter()
        .zip(read)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .take(5)
        .map(|(i, (a, b))| format!("probe {i}: {a} said, {b} read"))
        .collect();
    diffs.join(", ")
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.unreadable {
            writeln!(f, "unreadable: {}", Esc(e))?;
            return writeln!(f, "verdict: UNREADABLE (exit 2)");
        }
        writeln!(
            f,
            "format:     v{}, {} bytes, {} frames, {} probes",
            self.format_version.unwrap_or(0),
            self.bytes,
            self.frames,
            self.probes
        )?;
        writeln!(
            f,
            "records:    {} ({} placeholder{}, {} completion{})",
            self.records,
            self.placeholders,
            plural(self.placeholders),
            self.completions,
            plural(self.completions)
        )?;
        match &self.end {
            Some(e) => writeln!(
                f,
                "end marker: present ({} records; program: {}, exit code {})",
                e.total_records,
                Esc(e.exit.kind.as_str()),
                e.exit.code
            )?,
            None => writeln!(f, "end marker: missing")?,
        }
        if let Some(n @ 1..) = self.end.as_ref().map(|e| e.untraced_children) {
            // Not a violation of this log's guarantees (nothing it holds is
            // lost), but what it holds is not the whole run.
            writeln!(
                f,
                "note:       {n} child process{} ran untraced: their captures are not in this log",
                if n == 1 { "" } else { "es" }
            )?;
        }
        if self.unknown_values > 0 {
            writeln!(
                f,
                "note:       {} values of a kind this probe does not know (written by a newer probe)",
                self.unknown_values
            )?;
        }
        if self.ok {
            return writeln!(f, "verdict: OK, all guarantees hold");
        }
        let n = self.violations.len() as u64 + self.violations_omitted;
        writeln!(f, "{n} violation{}:", plural(n))?;
        for x in &self.violations {
            writeln!(f, "  [{}] {}", x.kind, Esc(&x.message))?;
        }
        if self.violations_omitted > 0 {
            writeln!(f, "  ... and {} more", self.violations_omitted)?;
        }
        writeln!(
            f,
            "verdict: FAILED{} (exit {})",
            if self.complete {
                ""
            } else {
                ", log incomplete"
            },
            self.exit_code()
        )
    }
}

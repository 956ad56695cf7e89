//! Seq coverage and damage accounting: which records a log's frames hold,
//! which are missing, repeated or out of place — decided once, here, for
//! every reader.
//!
//! Physical order is seq order (SPEC §5): each RECORDS frame starts where
//! the previous one ended. When a log breaks that, every reader does the
//! same thing, from the frame headers alone ([`Plan`]): the first frame to
//! cover a seq wins, a later frame repeating any of its records is ignored
//! (reported as a repeat), a frame arriving after later records is read in
//! its seq place (reported as out of order), and records no frame covers —
//! up to the end marker's total — are gaps, each named with the byte
//! offsets between which its frames should have been. A frame that is
//! accepted but then fails to decode gives its records back to the gaps
//! ([`Coverage::unclaim`]).

use serde::Serialize;

use crate::log::error::ViolationKind;
use crate::log::format::{FrameKind, FILE_HEADER_LEN};
use crate::log::meta::EndInfo;
use crate::log::reader::FrameInfo;
use crate::log::LogError;
use crate::model::ExitKind;

/// One thing wrong with a log, with where it is: what `verify` lists as a
/// violation and every other reader as damage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable machine-readable kind, e.g. `checksum_mismatch`, `missing_records`.
    pub kind: ViolationKind,
    /// Human-readable description (names the offset).
    pub message: String,
    /// Byte offset in the file the problem is about.
    pub offset: u64,
    /// Seq concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

impl Problem {
    /// A problem of `kind` at `offset`.
    pub fn new(kind: ViolationKind, offset: u64, seq: Option<u64>, message: String) -> Problem {
        Problem {
            kind,
            message,
            offset,
            seq,
        }
    }
}

impl From<&LogError> for Problem {
    fn from(e: &LogError) -> Problem {
        Problem::new(e.kind(), e.offset().unwrap_or(0), None, e.to_string())
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Records `first..=last` absent, between the byte offsets where their
/// frames should have been.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// First missing seq.
    pub first: u64,
    /// Last missing seq.
    pub last: u64,
    /// End of the frame before the gap (or of the META frame).
    pub from: u64,
    /// Start of the frame after the gap (or of the END frame, or the end of the data).
    pub to: u64,
}

impl Gap {
    /// Number of missing records.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true (a gap holds at least one record); for clippy's sake.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The gap as a problem.
    pub fn problem(&self) -> Problem {
        Problem::new(
            ViolationKind::MissingRecords,
            self.from,
            Some(self.first),
            format!(
                "records {}..{} missing between offsets {} and {}",
                self.first, self.last, self.from, self.to
            ),
        )
    }
}

/// Where a frame's records go, given what was read before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Right after what was read (the normal case), or into a gap
    /// before anything later was read.
    InOrder,
    /// Into a gap, after later records were read: read in its seq place.
    OutOfOrder {
        /// The highest seq read before it.
        after: u64,
    },
    /// Some of its records were read already: the frame is ignored.
    Repeat {
        /// First repeated seq.
        first: u64,
        /// Last repeated seq.
        last: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
    offset: u64,
    end_offset: u64,
}

/// The seq ranges read so far (disjoint, sorted), with the frames they
/// came from.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    spans: Vec<Span>,
}

impl Coverage {
    /// Decide where frame `f` goes and, unless it repeats records already
    /// claimed, claim its records.
    pub fn place(&mut self, f: &FrameInfo) -> Placement {
        let (a, b) = (f.header.seq_start, f.header.seq_end);
        if a == b {
            return Placement::InOrder;
        }
        let i = self.spans.partition_point(|s| s.start < a);
        // The spans overlapping [a, b): from the one before `i` on, while
        // they start before `b`.
        let mut hit: Option<(u64, u64)> = None;
        for s in self.spans[i.saturating_sub(1)..]
            .iter()
            .take_while(|s| s.start < b)
            .filter(|s| a < s.end)
        {
            let (f, l) = (a.max(s.start), b.min(s.end) - 1);
            hit = Some(hit.map_or((f, l), |(hf, hl)| (hf.min(f), hl.max(l))));
        }
        if let Some((first, last)) = hit {
            return Placement::Repeat { first, last };
        }
        let max = self.spans.last().map_or(0, |s| s.end);
        self.spans.insert(
            i,
            Span {
                start: a,
                end: b,
                offset: f.offset,
                end_offset: f.end_offset(),
            },
        );
        if i + 1 < self.spans.len() {
            Placement::OutOfOrder { after: max - 1 }
        } else {
            Placement::InOrder
        }
    }

    /// Give back the records of a frame claimed by [`Coverage::place`]
    /// (it did not decode after all).
    pub fn unclaim(&mut self, f: &FrameInfo) {
        self.spans.retain(|s| s.offset != f.offset);
    }

    /// Records claimed.
    pub fn records(&self) -> u64 {
        self.spans.iter().map(|s| s.end - s.start).sum()
    }

    /// One past the highest seq claimed.
    pub fn end(&self) -> u64 {
        self.spans.last().map_or(0, |s| s.end)
    }

    /// The gaps in `0..total` (`total`: the end marker's, else what was
    /// claimed). `meta_end` is where the first records frame should start,
    /// `tail` where the last one should end (the END frame, or the end of
    /// the data).
    pub fn gaps(&self, total: Option<u64>, meta_end: u64, tail: u64) -> Vec<Gap> {
        let mut out = Vec::new();
        let (mut at, mut from) = (0u64, meta_end);
        for s in &self.spans {
            if s.start > at {
                out.push(Gap {
                    first: at,
                    last: s.start - 1,
                    from,
                    to: s.offset,
                });
            }
            at = s.end;
            from = s.end_offset;
        }
        if let Some(total) = total {
            if total > at {
                out.push(Gap {
                    first: at,
                    last: total - 1,
                    from,
                    to: tail,
                });
            }
        }
        out
    }
}

/// Which RECORDS frames readers read, and what the headers alone say is
/// wrong: decided once per log when it is opened.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    accepted: Vec<FrameInfo>,
    with_completions: Vec<FrameInfo>,
    problems: Vec<Problem>,
    coverage: Coverage,
    meta_end: u64,
}

impl Plan {
    /// The plan for a log's frames (in file order) and its end marker's
    /// total, when it has one.
    pub fn new(frames: &[FrameInfo], total: Option<u64>) -> Plan {
        let mut p = Plan {
            meta_end: frames
                .first()
                .filter(|f| f.header.kind == FrameKind::Meta)
                .map_or(FILE_HEADER_LEN as u64, FrameInfo::end_offset),
            ..Plan::default()
        };
        for f in frames.iter().filter(|f| f.is_records()) {
            if f.header.completions > 0 {
                p.with_completions.push(*f);
            }
            if f.records() == 0 {
                continue;
            }
            let (a, b) = (f.header.seq_start, f.header.seq_end - 1);
            match p.coverage.place(f) {
                Placement::InOrder => p.accepted.push(*f),
                Placement::OutOfOrder { after } => {
                    p.problems.push(Problem::new(
                        ViolationKind::OutOfOrder,
                        f.offset,
                        Some(a),
                        format!(
                            "frame at offset {} holds records {a}..{b} out of order (after record {after}); read in seq order",
                            f.offset
                        ),
                    ));
                    p.accepted.push(*f);
                }
                Placement::Repeat { first, last } => p.problems.push(Problem::new(
                    ViolationKind::DuplicateRecords,
                    f.offset,
                    Some(a),
                    format!(
                        "frame at offset {} holds records {a}..{b}, of which {first}..{last} were already read; ignored",
                        f.offset
                    ),
                )),
            }
        }
        p.accepted.sort_by_key(|f| f.header.seq_start);
        let _ = total;
        p
    }

    /// The RECORDS frames to read, in seq order (each seq in at most one).
    pub fn accepted(&self) -> &[FrameInfo] {
        &self.accepted
    }

    /// The intact RECORDS frames whose headers say they hold completions,
    /// in file order (repeated frames included: a completion is found
    /// wherever it is).
    pub fn with_completions(&self) -> &[FrameInfo] {
        &self.with_completions
    }

    /// Frames out of place (repeats, out of order).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Records the accepted frames hold (from their headers).
    pub fn records(&self) -> u64 {
        self.coverage.records()
    }

    /// The coverage of the accepted frames, to be updated as frames fail
    /// to decode.
    pub fn coverage(&self) -> Coverage {
        self.coverage.clone()
    }

    /// End of the META frame: where records should begin.
    pub fn meta_end(&self) -> u64 {
        self.meta_end
    }
}

/// What an end marker says about captures that are not in the log, in
/// words (`None` when it says none were lost): records counted as lost by
/// the recorder (a full disk), or a capture stream that ended without the
/// agent's last word, so that whatever the program captured afterwards
/// never reached the recorder.
pub fn lost_captures(end: &EndInfo) -> Option<String> {
    let after = end.total_records.checked_sub(1).map_or_else(
        || "before the first record".to_string(),
        |s| format!("after seq {s}"),
    );
    if end.lost_records > 0 {
        // Counted by the recorder: a failed writer, a message cut off by
        // the program's death, records past the shared ring.
        let n = end.lost_records;
        return Some(format!(
            "{n} {} {after} {} not in the log ({})",
            if n == 1 { "capture" } else { "captures" },
            if n == 1 { "is" } else { "are" },
            end.exit.detail.as_deref().unwrap_or("writer failure")
        ));
    }
    if end.exit.kind == ExitKind::Lost {
        return Some(format!(
            "the program's capture stream ended without its last message (exit kind `lost`: \
             it closed probe's descriptor, replaced itself with exec, or the agent died); \
             captures it made {after} were lost — how many, the log cannot say"
        ));
    }
    None
}

/// What an end marker says about captures whose record is in the log but
/// whose value is not (`lost_values`), in words (`None` when there are
/// none): their completion was cut off with the program's last message, or
/// could not be written after the writer failed, so their records say
/// `incomplete`. The log holds fewer values than the run made, which is a
/// loss like `lost_records`, not an intact log.
pub fn lost_values(end: &EndInfo) -> Option<String> {
    let n = end.lost_values;
    (n > 0).then(|| {
        format!(
            "{n} captured value{} lost: {} record{} in the log but say `incomplete` \
             (cut off with the program's last message, or not written after the writer failed)",
            if n == 1 { " was" } else { "s were" },
            if n == 1 { "its" } else { "their" },
            if n == 1 { " is" } else { "s are" },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::format::{FrameHeader, CODEC_ZSTD};

    fn frame(offset: u64, a: u64, b: u64) -> FrameInfo {
        FrameInfo {
            offset,
            header: FrameHeader {
                kind: FrameKind::Records,
                codec: CODEC_ZSTD,
                stored_len: 52,
                raw_len: 60,
                seq_start: a,
                seq_end: b,
                completions: 0,
                payload_crc: 0,
            },
            intact: true,
        }
    }

    #[test]
    fn repeats_are_ignored_and_late_frames_read_in_place() {
        let frames = [
            frame(100, 0, 10),
            frame(200, 20, 30),
            frame(300, 10, 20),
            frame(400, 5, 12),
        ];
        let p = Plan::new(&frames, Some(30));
        let starts: Vec<u64> = p.accepted().iter().map(|f| f.header.seq_start).collect();
        assert_eq!(starts, [0, 10, 20]);
        let kinds: Vec<ViolationKind> = p.problems().iter().map(|x| x.kind).collect();
        assert_eq!(
            kinds,
            [ViolationKind::OutOfOrder, ViolationKind::DuplicateRecords]
        );
        assert!(p.problems()[1].message.contains("5..11 were already read"));
        assert_eq!(p.records(), 30);
        assert!(p.coverage().gaps(Some(30), 16, 999).is_empty());
    }

    #[test]
    fn gaps_name_the_offsets_around_them() {
        let frames = [frame(100, 0, 10), frame(300, 20, 30)];
        let p = Plan::new(&frames, Some(40));
        let g = p.coverage().gaps(Some(40), 16, 999);
        assert_eq!(
            g,
            [
                Gap {
                    first: 10,
                    last: 19,
                    from: 200,
                    to: 300
                },
                Gap {
                    first: 30,
                    last: 39,
                    from: 400,
                    to: 999
                }
            ]
        );
        let mut c = p.coverage();
        c.unclaim(&frames[0]);
        assert_eq!(
            c.gaps(Some(40), 16, 999)[0].problem().message,
            "records 0..19 missing between offsets 16 and 300"
        );
    }
}

//! Agent → recorder: the messages the in-process tracer sends over its
//! inherited pipe, and their decoding into [`CaptureRecord`]s.
//!
//! Framing: `u32` little-endian payload length, `u8` message type, payload.
//! HELLO, END, FATAL and WARN carry JSON; CHUNK carries a Python `marshal`
//! blob `(items, completions)` (docs/WIRE.md has the item layout), and
//! CHUNK_BIN the native core's binary records ([`binary`]) with the Python
//! core's items marshalled beside them. Sequence numbers are not sent: a chunk's items are in
//! trigger order, so the recorder numbers records as they arrive, which is
//! exactly the agent's reservation order.

pub mod binary;
pub mod marshal;
pub mod ring;

use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;
use thiserror::Error;

use crate::log::meta::ProbeInfo;
use crate::model::{ArrayValue, CaptureRecord, Dtype, Status, Value};
use marshal::MObj;

/// Message type bytes.
pub const MSG_HELLO: u8 = 1;
/// A chunk of captures.
pub const MSG_CHUNK: u8 = 2;
/// How the program ended.
pub const MSG_END: u8 = 3;
/// A refusal before the program ran.
pub const MSG_FATAL: u8 = 4;
/// A warning to print at the end.
pub const MSG_WARN: u8 = 5;
/// The agent's compiled code, `interpreter key \0 marshal data`, for the cache.
pub const MSG_CACHE: u8 = 6;
/// A chunk of captures in the native core's binary form ([`binary`]).
pub const MSG_CHUNK_BIN: u8 = 7;
/// The agent's resolution of the specs, for the cache
/// ([`crate::capture::cache::AgentCache::store_resolution`]).
pub const MSG_RESOLVED: u8 = 8;
/// The `sitecustomize` stub compiled by the interpreter, `interpreter key
/// \0 pyc`, for the cache ([`crate::capture::site_zip`]).
pub const MSG_SITE_PYC: u8 = 9;

/// Largest message accepted; a chunk is flushed every 25 ms, so anything
/// near this is garbage, not data.
pub const MAX_MESSAGE: usize = 1 << 30;

/// Problems with what came over the pipe.
#[derive(Debug, Error)]
pub enum WireError {
    /// Reading the pipe failed.
    #[error("reading from the agent's pipe failed: {0}")]
    Io(#[from] std::io::Error),
    /// A frame header announced an impossible length.
    #[error(
        "agent message {index} announces {len} bytes (limit {MAX_MESSAGE}); the stream is corrupt"
    )]
    TooLong { index: u64, len: usize },
    /// The stream ended inside a message.
    #[error("agent stream ended inside message {index}")]
    Truncated { index: u64 },
    /// Unknown message type.
    #[error("agent message {index} has unknown type {kind}")]
    UnknownType { index: u64, kind: u8 },
    /// Bad JSON in a control message.
    #[error("agent message {index} is not valid JSON: {source}")]
    Json {
        index: u64,
        source: serde_json::Error,
    },
    /// A chunk that does not decode.
    #[error("agent chunk {index}: {what}")]
    Chunk { index: u64, what: String },
}

/// One framed message.
#[derive(Debug)]
pub struct RawMessage {
    /// Message type byte.
    pub kind: u8,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

/// What one read of the pipe gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Bytes arrived (`n`).
    Data(usize),
    /// No writer holds the pipe any more (for now: an agent whose
    /// descriptor the program closed may open it again).
    Eof,
    /// A non-blocking pipe had nothing to read.
    WouldBlock,
}

/// A message the stream ended inside: its sender died (or the stream was
/// cut) after sending only part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unfinished<'a> {
    /// Its index in the stream.
    pub index: u64,
    /// Its type, if its 5-byte header arrived.
    pub kind: Option<u8>,
    /// Payload bytes its header announced, if it arrived.
    pub announced: Option<usize>,
    /// Bytes of it (header included) that arrived.
    pub received: usize,
    /// The payload bytes that did arrive.
    pub payload: &'a [u8],
}

/// Reads framed messages from the agent's pipe.
pub struct MessageReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Where each `read` lands before it is appended to `buf`; zeroed once
    /// (a fresh 256 KiB stack array per call was zeroed on every read:
    /// 62 % of the recorder's instructions when arrays stream in).
    scratch: Box<[u8]>,
    index: u64,
}

/// The most one `read` of the pipe takes.
const READ_CHUNK: usize = 1 << 18;

impl<R: Read> MessageReader<R> {
    /// Wraps a reader (the pipe).
    pub fn new(inner: R) -> Self {
        MessageReader {
            inner,
            buf: Vec::with_capacity(1 << 20),
            scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
            index: 0,
        }
    }

    /// Reads once (up to 256 KiB) into the buffer.
    pub fn fill(&mut self) -> Result<Fill, WireError> {
        loop {
            match self.inner.read(&mut self.scratch) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    self.buf.extend_from_slice(&self.scratch[..n]);
                    return Ok(Fill::Data(n));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Ok(Fill::WouldBlock)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads whatever is available now (one `read` call) and returns the
    /// complete messages it finished. `Ok(None)` means end of stream; a
    /// message left unfinished there is [`WireError::Truncated`].
    pub fn read_available(&mut self) -> Result<Option<Vec<RawMessage>>, WireError> {
        match self.fill()? {
            Fill::Eof if !self.buf.is_empty() => Err(WireError::Truncated { index: self.index }),
            Fill::Eof => Ok(None),
            Fill::Data(_) | Fill::WouldBlock => self.take_messages().map(Some),
        }
    }

    /// The complete messages in the buffer, in order; a partial one stays.
    pub fn take_messages(&mut self) -> Result<Vec<RawMessage>, WireError> {
        let mut out = Vec::new();
        let mut start = 0;
        loop {
            let rest = &self.buf[start..];
            if rest.len() < 5 {
                break;
            }
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if len > MAX_MESSAGE {
                return Err(WireError::TooLong {
                    index: self.index,
                    len,
                });
            }
            if rest.len() < 5 + len {
                break;
            }
            out.push(RawMessage {
                kind: rest[4],
                payload: rest[5..5 + len].to_vec(),
            });
            self.index += 1;
            start += 5 + len;
        }
        self.buf.drain(..start);
        Ok(out)
    }

    /// The message the buffer ends inside, if any (meaningful once the
    /// stream has ended for good).
    pub fn unfinished(&self) -> Option<Unfinished<'_>> {
        if self.buf.is_empty() {
            return None;
        }
        let b = &self.buf;
        let (kind, announced, payload) = if b.len() >= 5 {
            let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
            (Some(b[4]), Some(len), &b[5..])
        } else {
            (None, None, &b[..0])
        };
        Some(Unfinished {
            index: self.index,
            kind,
            announced,
            received: b.len(),
            payload,
        })
    }

    /// Drops what is buffered (after the stream was found damaged).
    pub fn discard(&mut self) {
        self.buf.clear();
    }

    /// Reads and drops whatever is available (after the stream was found
    /// damaged). `Ok(false)` at end of stream.
    pub fn discard_available(&mut self) -> Result<bool, WireError> {
        self.buf.clear();
        let r = self.fill();
        self.buf.clear();
        Ok(!matches!(r?, Fill::Eof))
    }

    /// Index of the next message (for error messages).
    pub fn index(&self) -> u64 {
        self.index
    }
}

/// The agent's first message: interpreter, core, probe table and sites.
#[derive(Debug, Clone, Deserialize)]
pub struct Hello {
    /// `3.12.1`.
    pub python_version: String,
    /// `sys.executable`.
    pub python_executable: String,
    /// `monitoring` or `settrace`.
    pub core: String,
    /// Why the automatic choice fell back, if it did.
    #[serde(default)]
    pub core_note: Option<String>,
    /// Whether that fallback is a problem to warn about (the native core
    /// did not load where it should have), not a note about speed.
    #[serde(default)]
    pub core_warning: bool,
    /// The agent's `perf_counter_ns()` at start: timestamps are relative to it.
    pub t0_ns: u64,
    /// Thread ident of the main thread (items carry no ident until threads exist).
    pub main_thread: u64,
    /// The resolved probe table.
    pub probes: Vec<ProbeInfo>,
    /// Site id → probe ids in batch order.
    pub sites: Vec<Vec<u32>>,
}

/// The agent's last message.
#[derive(Debug, Clone, Deserialize)]
pub struct AgentEnd {
    /// `exit`, `exception`, `os_exit`, or `exec` (the program replaced
    /// itself with `os.exec*`; sent just before the exec, and followed by
    /// more messages if the exec failed).
    pub kind: String,
    /// Exit status the program asked for.
    pub code: i64,
    /// Exception type, if the program ended by one.
    #[serde(default)]
    pub exception: Option<String>,
    /// Child processes the program started that ran untraced (forks,
    /// `subprocess`, `multiprocessing` workers, `os.system`,
    /// `os.posix_spawn`, and the program an `os.exec*` replaced it with).
    #[serde(default)]
    pub untraced_children: u64,
    /// For `exec`: what the program executed.
    #[serde(default)]
    pub exec: Option<String>,
    /// Times a message found the pipe full and the program waited for the
    /// recorder (back-pressure: nothing is dropped).
    #[serde(default)]
    pub waits: u64,
    /// How long those waits took in all, ns.
    #[serde(default)]
    pub waited_ns: u64,
}

/// A text message (FATAL or WARN).
#[derive(Debug, Clone, Deserialize)]
pub struct TextMessage {
    /// The message.
    pub message: String,
}

/// Parses a JSON control message.
pub fn parse_json<T: for<'de> Deserialize<'de>>(
    index: u64,
    payload: &[u8],
) -> Result<T, WireError> {
    serde_json::from_slice(payload).map_err(|source| WireError::Json { index, source })
}

/// What a chunk turns into, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Capture {
    /// A new record (possibly a `Pending` placeholder).
    Record(CaptureRecord),
    /// The completion of an earlier placeholder.
    Completion {
        /// The placeholder's seq.
        seq: u64,
        /// Final status.
        status: Status,
        /// Final value.
        value: Value,
    },
}

/// Turns CHUNK messages into records with sequence numbers.
pub struct ChunkDecoder {
    sites: Vec<Vec<u32>>,
    t0: u64,
    resolution: u64,
    main_thread: u64,
    next_seq: u64,
    tokens: HashMap<i64, u64>,
    chunks: u64,
    orphans: u64,
    /// Records received in CHUNK_BIN messages: the ordinal of the next one
    /// the native core wrote (see [`ChunkDecoder::salvage`]).
    bin_records: u64,
    /// The last record's timestamp: the next is never earlier (the native
    /// core extrapolates the monotonic clock from the TSC between flushes,
    /// the Python cores read it; the two may differ by microseconds).
    last_ts: u64,
    /// The threads the native core registered (`Batch::Thread`): index
    /// i + 1's Python ident; index 0 is the main thread.
    threads: Vec<u64>,
}

impl ChunkDecoder {
    /// A decoder for the sites and clock of one HELLO, rounding timestamps
    /// down to multiples of `resolution_ns` (rounding down keeps a batch's
    /// records on one timestamp and timestamps non-decreasing along seq).
    pub fn new(hello: &Hello, resolution_ns: u64) -> Self {
        ChunkDecoder {
            sites: hello.sites.clone(),
            t0: hello.t0_ns,
            resolution: resolution_ns.max(1),
            main_thread: hello.main_thread,
            next_seq: 0,
            tokens: HashMap::new(),
            chunks: 0,
            orphans: 0,
            bin_records: 0,
            last_ts: 0,
            threads: Vec::new(),
        }
    }

    /// The ident of a native record's thread index.
    fn thread_of(&self, chunk: u64, index: u16) -> Result<u64, WireError> {
        match index {
            0 => Ok(self.main_thread),
            i => self
                .threads
                .get(usize::from(i) - 1)
                .copied()
                .ok_or_else(|| WireError::Chunk {
                    index: chunk,
                    what: format!("a record of thread index {i}, which was never registered"),
                }),
        }
    }

    /// Completions whose placeholder never arrived (a chunk lost in the
    /// agent); reported as a warning.
    pub fn orphan_completions(&self) -> u64 {
        self.orphans
    }

    /// Next sequence number to be assigned (= records decoded so far).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Decodes one CHUNK payload, calling `out` for each capture in order.
    pub fn decode(
        &mut self,
        payload: &[u8],
        out: impl FnMut(Capture) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let index = self.chunks;
        self.chunks += 1;
        let bad = |what: String| WireError::Chunk { index, what };
        let obj = marshal::decode(payload).map_err(|e| bad(e.to_string()))?;
        let (items, comps) = match obj {
            MObj::Tuple(mut v) if v.len() == 2 => {
                let c = v.pop();
                let i = v.pop();
                match (i, c) {
                    (Some(MObj::List(i)), Some(MObj::List(c))) => (i, c),
                    _ => return Err(bad("expected (items, completions) lists".into())),
                }
            }
            _ => return Err(bad("expected a (items, completions) tuple".into())),
        };
        self.apply(
            index,
            items.into_iter().map(|m| Ok(Batch::Item(m))),
            comps,
            out,
        )
    }

    /// Decodes one CHUNK_BIN payload (the native core's), as `decode`.
    pub fn decode_bin(
        &mut self,
        payload: &[u8],
        out: impl FnMut(Capture) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let index = self.chunks;
        self.chunks += 1;
        let bad = |what: String| WireError::Chunk { index, what };
        let mut got = binary::parse(payload).map_err(bad)?;
        let comps = std::mem::take(&mut got.completions);
        // The records are decoded as they are applied: a chunk is 16,384 of
        // them, and a vector of them per chunk cost the recorder ~10%.
        let mut n = 0u64;
        self.apply(
            index,
            std::iter::from_fn(|| {
                let b = got.next_batch();
                n += u64::from(b.is_some());
                b
            }),
            comps,
            out,
        )?;
        self.bin_records += n;
        if got.items_left() {
            return Err(bad("Python-core items without a record".into()));
        }
        Ok(())
    }

    /// Records the native core wrote into the shared ring but never sent
    /// (the program died first): those after the last one received, in
    /// order, up to the first that cannot be read from the ring alone.
    pub fn salvage(
        &mut self,
        ring: &ring::RingContents,
        out: impl FnMut(Capture) -> Result<(), WireError>,
    ) -> Result<Salvaged, WireError> {
        let Some(start) = self
            .bin_records
            .checked_sub(ring.base)
            .and_then(|s| usize::try_from(s).ok())
        else {
            return Ok(Salvaged::default());
        };
        // The chunk's completions, of placeholders sent earlier: those still
        // waiting (a message cut off may have brought some already).
        let comps: Vec<MObj> = ring
            .completions
            .chunks_exact(binary::REC_BYTES)
            .filter_map(binary::salvage_completion)
            .filter(|(token, _)| self.tokens.contains_key(token))
            .map(|(token, v)| MObj::Tuple(vec![MObj::Int(token), v]))
            .collect();
        let batches: Vec<Batch> = ring
            .records
            .chunks_exact(binary::REC_BYTES)
            .skip(start)
            .map_while(binary::salvage_record)
            .collect();
        let n = batches.len() as u64;
        let lost_values = ring
            .records
            .chunks_exact(binary::REC_BYTES)
            .skip(start)
            .take(batches.len())
            .filter(|r| binary::value_lost(r))
            .count() as u64;
        let in_ring = (ring.records.len() / binary::REC_BYTES) as u64;
        // Thread registrations take ordinals but are no captures.
        let kept = batches
            .iter()
            .filter(|b| !matches!(b, Batch::Thread { .. }))
            .count() as u64;
        self.bin_records += n;
        self.apply(self.chunks, batches.into_iter().map(Ok), comps, out)?;
        Ok(Salvaged {
            kept,
            unreadable: in_ring.saturating_sub(start as u64 + n),
            lost_values,
        })
    }

    /// Decodes what a CHUNK (`kind` MSG_CHUNK) or CHUNK_BIN cut off by its
    /// sender's death still holds: every batch that arrived whole goes to
    /// `out`, in order, as it would have; the rest is lost. Says how much
    /// was kept and at least how much was lost.
    pub fn decode_torn(
        &mut self,
        kind: u8,
        prefix: &[u8],
        out: impl FnMut(Capture) -> Result<(), WireError>,
    ) -> Result<TornChunk, WireError> {
        let index = self.chunks;
        self.chunks += 1;
        let (announced, items, completions_announced, completions) = if kind == MSG_CHUNK_BIN {
            let got = binary::decode_prefix(prefix);
            // Their ordinals are taken: a salvage from the shared ring
            // starts after them.
            self.bin_records += got.items.len() as u64;
            (
                got.announced,
                got.items,
                got.completions_announced,
                got.completions,
            )
        } else {
            let got = marshal::decode_chunk_prefix(prefix);
            let items = got.items.into_iter().map(Batch::Item).collect();
            (
                got.announced,
                items,
                got.completions_announced,
                got.completions,
            )
        };
        let kept_batches = items.len() as u64;
        let kept_completions = completions.len() as u64;
        let before = self.next_seq;
        self.apply(index, items.into_iter().map(Ok), completions, out)?;
        let announced = announced.map(|n| n as u64);
        let smallest = self.sites.iter().map(Vec::len).min().unwrap_or(1).max(1) as u64;
        // Batches cut off: at least one when the item list's header is lost.
        let lost_batches = announced.map_or(1, |n| n.saturating_sub(kept_batches));
        // Completions cut off: their captures' values are lost (the records
        // stay, `incomplete`).
        let lost_completions =
            completions_announced.map_or(0, |n| (n as u64).saturating_sub(kept_completions));
        Ok(TornChunk {
            announced_batches: announced,
            kept_batches,
            kept_captures: self.next_seq - before,
            kept_completions,
            lost_completions,
            lost_captures_at_least: lost_batches.saturating_mul(smallest),
        })
    }

    fn apply(
        &mut self,
        index: u64,
        items: impl IntoIterator<Item = Result<Batch, String>>,
        comps: Vec<MObj>,
        mut out: impl FnMut(Capture) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let bad = |what: String| WireError::Chunk { index, what };
        // Completions first: they complete placeholders of earlier chunks
        // (never this one's), and a log cut between this chunk's records
        // and its completions (the recorder killed while the writer had
        // them in memory) would otherwise hold an uncompleted placeholder
        // with later records after it.
        for c in comps {
            let MObj::Tuple(pair) = c else {
                return Err(bad("a completion is not a tuple".into()));
            };
            let mut p = pair.into_iter();
            let (Some(MObj::Int(token)), Some(v), None) = (p.next(), p.next(), p.next()) else {
                return Err(bad("a completion is not (token, value)".into()));
            };
            let Some(seq) = self.tokens.remove(&token) else {
                // Its placeholder's chunk never arrived (cut off by a signal
                // in the agent), or it is this chunk's own (which the agent
                // never sends): nothing in the log waits for it.
                self.orphans += 1;
                continue;
            };
            let (status, value) = match convert(v) {
                Converted::Done(s, v) => (s, v),
                Converted::Placeholder(_) => {
                    return Err(bad("a completion is itself a placeholder".into()))
                }
            };
            out(Capture::Completion { seq, status, value })?;
        }
        for item in items {
            let fields = match item.map_err(bad)? {
                Batch::Plain {
                    site,
                    ts,
                    thread,
                    value,
                } => {
                    let probe = self.fast_probe(index, site)?;
                    let thread = self.thread_of(index, thread)?;
                    let ts_ns = self.timestamp(ts);
                    let rec = CaptureRecord {
                        seq: 0,
                        ts_ns,
                        thread,
                        probe,
                        order: 0,
                        status: Status::Ok,
                        value: value.to_value(),
                    };
                    self.emit(rec, &mut out)?;
                    continue;
                }
                Batch::Fast {
                    site,
                    ts,
                    thread,
                    value,
                } => {
                    let thread = self.thread_of(index, thread)?;
                    self.fast(index, site, ts, thread, value, &mut out)?;
                    continue;
                }
                Batch::Thread { index: i, ident } => {
                    // Registered in order: 1, 2, …
                    if usize::from(i) != self.threads.len() + 1 {
                        return Err(bad(format!(
                            "thread index {i} registered out of order (next is {})",
                            self.threads.len() + 1
                        )));
                    }
                    self.threads.push(ident);
                    continue;
                }
                Batch::Item(MObj::List(fields)) => fields,
                Batch::Item(_) => return Err(bad("an item is not a list".into())),
            };
            let mut it = fields.into_iter();
            let (site, threaded) = match it.next() {
                Some(MObj::Int(s)) if s >= 0 => (s as usize, false),
                Some(MObj::Int(s)) => ((!s) as usize, true),
                _ => return Err(bad("an item has no site id".into())),
            };
            let ts = match it.next() {
                Some(MObj::Int(t)) => self.timestamp(t),
                _ => return Err(bad("an item has no timestamp".into())),
            };
            let thread = if threaded {
                match it.next() {
                    Some(MObj::Int(t)) => t as u64,
                    Some(MObj::BigInt(t)) => t.parse().unwrap_or(0),
                    _ => return Err(bad("an item has no thread id".into())),
                }
            } else {
                self.main_thread
            };
            let probes = self
                .sites
                .get(site)
                .ok_or_else(|| bad(format!("unknown site {site}")))?;
            let values: Vec<MObj> = it.collect();
            if values.len() != probes.len() {
                return Err(bad(format!(
                    "site {site} has {} probes but the item has {} values",
                    probes.len(),
                    values.len()
                )));
            }
            for (order, v) in values.into_iter().enumerate() {
                // (Indexed: `record` needs the decoder mutably.)
                let probe = self.sites[site][order];
                self.record(ts, thread, probe, order as u16, v, &mut out)?;
            }
        }
        Ok(())
    }

    /// A monotonic-clock timestamp as the log keeps it: from the agent's
    /// start, rounded down to the resolution, never before the last one.
    fn timestamp(&mut self, t: i64) -> u64 {
        let since = (t as u64).saturating_sub(self.t0);
        // (A division costs tens of cycles, per record.)
        let since = if self.resolution > 1 {
            since - since % self.resolution
        } else {
            since
        };
        let ts = since.max(self.last_ts);
        self.last_ts = ts;
        ts
    }

    /// One record of the native core's fast path: a batch of one value.
    fn fast(
        &mut self,
        index: u64,
        site: u32,
        ts: i64,
        thread: u64,
        value: MObj,
        out: &mut impl FnMut(Capture) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let probe = self.fast_probe(index, site)?;
        let ts_ns = self.timestamp(ts);
        self.record(ts_ns, thread, probe, 0, value, out)
    }

    /// The one probe of a fast record's site.
    #[inline]
    fn fast_probe(&self, index: u64, site: u32) -> Result<u32, WireError> {
        Ok(match self.sites.get(site as usize).map(Vec::as_slice) {
            Some([probe]) => *probe,
            Some(probes) => {
                return Err(WireError::Chunk {
                    index,
                    what: format!(
                        "site {site} has {} probes but the record has one value",
                        probes.len()
                    ),
                })
            }
            None => {
                return Err(WireError::Chunk {
                    index,
                    what: format!("unknown site {site}"),
                })
            }
        })
    }

    /// One record, numbered next; a placeholder's token is remembered for
    /// its completion.
    fn record(
        &mut self,
        ts_ns: u64,
        thread: u64,
        probe: u32,
        order: u16,
        v: MObj,
        out: &mut impl FnMut(Capture) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let (status, value) = match convert(v) {
            Converted::Done(s, v) => (s, v),
            Converted::Placeholder(token) => {
                self.tokens.insert(token, self.next_seq);
                (Status::Pending, Value::Absent)
            }
        };
        let rec = CaptureRecord {
            seq: 0,
            ts_ns,
            thread,
            probe,
            order,
            status,
            value,
        };
        self.emit(rec, out)
    }

    /// `rec` as the next record (its seq set here).
    #[inline]
    fn emit(
        &mut self,
        mut rec: CaptureRecord,
        out: &mut impl FnMut(Capture) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        rec.seq = self.next_seq;
        self.next_seq += 1;
        out(Capture::Record(rec))
    }
}

/// One batch of a chunk, as decoded.
#[derive(Debug)]
pub enum Batch {
    /// A marshalled item: `[site, ts, (thread,) values…]`.
    Item(MObj),
    /// A record of the native core's fast path with a plain value (None,
    /// a bool, an int within 64 bits, a float, a complex).
    Plain {
        /// Site id.
        site: u32,
        /// Monotonic ns.
        ts: i64,
        /// Thread index (see `Batch::Thread`).
        thread: u16,
        /// The value.
        value: binary::PlainValue,
    },
    /// A record of the native core's fast path (one value).
    Fast {
        /// Site id.
        site: u32,
        /// Monotonic ns.
        ts: i64,
        /// Thread index (see `Batch::Thread`).
        thread: u16,
        /// The value, as marshal would have decoded it.
        value: MObj,
    },
    /// The native core's registration of a thread: its records of thread
    /// index `index` (1, 2, … in order; 0 is the main thread) are the
    /// thread of Python ident `ident`. No record of its own.
    Thread {
        /// The index.
        index: u16,
        /// The Python thread ident.
        ident: u64,
    },
}

/// What [`ChunkDecoder::salvage`] read back from the shared ring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Salvaged {
    /// Records read back and put in the log.
    pub kept: u64,
    /// Records in the ring after those that could not be read from it
    /// alone (from the first of the Python core's items on).
    pub unreadable: u64,
    /// Records read back whose value only the lost message held (kept as
    /// `incomplete`).
    pub lost_values: u64,
}

/// What [`ChunkDecoder::decode_torn`] salvaged from a cut-off chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornChunk {
    /// Batches the chunk announced (`None` if it was cut before saying).
    pub announced_batches: Option<u64>,
    /// Batches that arrived whole and are kept.
    pub kept_batches: u64,
    /// Captures in those batches.
    pub kept_captures: u64,
    /// Completions (values of earlier placeholders) that arrived whole.
    pub kept_completions: u64,
    /// Completions announced but cut off: those captures' values are lost.
    pub lost_completions: u64,
    /// A lower bound of the captures lost with the batches cut off: each
    /// holds at least the smallest site's number of captures.
    pub lost_captures_at_least: u64,
}

enum Converted {
    Done(Status, Value),
    Placeholder(i64),
}

fn convert(v: MObj) -> Converted {
    match v {
        MObj::Tuple(t) => tagged(t),
        other => Converted::Done(Status::Ok, plain(other)),
    }
}

/// A plain (untagged) marshal value.
fn plain(v: MObj) -> Value {
    match v {
        MObj::None => Value::None,
        MObj::Bool(b) => Value::Bool(b),
        MObj::Int(i) => Value::Int(i),
        MObj::BigInt(s) => Value::BigInt(s),
        MObj::Float(f) => Value::Float(f),
        MObj::Complex(r, i) => Value::Complex(r, i),
        MObj::Str(text) => Value::Str {
            text,
            truncated: false,
        },
        MObj::Bytes(data) => Value::Bytes {
            data,
            truncated: false,
        },
        MObj::Tuple(t) => match tagged(t) {
            Converted::Done(_, v) => v,
            Converted::Placeholder(_) => Value::Absent,
        },
        MObj::List(_) => Value::Other {
            type_name: "?".into(),
            repr: "<unexpected list>".into(),
            truncated: false,
        },
    }
}

fn text(v: Option<&MObj>) -> String {
    match v {
        Some(MObj::Str(s)) => s.clone(),
        _ => String::new(),
    }
}

/// An array tuple from the agent: `(9, dtype, shape, data, truncated, type_name)`,
/// checked the way the log reader checks it.
fn array(v: Vec<MObj>) -> Result<ArrayValue, String> {
    let mut it = v.into_iter();
    let (
        Some(MObj::Str(dtype)),
        Some(MObj::Tuple(dims)),
        Some(MObj::Bytes(data)),
        truncated,
        type_name,
    ) = (it.next(), it.next(), it.next(), it.next(), it.next())
    else {
        return Err("malformed array value".into());
    };
    let dtype =
        Dtype::from_name(&dtype).ok_or_else(|| format!("unsupported array dtype {dtype:?}"))?;
    let mut shape = Vec::with_capacity(dims.len());
    for d in dims {
        match d {
            MObj::Int(n) if n >= 0 => shape.push(n as u64),
            _ => return Err("malformed array shape".into()),
        }
    }
    let a = ArrayValue {
        type_name: text(type_name.as_ref()),
        dtype,
        shape,
        data,
        truncated: matches!(truncated, Some(MObj::Bool(true))),
    };
    a.check()?;
    Ok(a)
}

/// A value tuple tagged by the agent (see the T_* constants in agent.py).
fn tagged(t: Vec<MObj>) -> Converted {
    let tag = match t.first() {
        Some(MObj::Int(tag)) => *tag,
        _ => {
            return Converted::Done(
                Status::Error,
                Value::Error {
                    exc_type: "probe.WireError".into(),
                    message: "untagged tuple value".into(),
                },
            )
        }
    };
    let mut rest = t.into_iter().skip(1);
    let done = |s, v| Converted::Done(s, v);
    match tag {
        1 => done(Status::Unbound, Value::Absent),
        2 => match rest.next() {
            None => done(Status::Raised, Value::Absent),
            Some(v) => done(Status::Raised, plain(v)),
        },
        3 => {
            let v: Vec<MObj> = rest.collect();
            done(
                Status::Error,
                Value::Error {
                    exc_type: text(v.first()),
                    message: text(v.get(1)),
                },
            )
        }
        4 => done(Status::Incomplete, Value::Absent),
        5 => match rest.next() {
            Some(MObj::Int(tok)) => Converted::Placeholder(tok),
            _ => done(
                Status::Error,
                Value::Error {
                    exc_type: "probe.WireError".into(),
                    message: "placeholder without token".into(),
                },
            ),
        },
        6 => match rest.next() {
            Some(MObj::Str(text)) => done(
                Status::Ok,
                Value::Str {
                    text,
                    truncated: true,
                },
            ),
            Some(MObj::Bytes(data)) => done(
                Status::Ok,
                Value::Bytes {
                    data,
                    truncated: true,
                },
            ),
            _ => done(Status::Ok, Value::Absent),
        },
        7 => {
            let type_name = text(rest.next().as_ref());
            let base = rest.next().map(plain).unwrap_or(Value::Absent);
            done(
                Status::Ok,
                Value::Sub {
                    type_name,
                    base: Box::new(base),
                },
            )
        }
        8 => {
            let v: Vec<MObj> = rest.collect();
            done(
                Status::Ok,
                Value::Other {
                    type_name: text(v.first()),
                    repr: text(v.get(1)),
                    truncated: matches!(v.get(2), Some(MObj::Bool(true))),
                },
            )
        }
        9 => match array(rest.collect()) {
            Ok(a) => done(Status::Ok, Value::Array(a)),
            Err(message) => done(
                Status::Error,
                Value::Error {
                    exc_type: "probe.WireError".into(),
                    message,
                },
            ),
        },
        other => done(
            Status::Error,
            Value::Error {
                exc_type: "probe.WireError".into(),
                message: format!("value tag {other} is not supported by this recorder"),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Hello {
        Hello {
            python_version: "3.12.1".into(),
            python_executable: "python3".into(),
            core: "monitoring".into(),
            core_note: None,
            core_warning: false,
            t0_ns: 1000,
            main_thread: 77,
            probes: Vec::new(),
            sites: vec![vec![0]],
        }
    }

    fn decode_all(d: &mut ChunkDecoder, payload: &[u8]) -> Vec<Capture> {
        let mut out = Vec::new();
        d.decode(payload, |c| {
            out.push(c);
            Ok(())
        })
        .expect("chunk decodes");
        out
    }

    // marshal.dumps(([[0, 1000, (5, 7)]], []))
    const PLACEHOLDER: &[u8] = &[
        41, 2, 91, 1, 0, 0, 0, 91, 3, 0, 0, 0, 233, 0, 0, 0, 0, 233, 232, 3, 0, 0, 169, 2, 233, 5,
        0, 0, 0, 233, 7, 0, 0, 0, 91, 0, 0, 0, 0,
    ];
    // marshal.dumps(([], [(7, 42)]))
    const COMPLETES_7: &[u8] = &[
        41, 2, 91, 0, 0, 0, 0, 91, 1, 0, 0, 0, 169, 2, 233, 7, 0, 0, 0, 233, 42, 0, 0, 0,
    ];
    // marshal.dumps(([], [(9, 5)]))
    const COMPLETES_9: &[u8] = &[
        41, 2, 91, 0, 0, 0, 0, 91, 1, 0, 0, 0, 169, 2, 233, 9, 0, 0, 0, 233, 5, 0, 0, 0,
    ];

    /// A CHUNK_BIN payload with no Python part and these 32-byte records.
    fn bin_payload(recs: &[[u8; 32]]) -> Vec<u8> {
        // marshal.dumps(([], [], [])) (version 4: no refs)
        let blob: &[u8] = &[41, 3, 91, 0, 0, 0, 0, 91, 0, 0, 0, 0, 91, 0, 0, 0, 0];
        let mut b = (blob.len() as u32).to_le_bytes().to_vec();
        b.extend_from_slice(blob);
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(recs.len() as u32).to_le_bytes());
        for r in recs {
            b.extend_from_slice(r);
        }
        b
    }

    /// A record: kind, value tag, thread index, site, ts, first value word.
    fn bin_rec(kind: u8, tag: u8, thread: u16, site: u32, ts: i64, a: u64) -> [u8; 32] {
        let mut r = [0u8; 32];
        r[0] = kind;
        r[1] = tag;
        r[2..4].copy_from_slice(&thread.to_le_bytes());
        r[4..8].copy_from_slice(&site.to_le_bytes());
        r[8..16].copy_from_slice(&ts.to_le_bytes());
        r[16..24].copy_from_slice(&a.to_le_bytes());
        r
    }

    fn decode_bin_all(d: &mut ChunkDecoder, payload: &[u8]) -> Result<Vec<Capture>, WireError> {
        let mut out = Vec::new();
        d.decode_bin(payload, |c| {
            out.push(c);
            Ok(())
        })
        .map(|()| out)
    }

    #[test]
    fn native_records_carry_the_thread_their_index_was_registered_for() {
        let mut d = ChunkDecoder::new(&hello(), 1);
        // Thread index 1 is ident 555; then a record of it and one of the
        // main thread (index 0); then index 2 (ident 556) in a later chunk.
        let first = bin_payload(&[
            bin_rec(4, 0, 0, 1, 0, 555),
            bin_rec(1, 4, 1, 0, 2000, 10),
            bin_rec(1, 4, 0, 0, 2001, 11),
        ]);
        let second = bin_payload(&[
            bin_rec(4, 0, 0, 2, 0, 556),
            bin_rec(1, 4, 2, 0, 2002, 12),
            bin_rec(1, 4, 1, 0, 2003, 13),
        ]);
        let threads = |caps: Vec<Capture>| -> Vec<(u64, u64)> {
            caps.into_iter()
                .map(|c| match c {
                    Capture::Record(r) => (r.seq, r.thread),
                    other => panic!("not a record: {other:?}"),
                })
                .collect()
        };
        assert_eq!(
            threads(decode_bin_all(&mut d, &first).unwrap()),
            [(0, 555), (1, 77)]
        );
        assert_eq!(
            threads(decode_bin_all(&mut d, &second).unwrap()),
            [(2, 556), (3, 555)]
        );
    }

    #[test]
    fn a_thread_index_never_registered_or_registered_out_of_order_is_an_error() {
        let mut d = ChunkDecoder::new(&hello(), 1);
        let err = decode_bin_all(&mut d, &bin_payload(&[bin_rec(1, 4, 3, 0, 2000, 10)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("thread index 3, which was never registered"),
            "{err}"
        );
        let mut d = ChunkDecoder::new(&hello(), 1);
        let err = decode_bin_all(&mut d, &bin_payload(&[bin_rec(4, 0, 0, 2, 0, 9)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("registered out of order"), "{err}");
        let mut d = ChunkDecoder::new(&hello(), 1);
        let err = decode_bin_all(&mut d, &bin_payload(&[bin_rec(4, 0, 0, 0, 0, 9)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a thread registration with index 0"), "{err}");
    }

    #[test]
    fn placeholder_then_completion_join_on_the_placeholders_seq() {
        let mut d = ChunkDecoder::new(&hello(), 1);
        let first = decode_all(&mut d, PLACEHOLDER);
        assert!(matches!(
            &first[..],
            [Capture::Record(CaptureRecord {
                seq: 0,
                status: Status::Pending,
                thread: 77,
                ts_ns: 0,
                ..
            })]
        ));
        let second = decode_all(&mut d, COMPLETES_7);
        assert_eq!(
            second,
            vec![Capture::Completion {
                seq: 0,
                status: Status::Ok,
                value: Value::Int(42)
            }]
        );
        assert_eq!(d.orphan_completions(), 0);
    }

    #[test]
    fn a_torn_chunk_keeps_its_whole_batches_and_bounds_what_was_lost() {
        // marshal.dumps(([[0, 1000, 7], [0, 1001, 8]], [])), cut inside the second item.
        let full: &[u8] = &[
            41, 2, 91, 2, 0, 0, 0, 91, 3, 0, 0, 0, 233, 0, 0, 0, 0, 233, 232, 3, 0, 0, 233, 7, 0,
            0, 0, 91, 3, 0, 0, 0, 114, 0, 0, 0, 0, 233, 233, 3, 0, 0, 233, 8, 0, 0, 0, 91, 0, 0, 0,
            0,
        ];
        let mut d = ChunkDecoder::new(&hello(), 1);
        let mut kept = Vec::new();
        let t = d
            .decode_torn(MSG_CHUNK, &full[..40], |c| {
                kept.push(c);
                Ok(())
            })
            .unwrap();
        assert_eq!(
            t,
            TornChunk {
                announced_batches: Some(2),
                kept_batches: 1,
                kept_captures: 1,
                kept_completions: 0,
                lost_completions: 0,
                lost_captures_at_least: 1,
            }
        );
        assert!(matches!(
            &kept[..],
            [Capture::Record(CaptureRecord {
                seq: 0,
                value: Value::Int(7),
                ..
            })]
        ));
        // Cut before the items list: nothing kept, at least one capture lost.
        let t = d.decode_torn(MSG_CHUNK, &full[..3], |_| Ok(())).unwrap();
        assert_eq!((t.kept_batches, t.lost_captures_at_least), (0, 1));
    }

    #[test]
    fn a_completion_whose_placeholder_never_arrived_is_counted_not_fatal() {
        let mut d = ChunkDecoder::new(&hello(), 1);
        assert!(decode_all(&mut d, COMPLETES_9).is_empty());
        assert_eq!(d.orphan_completions(), 1);
    }
}

//! `probe export --format perfetto` (`.perfetto-trace`, `.pftrace`): a
//! Perfetto protobuf trace — `Trace { repeated TracePacket packet = 1 }` —
//! in which each numeric probe is a counter track (TrackDescriptor with a
//! CounterDescriptor) under one process track named after the run, and each
//! value a `TrackEvent { type: TYPE_COUNTER }` at the record's time (the
//! recording's start, Unix ns, plus `ts_ns`). ui.perfetto.dev and
//! trace_processor open it; the JSON trace format is legacy there.
//!
//! Encoded by hand: the trace uses five message types and a dozen fields
//! (numbers from Perfetto's `protos/perfetto/trace/*.proto`, listed in
//! [`field`]); a protobuf crate would add code generation or reflection for
//! what is a varint-and-length writer. The test decodes the output with
//! Python's official `protobuf` runtime from message definitions of its own.

use std::io::Write;

use crate::history::buffer::{KindCounts, ProbeDataBuffer};
use crate::log::LogReader;
use crate::model::Status;

/// Field numbers (Perfetto's protos).
pub mod field {
    /// `Trace.packet`.
    pub const TRACE_PACKET: u32 = 1;
    /// `TracePacket.timestamp` (uint64, ns).
    pub const PACKET_TIMESTAMP: u32 = 8;
    /// `TracePacket.trusted_packet_sequence_id`.
    pub const PACKET_SEQUENCE_ID: u32 = 10;
    /// `TracePacket.track_event`.
    pub const PACKET_TRACK_EVENT: u32 = 11;
    /// `TracePacket.sequence_flags` (1 = SEQ_INCREMENTAL_STATE_CLEARED).
    pub const PACKET_SEQUENCE_FLAGS: u32 = 13;
    /// `TracePacket.track_descriptor`.
    pub const PACKET_TRACK_DESCRIPTOR: u32 = 60;
    /// `TrackDescriptor.uuid`.
    pub const TRACK_UUID: u32 = 1;
    /// `TrackDescriptor.name`.
    pub const TRACK_NAME: u32 = 2;
    /// `TrackDescriptor.process`.
    pub const TRACK_PROCESS: u32 = 3;
    /// `TrackDescriptor.parent_uuid`.
    pub const TRACK_PARENT_UUID: u32 = 5;
    /// `TrackDescriptor.counter`.
    pub const TRACK_COUNTER: u32 = 8;
    /// `ProcessDescriptor.pid`.
    pub const PROCESS_PID: u32 = 1;
    /// `ProcessDescriptor.process_name`.
    pub const PROCESS_NAME: u32 = 6;
    /// `TrackEvent.type` (4 = TYPE_COUNTER).
    pub const EVENT_TYPE: u32 = 9;
    /// `TrackEvent.track_uuid`.
    pub const EVENT_TRACK_UUID: u32 = 11;
    /// `TrackEvent.counter_value` (int64).
    pub const EVENT_COUNTER_VALUE: u32 = 30;
    /// `TrackEvent.double_counter_value`.
    pub const EVENT_DOUBLE_COUNTER_VALUE: u32 = 44;
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    key(out, field, 0);
    varint(out, v);
}

fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    key(out, field, 1);
    out.extend_from_slice(&v.to_le_bytes());
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// The process track's uuid; probe `p`'s counter tracks are
/// `TRACK_BASE + 2p` (real part / value) and `TRACK_BASE + 2p + 1` (imaginary).
const PROCESS_TRACK: u64 = 1;
const TRACK_BASE: u64 = 1000;
const SEQUENCE: u64 = 1;

/// What the trace got.
#[derive(Debug, Default)]
pub struct PerfettoSummary {
    /// Counter values written.
    pub values: u64,
    /// Probes written as counter tracks.
    pub tracks: usize,
    /// Probes left out (no numeric values), by label.
    pub skipped: Vec<String>,
}

fn packet(out: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    let mut p = Vec::with_capacity(body.len() + 8);
    bytes(&mut p, field::TRACE_PACKET, body);
    out.write_all(&p)
}

/// Write the Perfetto trace of `reader`'s records of the probes with
/// `keep[id]` (all when `None`).
pub fn write(
    reader: &LogReader,
    keep: Option<&[bool]>,
    out: &mut impl Write,
) -> std::io::Result<PerfettoSummary> {
    let meta = reader.meta();
    let labels = meta.unique_labels();
    let n = meta.probes.len();
    // Which probes hold numbers, and complex ones: one pass over the kinds.
    let wanted: Vec<bool> = (0..n)
        .map(|p| keep.is_none_or(|k| k.get(p).copied().unwrap_or(false)))
        .collect();
    let hist = crate::history::buffer::build(reader, &wanted);
    let kinds: Vec<KindCounts> = hist
        .buffers
        .iter()
        .map(|b: &ProbeDataBuffer| *b.kinds())
        .collect();
    let numeric: Vec<bool> = (0..n)
        .map(|p| wanted[p] && (kinds[p].real() + kinds[p].complex) > 0)
        .collect();
    let complex: Vec<bool> = (0..n).map(|p| kinds[p].complex > 0).collect();
    let mut sum = PerfettoSummary::default();
    // The process track: the program.
    let mut proc_desc = Vec::new();
    uint(&mut proc_desc, field::PROCESS_PID, 1);
    let name = meta
        .command
        .iter()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or_else(
            || "python".to_string(),
            |a| a.rsplit('/').next().unwrap_or(a).to_string(),
        );
    bytes(
        &mut proc_desc,
        field::PROCESS_NAME,
        format!("{name} (probe)").as_bytes(),
    );
    let mut td = Vec::new();
    uint(&mut td, field::TRACK_UUID, PROCESS_TRACK);
    bytes(&mut td, field::TRACK_PROCESS, &proc_desc);
    let mut pk = Vec::new();
    uint(&mut pk, field::PACKET_SEQUENCE_ID, SEQUENCE);
    uint(&mut pk, field::PACKET_SEQUENCE_FLAGS, 1);
    bytes(&mut pk, field::PACKET_TRACK_DESCRIPTOR, &td);
    packet(out, &pk)?;
    for p in 0..n {
        if !wanted[p] {
            continue;
        }
        if !numeric[p] {
            sum.skipped.push(labels[p].clone());
            continue;
        }
        sum.tracks += 1;
        let parts: &[(u64, String)] = &if complex[p] {
            vec![
                (TRACK_BASE + 2 * p as u64, format!("{} (real)", labels[p])),
                (
                    TRACK_BASE + 2 * p as u64 + 1,
                    format!("{} (imag)", labels[p]),
                ),
            ]
        } else {
            vec![(TRACK_BASE + 2 * p as u64, labels[p].clone())]
        };
        for (uuid, label) in parts {
            let mut td = Vec::new();
            uint(&mut td, field::TRACK_UUID, *uuid);
            uint(&mut td, field::TRACK_PARENT_UUID, PROCESS_TRACK);
            bytes(&mut td, field::TRACK_NAME, label.as_bytes());
            bytes(&mut td, field::TRACK_COUNTER, &[]);
            let mut pk = Vec::new();
            uint(&mut pk, field::PACKET_SEQUENCE_ID, SEQUENCE);
            bytes(&mut pk, field::PACKET_TRACK_DESCRIPTOR, &td);
            packet(out, &pk)?;
        }
    }
    // Values in seq order (the histories are per probe; merge by seq).
    let mut at = vec![0usize; n];
    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(u64, usize)>> = (0..n)
        .filter(|&p| numeric[p] && !hist.buffers[p].is_empty())
        .map(|p| std::cmp::Reverse((hist.buffers[p].seqs()[0], p)))
        .collect();
    let mut ev = Vec::with_capacity(32);
    let mut pk = Vec::with_capacity(48);
    while let Some(std::cmp::Reverse((_, p))) = heap.pop() {
        let b = &hist.buffers[p];
        let i = at[p];
        at[p] += 1;
        if let Some(&s) = b.seqs().get(i + 1) {
            heap.push(std::cmp::Reverse((s, p)));
        }
        let ts = meta.start_unix_ns.saturating_add(b.timestamps()[i]);
        let status = b.status_at(i as u64);
        if !matches!(status, Status::Ok | Status::Raised) {
            continue;
        }
        let re = b.values()[i];
        let im = b.imag().get(i).copied().unwrap_or(f64::NAN);
        let exact_int = match b.other_at(i as u64) {
            Some(_) => None,
            None if kinds[p].float == 0
                && kinds[p].complex == 0
                && re.fract() == 0.0
                && re.abs() < 9.0e15 =>
            {
                Some(re as i64)
            }
            None => None,
        };
        for (k, v) in [(0u64, re), (1, im)] {
            if k == 1 && !complex[p] {
                continue;
            }
            if !v.is_finite() {
                // A counter has no "no value": NaN/inf are left out.
                continue;
            }
            ev.clear();
            uint(&mut ev, field::EVENT_TYPE, 4);
            uint(
                &mut ev,
                field::EVENT_TRACK_UUID,
                TRACK_BASE + 2 * p as u64 + k,
            );
            match exact_int {
                Some(x) if k == 0 => uint(&mut ev, field::EVENT_COUNTER_VALUE, x as u64),
                _ => double(&mut ev, field::EVENT_DOUBLE_COUNTER_VALUE, v),
            }
            pk.clear();
            uint(&mut pk, field::PACKET_TIMESTAMP, ts);
            uint(&mut pk, field::PACKET_SEQUENCE_ID, SEQUENCE);
            bytes(&mut pk, field::PACKET_TRACK_EVENT, &ev);
            packet(out, &pk)?;
            sum.values += 1;
        }
    }
    Ok(sum)
}

//! `probe info`: summarise a log — the run, each probe's counts, statuses,
//! value kinds and numeric range, completeness and size.
//!
//! Works on damaged logs too: it summarises every readable record and lists
//! the damage found (`issues`, from the reading layer's
//! [`crate::log::walk::ReadReport`]); `verify` is the tool that judges.
//! The human table names probes by their short, unambiguous labels
//! (`weighted.py:866:vu_dist@lhs`); `--json` keeps the full spec.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::log::meta::ExitInfo;
use crate::log::reader::LogReader;
use crate::log::LogError;
use crate::model::{short_labels, Core, Kind, Status, Value, ValueTag};
use crate::text::{num, Esc};

fn kind_bit(k: Kind) -> u16 {
    1 << k.index()
}

/// Summary of the run (from META and END).
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// `probe` version that wrote the log.
    pub probe_version: String,
    /// Command line of the traced program.
    pub command: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// Python version.
    pub python_version: String,
    /// Python executable.
    pub python_executable: String,
    /// Tracer core.
    pub core: Core,
    /// Why that core (see `RunMeta::core_note`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core_note: Option<String>,
    /// Start time, ns since the Unix epoch.
    pub start_unix_ns: u64,
    /// Start time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub start_utc: String,
    /// Duration from the end marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ns: Option<u64>,
    /// How the program ended, from the end marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitInfo>,
    /// Child processes the program started that ran untraced (end marker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untraced_children: Option<u64>,
    /// Captures made but not in the log (end marker's `lost_records`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_records: Option<u64>,
    /// Captures whose record is in the log but whose value was lost (end
    /// marker's `lost_values`; those records say `incomplete`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_values: Option<u64>,
    /// What the end marker says was lost, in words (as `verify` says it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<String>,
}

/// Count of records per status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// `ok`
    pub ok: u64,
    /// `unbound`
    pub unbound: u64,
    /// `raised`
    pub raised: u64,
    /// `error`
    pub error: u64,
    /// `incomplete`
    pub incomplete: u64,
    /// Placeholders never completed (only in incomplete or damaged logs).
    pub pending: u64,
}

impl StatusCounts {
    fn add(&mut self, s: Status) {
        match s {
            Status::Ok => self.ok += 1,
            Status::Unbound => self.unbound += 1,
            Status::Raised => self.raised += 1,
            Status::Error => self.error += 1,
            Status::Incomplete => self.incomplete += 1,
            Status::Pending => self.pending += 1,
        }
    }
}

/// Summary of one probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeSummary {
    /// Probe id.
    pub id: u32,
    /// Canonical spec (full path).
    pub spec: String,
    /// Short, unambiguous label (what the human table shows).
    #[serde(skip)]
    pub label: String,
    /// Records read.
    pub count: u64,
    /// Records per status.
    pub statuses: StatusCounts,
    /// Value kinds seen (see [`Value::kind`]).
    pub kinds: Vec<String>,
    /// Smallest numeric (int/float) value, NaN ignored.
    pub min: Option<Number>,
    /// Largest numeric value, NaN ignored.
    pub max: Option<Number>,
    /// Last numeric value (in seq order; records of other kinds after it
    /// are not numbers).
    pub last: Option<Number>,
}

/// A numeric value of `info`'s summary: ints exactly (within 128 bits;
/// beyond, rounded to a float), as JSON integers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Number {
    /// An int.
    Int(i128),
    /// A float (or an int beyond 128 bits).
    Float(f64),
}

impl Number {
    fn f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(x) => x,
        }
    }

    /// `self < other`, ints compared exactly.
    fn lt(self, other: Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a < b,
            _ => self.f64() < other.f64(),
        }
    }
}

/// What `probe info` prints.
#[derive(Debug, Clone, Serialize)]
pub struct InfoReport {
    /// Format version of the file.
    pub format_version: u16,
    /// The run.
    pub run: RunSummary,
    /// One entry per probe of the table.
    pub probes: Vec<ProbeSummary>,
    /// The log has an end marker.
    pub complete: bool,
    /// Records read.
    pub records: u64,
    /// Frames in the file.
    pub frames: u64,
    /// File size.
    pub file_bytes: u64,
    /// Uncompressed size of all frame payloads.
    pub raw_bytes: u64,
    /// `raw_bytes / file_bytes`.
    pub compression_ratio: f64,
    /// `file_bytes / records` (0 when there are none).
    pub bytes_per_record: f64,
    /// Damage found while reading (each names its offset).
    pub issues: Vec<String>,
}

struct Acc {
    count: u64,
    statuses: StatusCounts,
    kinds: u16,
    min: Option<Number>,
    max: Option<Number>,
    last: Option<Number>,
}

impl Acc {
    #[inline]
    fn num(&mut self, x: Number) {
        self.last = Some(x);
        if matches!(x, Number::Float(f) if f.is_nan()) {
            return;
        }
        if self.min.is_none_or(|m| x.lt(m)) {
            self.min = Some(x);
        }
        if self.max.is_none_or(|m| m.lt(x)) {
            self.max = Some(x);
        }
    }

    fn value(&mut self, v: &Value) {
        self.kinds |= kind_bit(v.kind());
        let mut v = v;
        while let Value::Sub { base, .. } = v {
            v = base;
        }
        match v {
            Value::Int(i) => self.num(Number::Int(i128::from(*i))),
            Value::BigInt(s) => match s.parse::<i128>() {
                Ok(i) => self.num(Number::Int(i)),
                Err(_) => {
                    if let Some(x) = v.as_f64() {
                        self.num(Number::Float(x));
                    }
                }
            },
            Value::Float(x) => self.num(Number::Float(*x)),
            _ => {}
        }
    }
}

/// Open the log at `path` and summarise it. Fails when the log cannot be
/// read at all, or does not fit the memory budget.
pub fn info_path(path: &Path) -> Result<InfoReport, LogError> {
    info(&LogReader::open(path)?)
}

/// Summarise an opened log.
pub fn info(r: &LogReader) -> Result<InfoReport, LogError> {
    r.check_work(crate::log::limits::Work::Info)?;
    let meta = r.meta();
    let mut acc: Vec<Acc> = meta
        .probes
        .iter()
        .map(|_| Acc {
            count: 0,
            statuses: StatusCounts::default(),
            kinds: 0,
            min: None,
            max: None,
            last: None,
        })
        .collect();
    let mut walk = r.walk(false)?;
    while let Some(next) = walk.next_block() {
        let b = match next {
            Ok((_, b)) => b,
            // Reported by the walk; over budget ends it.
            Err(e) if e.is_resource() => return Err(e),
            Err(_) => continue,
        };
        for i in 0..b.len() {
            // The decoder checked every probe id against the table.
            let Some(a) = acc.get_mut(b.probe[i] as usize) else {
                continue;
            };
            a.count += 1;
            a.statuses.add(b.status[i]);
            // Fast path for scalars: no Value is built.
            match b.tag[i] {
                ValueTag::Int => {
                    a.kinds |= kind_bit(Kind::Int);
                    a.num(Number::Int(i128::from(b.num[i] as i64)));
                }
                ValueTag::Float => {
                    a.kinds |= kind_bit(Kind::Float);
                    a.num(Number::Float(f64::from_bits(b.num[i])));
                }
                t if t.is_word() => a.kinds |= kind_bit(b.kind(i)),
                _ => {
                    if let Some(v) = b.side(i) {
                        a.value(v);
                    }
                }
            }
        }
    }
    let report = walk.finish();
    let records = report.records;
    let issues: Vec<String> = report.messages();
    let labels = short_labels(&meta.probes);
    let probes = meta
        .probes
        .iter()
        .zip(acc)
        .zip(labels)
        .map(|((p, a), label)| ProbeSummary {
            id: p.id,
            spec: p.spec.clone(),
            label,
            count: a.count,
            statuses: a.statuses,
            kinds: Kind::ALL
                .iter()
                .filter(|k| a.kinds & kind_bit(**k) != 0)
                .map(|k| k.as_str().to_string())
                .collect(),
            min: a.min,
            max: a.max,
            last: a.last,
        })
        .collect();
    let end = r.end();
    let raw_bytes: u64 = r.frames().iter().map(|f| u64::from(f.header.raw_len)).sum();
    let file_bytes = r.file_len();
    Ok(InfoReport {
        format_version: r.version(),
        run: RunSummary {
            probe_version: meta.probe_version.clone(),
            command: meta.command.clone(),
            cwd: meta.cwd.clone(),
            python_version: meta.python_version.clone(),
            python_executable: meta.python_executable.clone(),
            core: meta.core.clone(),
            core_note: meta.core_note.clone(),
            start_unix_ns: meta.start_unix_ns,
            start_utc: utc_string(meta.start_unix_ns),
            duration_ns: end.map(|e| e.duration_ns),
            exit: end.map(|e| e.exit.clone()),
            untraced_children: end.map(|e| e.untraced_children),
            lost_records: end.map(|e| e.lost_records),
            lost_values: end.map(|e| e.lost_values),
            lost: end.map_or_else(Vec::new, |e| {
                crate::log::coverage::lost_captures(e)
                    .into_iter()
                    .chain(crate::log::coverage::lost_values(e))
                    .collect()
            }),
        },
        probes,
        complete: end.is_some(),
        records,
        frames: r.frames().len() as u64,
        file_bytes,
        raw_bytes,
        compression_ratio: if file_bytes > 0 {
            raw_bytes as f64 / file_bytes as f64
        } else {
            0.0
        },
        bytes_per_record: if records > 0 {
            file_bytes as f64 / records as f64
        } else {
            0.0
        },
        issues,
    })
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for ns since the epoch (civil-from-days,
/// proleptic Gregorian calendar).
pub fn utc_string(unix_ns: u64) -> String {
    let secs = unix_ns / 1_000_000_000;
    let ms = (unix_ns / 1_000_000) % 1000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

fn fmt_num(x: Option<Number>) -> String {
    match x {
        None => "-".to_string(),
        Some(Number::Int(i)) => i.to_string(),
        Some(Number::Float(f)) => num(f),
    }
}

fn secs(ns: u64) -> String {
    crate::text::format_duration(std::time::Duration::from_nanos(ns))
}

impl fmt::Display for InfoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.run;
        writeln!(f, "command:    {}", Esc(&r.command.join(" ")))?;
        writeln!(f, "cwd:        {}", Esc(&r.cwd))?;
        writeln!(
            f,
            "python:     {} ({}), core {}",
            Esc(&r.python_version),
            Esc(&r.python_executable),
            Esc(r.core.as_str())
        )?;
        if let Some(note) = &r.core_note {
            writeln!(f, "core note:  {}", Esc(note))?;
        }
        writeln!(
            f,
            "started:    {}{}",
            r.start_utc,
            r.duration_ns
                .map(|d| format!(", ran {}", secs(d)))
                .unwrap_or_default()
        )?;
        match &r.exit {
            Some(e) => {
                let mut s = format!("{}, code {}", e.kind, e.code);
                if let Some(sig) = e.signal {
                    s.push_str(&format!(", signal {sig}"));
                }
                if let Some(x) = &e.exception {
                    s.push_str(&format!(", {x}"));
                }
                if let Some(d) = &e.detail {
                    s.push_str(&format!(" ({d})"));
                }
                writeln!(f, "exit:       {}", Esc(&s))?;
            }
            None => writeln!(f, "exit:       unknown (no end marker)")?,
        }
        if let Some(n @ 1..) = r.untraced_children {
            writeln!(
                f,
                "children:   {n} child process{} ran untraced: their captures are not in the log",
                if n == 1 { "" } else { "es" }
            )?;
        }
        for l in &r.lost {
            writeln!(f, "LOST:       {}", Esc(l))?;
        }
        writeln!(
            f,
            "log:        {}; format v{}; {} record{} in {} frame{}",
            if self.complete {
                "complete"
            } else {
                "INCOMPLETE"
            },
            self.format_version,
            self.records,
            if self.records == 1 { "" } else { "s" },
            self.frames,
            if self.frames == 1 { "" } else { "s" }
        )?;
        writeln!(
            f,
            "size:       {} bytes ({:.3} bytes/record), {} bytes uncompressed (ratio {:.2})",
            self.file_bytes, self.bytes_per_record, self.raw_bytes, self.compression_ratio
        )?;
        let head = [
            "id", "probe", "count", "ok", "unbound", "raised", "error", "incompl", "pending",
            "kinds", "min", "max", "last",
        ];
        let rows: Vec<[String; 13]> = self
            .probes
            .iter()
            .map(|p| {
                let s = &p.statuses;
                [
                    p.id.to_string(),
                    crate::text::escape(&p.label).into_owned(),
                    p.count.to_string(),
                    s.ok.to_string(),
                    s.unbound.to_string(),
                    s.raised.to_string(),
                    s.error.to_string(),
                    s.incomplete.to_string(),
                    s.pending.to_string(),
                    if p.kinds.is_empty() {
                        "-".to_string()
                    } else {
                        p.kinds.join(",")
                    },
                    fmt_num(p.min),
                    fmt_num(p.max),
                    fmt_num(p.last),
                ]
            })
            .collect();
        let mut w = head.map(str::len);
        for row in &rows {
            for (i, c) in row.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |cells: &[&str]| -> String {
            let mut s = String::from(" ");
            for (i, c) in cells.iter().enumerate() {
                // Text columns (probe, kinds) left-aligned, numbers right-aligned.
                if i == 1 || i == 9 {
                    s.push_str(&format!(" {:<width$}", c, width = w[i]));
                } else {
                    s.push_str(&format!(" {:>width$}", c, width = w[i]));
                }
            }
            s.trim_end().to_string()
        };
        writeln!(f, "probes:")?;
        writeln!(f, "{}", line(&head))?;
        for row in &rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            writeln!(f, "{}", line(&cells))?;
        }
        for i in &self.issues {
            writeln!(f, "damage:     {}", Esc(i))?;
        }
        Ok(())
    }
}

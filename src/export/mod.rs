//! `probe export`: write a log's records as Parquet, Arrow IPC, CSV or JSON
//! Lines (SPEC §9), one row per record in seq order.
//!
//! The data's path: the log is memory-mapped ([`LogReader`]), its RECORDS
//! frames are decoded into columnar [`RecordBlock`]s in parallel (rayon),
//! placeholders are joined with their completions, and each block becomes
//! one Arrow `RecordBatch` (built straight from the block's columns, see
//! [`columns`]) or one chunk of text ([`text`]). A single writer thread
//! appends the chunks in seq order to a temporary file next to the output,
//! which is renamed over the output only when everything was written — a
//! failed export never leaves a half-written file under the requested name.
//!
//! The column set and the JSON Lines schema are documented in
//! `docs/EXPORT.md` and `docs/JSONL.md`.

pub mod columns;
pub mod perfetto;
pub mod text;
pub mod wide;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use rayon::prelude::*;

use crate::log::format::FrameKind;
use crate::log::{LogError, LogReader, RecordBlock};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet (snappy-compressed).
    Parquet,
    /// Arrow IPC file format (`.arrow`, also read as Feather v2).
    Arrow,
    /// Comma-separated values with a header row.
    Csv,
    /// JSON Lines: one JSON object per record (`docs/JSONL.md`).
    Jsonl,
    /// Perfetto protobuf trace: numeric probes as counter tracks.
    Perfetto,
}

impl Format {
    /// Every format with its name (as given to `--format`).
    pub const ALL: [(Format, &'static str); 5] = [
        (Format::Parquet, "parquet"),
        (Format::Arrow, "arrow"),
        (Format::Csv, "csv"),
        (Format::Jsonl, "jsonl"),
        (Format::Perfetto, "perfetto"),
    ];

    /// The format named `name` (`parquet`, `arrow`, `csv`, `jsonl`; also
    /// the extensions `ipc`, `feather` and `ndjson`).
    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Some(Format::Parquet),
            "arrow" | "ipc" | "feather" => Some(Format::Arrow),
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "perfetto" | "perfetto-trace" | "pftrace" => Some(Format::Perfetto),
            _ => None,
        }
    }

    /// The format an output path's extension names.
    pub fn from_path(path: &Path) -> Option<Format> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Format::from_name)
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        Format::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("?", |(_, n)| n)
    }
}

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The log to read.
    pub input: PathBuf,
    /// The file to write.
    pub output: PathBuf,
    /// Output format (see [`Format::from_path`] for the default).
    pub format: Format,
    /// `--probe` selectors ([`crate::log::ProbeInfo::matches`]); empty = all probes.
    pub probes: Vec<String>,
    /// Overwrite an existing output.
    pub force: bool,
    /// Export the readable records of an incomplete or damaged log instead
    /// of refusing it.
    pub allow_incomplete: bool,
    /// One row per batch, one column per scalar probe ([`wide`]).
    pub wide: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportSummary {
    /// Rows written.
    pub rows: u64,
    /// Probes exported (after `--probe` selection).
    pub probes: usize,
    /// Size of the output file.
    pub bytes: u64,
    /// Damage skipped with `--allow-incomplete` (empty for a complete log).
    pub warnings: Vec<String>,
}

/// Why an export failed. Every variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The log could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Log {
        /// The log.
        path: PathBuf,
        /// What is wrong with it.
        source: LogError,
    },
    /// The log is incomplete or damaged and `--allow-incomplete` was not given.
    #[error("{path} is incomplete: {why}; use --allow-incomplete to export the {records} readable records")]
    Incomplete {
        /// The log.
        path: PathBuf,
        /// Missing end marker, or the first damage found.
        why: String,
        /// Records that could be read.
        records: u64,
    },
    /// The output exists and `--force` was not given.
    #[error("{path} already exists; refusing to overwrite it (use --force)")]
    OutputExists {
        /// The output.
        path: PathBuf,
    },
    /// Creating, writing or renaming the output failed.
    #[error("cannot write {path}: {error}")]
    Io {
        /// The output.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// A `--probe` selector matched none of the log's probes.
    #[error("--probe {selector:?} matches no probe of {path}; its probes are: {available}")]
    NoSuchProbe {
        /// The selector.
        selector: String,
        /// The log.
        path: PathBuf,
        /// The log's probe labels, comma-separated.
        available: String,
    },
    /// The Arrow or Parquet library refused the data (a bug, reported as such).
    #[error("encoding {format} for {path}: {detail}")]
    Encode {
        /// Output format.
        format: &'static str,
        /// The output.
        path: PathBuf,
        /// The library's message.
        detail: String,
    },
}

/// The probe selection: `None` for all, else one flag per probe id.
fn select(r: &LogReader, selectors: &[String]) -> Result<Option<Vec<bool>>, ExportError> {
    if selectors.is_empty() {
        return Ok(None);
    }
    let probes = &r.meta().probes;
    let mut keep = vec![false; probes.len()];
    for s in selectors {
        let mut any = false;
        for (k, p) in keep.iter_mut().zip(probes) {
            if p.matches(s) {
                *k = true;
                any = true;
            }
        }
        if !any {
            return Err(ExportError::NoSuchProbe {
                selector: s.clone(),
                path: r.path().to_path_buf(),
                available: probes
                    .iter()
                    .map(|p| p.label())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(Some(keep))
}

/// A run of frames turned into output: Arrow batches, encoded Parquet
/// column chunks (one row group), or text.
enum Chunk {
    Batches(Vec<arrow::record_batch::RecordBatch>),
    RowGroup(Vec<parquet::arrow::arrow_writer::ArrowColumnChunk>),
    Text(Vec<u8>),
}

/// Where chunks go (runs on the writer thread).
enum Sink {
    Parquet(parquet::file::writer::SerializedFileWriter<BufWriter<File>>),
    Arrow(arrow::ipc::writer::FileWriter<BufWriter<File>>),
    Text(BufWriter<File>),
}

impl Sink {
    fn write(&mut self, chunk: Chunk) -> Result<(), (&'static str, String)> {
        match (self, chunk) {
            (Sink::Parquet(w), Chunk::RowGroup(cols)) => {
                let mut rg = w.next_row_group().map_err(|e| ("parquet", e.to_string()))?;
                for c in cols {
                    c.append_to_row_group(&mut rg)
                        .map_err(|e| ("parquet", e.to_string()))?;
                }
                rg.close().map_err(|e| ("parquet", e.to_string()))?;
            }
            (Sink::Arrow(w), Chunk::Batches(bs)) => {
                for b in bs {
                    w.write(&b).map_err(|e| ("arrow", e.to_string()))?;
                }
            }
            (Sink::Text(w), Chunk::Text(t)) => {
                w.write_all(&t).map_err(|e| ("io", e.to_string()))?
            }
            _ => return Err(("internal", "chunk kind does not fit the sink".into())),
        }
        Ok(())
    }

    fn finish(self) -> Result<BufWriter<File>, (&'static str, String)> {
        match self {
            Sink::Parquet(w) => w.into_inner().map_err(|e| ("parquet", e.to_string())),
            Sink::Arrow(mut w) => {
                w.finish().map_err(|e| ("arrow", e.to_string()))?;
                w.into_inner().map_err(|e| ("arrow", e.to_string()))
            }
            Sink::Text(w) => Ok(w),
        }
    }
}

/// A temporary output file that is removed unless [`TempOut::keep`] renames it.
struct TempOut {
    tmp: PathBuf,
    kept: bool,
}

impl Drop for TempOut {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl TempOut {
    fn create(output: &Path) -> Result<(TempOut, File), ExportError> {
        let io = |error| ExportError::Io {
            path: output.to_path_buf(),
            error,
        };
        let name = output
            .file_name()
            .ok_or_else(|| {
                io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a file name",
                ))
            })?
            .to_string_lossy()
            .into_owned();
        let dir = output.parent().filter(|p| !p.as_os_str().is_empty());
        let tmp_name = format!(".{name}.{}.partial", std::process::id());
        let tmp = match dir {
            Some(d) => d.join(tmp_name),
            None => PathBuf::from(tmp_name),
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io)?;
        Ok((TempOut { tmp, kept: false }, file))
    }

    fn keep(mut self, output: &Path, force: bool) -> Result<(), ExportError> {
        if !force && output.exists() {
            return Err(ExportError::OutputExists {
                path: output.to_path_buf(),
            });
        }
        std::fs::rename(&self.tmp, output).map_err(|error| ExportError::Io {
            path: output.to_path_buf(),
            error,
        })?;
        self.kept = true;
        Ok(())
    }
}

/// Frames per Parquet row group (65,536 records each: ~1 M rows).
const ROW_GROUP_FRAMES: usize = 16;

/// What one unit of frames produced.
struct UnitOut {
    chunk: Option<(Chunk, u64)>,
    skipped: Vec<String>,
}

/// Everything the parallel encoders share.
struct Encoder<'a> {
    reader: &'a LogReader,
    completions: std::collections::HashMap<u64, (crate::model::Status, crate::model::Value)>,
    format: Format,
    layout: columns::Layout,
    roles: Vec<&'static str>,
    keep: Option<Vec<bool>>,
    allow_incomplete: bool,
    row_groups: Option<parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory>,
}

impl Encoder<'_> {
    /// Decode and encode one run of frames.
    fn unit(
        &self,
        codec: &mut crate::log::block::BlockCodec,
        index: usize,
        frames: &[crate::log::FrameInfo],
    ) -> Result<UnitOut, Result<LogError, String>> {
        let mut skipped = Vec::new();
        let mut rows = 0u64;
        let mut batches = Vec::new();
        let mut text = Vec::new();
        let n_probes = self.layout.labels().len();
        let keep = self.keep.as_deref();
        for f in frames {
            let block = self.reader.decode_block(f, codec).and_then(|mut b| {
                b.join_completions(&self.completions);
                check_probe_ids(&b, n_probes, f.offset)?;
                Ok(b)
            });
            let block = match block {
                Ok(b) => b,
                Err(e) if self.allow_incomplete => {
                    skipped.push(format!(
                        "skipped a frame of {}: {e}",
                        self.reader.path().display()
                    ));
                    continue;
                }
                Err(e) => return Err(Ok(e)),
            };
            let n = match keep {
                None => block.len() as u64,
                Some(k) => block
                    .probe
                    .iter()
                    .filter(|&&p| k.get(p as usize).copied().unwrap_or(false))
                    .count() as u64,
            };
            if n == 0 {
                continue;
            }
            rows += n;
            let labels = self.layout.labels();
            match self.format {
                Format::Parquet | Format::Arrow => {
                    batches.push(self.layout.batch(block, keep).map_err(Err)?)
                }
                Format::Csv => text.extend(text::csv_block(&block, labels, &self.roles, keep)),
                // Written by perfetto::write before any unit is encoded.
                Format::Jsonl | Format::Perfetto => {
                    text.extend(text::jsonl_block(&block, labels, &self.roles, keep))
                }
            }
        }
        if rows == 0 {
            return Ok(UnitOut {
                chunk: None,
                skipped,
            });
        }
        let chunk = match (self.format, &self.row_groups) {
            (Format::Parquet, Some(factory)) => {
                let pq = |e: parquet::errors::ParquetError| Err(e.to_string());
                let mut writers = factory.create_column_writers(index).map_err(pq)?;
                let schema = self.layout.schema();
                for b in &batches {
                    let mut w = writers.iter_mut();
                    for (field, col) in schema.fields().iter().zip(b.columns()) {
                        for leaf in
                            parquet::arrow::arrow_writer::compute_leaves(field, col).map_err(pq)?
                        {
                            w.next()
                                .ok_or_else(|| Err("fewer column writers than leaves".to_string()))?
                                .write(&leaf)
                                .map_err(pq)?;
                        }
                    }
                }
                Chunk::RowGroup(
                    writers
                        .into_iter()
                        .map(|w| w.close())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(pq)?,
                )
            }
            (Format::Arrow | Format::Parquet, _) => Chunk::Batches(batches),
            _ => Chunk::Text(text),
        };
        Ok(UnitOut {
            chunk: Some((chunk, rows)),
            skipped,
        })
    }
}

/// Export a log. `progress(rows_done, rows_total)` is called as blocks are
/// written.
pub fn export(
    opts: &ExportOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportSummary, ExportError> {
    let reader = LogReader::open(&opts.input).map_err(|source| ExportError::Log {
        path: opts.input.clone(),
        source,
    })?;
    let mut warnings = Vec::new();
    if let Some(why) = reader.incompleteness() {
        if !opts.allow_incomplete {
            return Err(ExportError::Incomplete {
                path: opts.input.clone(),
                why,
                records: reader.readable_records(),
            });
        }
        warnings.push(format!("{} is incomplete: {why}", opts.input.display()));
    }
    let keep = select(&reader, &opts.probes)?;
    let same_file = match (opts.input.canonicalize(), opts.output.canonicalize()) {
        (Ok(i), Ok(o)) => i == o,
        _ => false,
    };
    if same_file {
        return Err(ExportError::Io {
            path: opts.output.clone(),
            error: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "it is the log being exported",
            ),
        });
    }
    if !opts.force && opts.output.exists() {
        return Err(ExportError::OutputExists {
            path: opts.output.clone(),
        });
    }
    if opts.wide {
        let (tmp, file) = TempOut::create(&opts.output)?;
        let io_err = |error: std::io::Error| ExportError::Io {
            path: opts.output.clone(),
            error,
        };
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let s = wide::write(&reader, keep.as_deref(), opts.format, &mut w).map_err(|detail| {
            ExportError::Encode {
                format: opts.format.name(),
                path: opts.output.clone(),
                detail,
            }
        })?;
        let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
        let bytes = file.metadata().map_err(io_err)?.len();
        drop(file);
        tmp.keep(&opts.output, opts.force)?;
        if !s.skipped.is_empty() {
            warnings.push(format!(
                "not scalar numbers, so no column: {}",
                s.skipped.join(", ")
            ));
        }
        return Ok(ExportSummary {
            rows: s.rows,
            probes: s.columns,
            bytes,
            warnings,
        });
    }
    if opts.format == Format::Perfetto {
        let (tmp, file) = TempOut::create(&opts.output)?;
        let io_err = |error: std::io::Error| ExportError::Io {
            path: opts.output.clone(),
            error,
        };
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let s = perfetto::write(&reader, keep.as_deref(), &mut w).map_err(io_err)?;
        let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
        let bytes = file.metadata().map_err(io_err)?.len();
        drop(file);
        tmp.keep(&opts.output, opts.force)?;
        if !s.skipped.is_empty() {
            warnings.push(format!(
                "not numeric, so not counter tracks: {}",
                s.skipped.join(", ")
            ));
        }
        return Ok(ExportSummary {
            rows: s.values,
            probes: s.tracks,
            bytes,
            warnings,
        });
    }
    let layout = columns::Layout::new(reader.meta(), opts.format == Format::Parquet);
    let (tmp, file) = TempOut::create(&opts.output)?;
    let out_path = opts.output.clone();
    let encode_err = |format: &'static str, detail: String| ExportError::Encode {
        format,
        path: out_path.clone(),
        detail,
    };
    let io_err = |error: std::io::Error| ExportError::Io {
        path: out_path.clone(),
        error,
    };
    let buf = BufWriter::with_capacity(1 << 20, file);
    let mut row_groups = None;
    let sink = match opts.format {
        Format::Parquet => {
            // ArrowWriter embeds the Arrow schema (dictionary and unsigned
            // types) in the file's metadata; its serialized writer and
            // row-group factory let row groups be encoded in parallel.
            let w = parquet::arrow::ArrowWriter::try_new(
                buf,
                layout.schema(),
                Some(columns::parquet_properties(columns::run_footer(
                    reader.meta(),
                    reader.end(),
                ))),
            )
            .and_then(|w| w.into_serialized_writer())
            .map_err(|e| encode_err("parquet", e.to_string()))?;
            row_groups = Some(w.1);
            Sink::Parquet(w.0)
        }
        Format::Arrow => Sink::Arrow(
            arrow::ipc::writer::FileWriter::try_new(buf, &layout.schema())
                .map_err(|e| encode_err("arrow", e.to_string()))?,
        ),
        Format::Csv => {
            let mut b = buf;
            b.write_all(text::csv_header().as_bytes()).map_err(io_err)?;
            Sink::Text(b)
        }
        Format::Jsonl | Format::Perfetto => Sink::Text(buf),
    };
    let format = opts.format;
    let total = reader.readable_records();
    let frames: Vec<_> = reader
        .frames()
        .iter()
        .filter(|f| f.intact && f.header.kind == FrameKind::Records)
        .copied()
        .collect();
    let n_probes = reader.meta().probes.len();
    let enc = Encoder {
        reader: &reader,
        completions: reader.completions(),
        format,
        roles: reader
            .meta()
            .probes
            .iter()
            .map(|p| p.role.as_str())
            .collect(),
        layout,
        keep,
        allow_incomplete: opts.allow_incomplete,
        row_groups,
    };
    let per_unit = if format == Format::Parquet {
        ROW_GROUP_FRAMES
    } else {
        1
    };
    let units: Vec<&[crate::log::FrameInfo]> = frames.chunks(per_unit).collect();
    let threads = rayon::current_num_threads().max(1);
    let window = if format == Format::Parquet {
        threads
    } else {
        threads * 2
    };

    // The writer thread owns the sink; this thread and rayon's pool decode
    // and encode units in order and hand them over.
    let (tx, rx) = sync_channel::<Chunk>(2);
    let writer = std::thread::spawn(move || -> Result<Sink, (&'static str, String)> {
        let mut sink = sink;
        for chunk in rx {
            sink.write(chunk)?;
        }
        Ok(sink)
    });

    let mut produced: Result<(), ExportError> = Ok(());
    let (mut done, mut rows) = (0u64, 0u64);
    'units: for (w, win) in units.chunks(window).enumerate() {
        let outs: Vec<_> = win
            .par_iter()
            .enumerate()
            .map_init(crate::log::block::BlockCodec::new, |codec, (k, unit)| {
                enc.unit(codec, w * window + k, unit)
            })
            .collect();
        for (out, unit) in outs.into_iter().zip(win) {
            done += unit
                .iter()
                .map(|f| f.header.seq_end.saturating_sub(f.header.seq_start))
                .sum::<u64>();
            match out {
                Ok(u) => {
                    warnings.extend(u.skipped);
                    if let Some((chunk, n)) = u.chunk {
                        rows += n;
                        if tx.send(chunk).is_err() {
                            // The writer stopped; its error is reported below.
                            break 'units;
                        }
                    }
                }
                Err(Ok(source)) => {
                    produced = Err(ExportError::Log {
                        path: opts.input.clone(),
                        source,
                    });
                    break 'units;
                }
                Err(Err(detail)) => {
                    produced = Err(encode_err(format.name(), detail));
                    break 'units;
                }
            }
            progress(done, total);
        }
    }
    drop(tx);
    let written = writer
        .join()
        .map_err(|_| encode_err(format.name(), "the writer thread panicked".into()))?;
    produced?;
    let file = written
        .and_then(Sink::finish)
        .map_err(|(what, detail)| match what {
            "io" => io_err(std::io::Error::other(detail)),
            f => encode_err(f, detail),
        })?;
    // No fsync: the rename below already makes the output appear whole or
    // not at all, and an export can be redone; syncing hundreds of MB would
    // only make every export wait for the disk.
    let file = file.into_inner().map_err(|e| io_err(e.into_error()))?;
    let bytes = file.metadata().map_err(io_err)?.len();
    drop(file);
    tmp.keep(&opts.output, opts.force)?;
    Ok(ExportSummary {
        rows,
        probes: enc
            .keep
            .as_ref()
            .map_or(n_probes, |k| k.iter().filter(|x| **x).count()),
        bytes,
        warnings,
    })
}

/// A record naming a probe outside the table cannot be labelled; a log
/// that holds one is damaged (its checksums held, so the writer was wrong).
fn check_probe_ids(b: &RecordBlock, n_probes: usize, offset: u64) -> Result<(), LogError> {
    match b.probe.iter().copied().max() {
        Some(m) if m as usize >= n_probes => Err(LogError::Undecodable {
            offset,
            detail: format!("a record names probe {m}, the probe table has {n_probes} entries"),
        }),
        _ => Ok(()),
    }
}

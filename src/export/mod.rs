//! `probe export`: write a log's records as Parquet, Arrow IPC, CSV or JSON
//! Lines (SPEC §9), one row per record in seq order.
//!
//! The data's path: the log is memory-mapped ([`LogReader`]), its RECORDS
//! frames are decoded into columnar [`RecordBlock`]s in parallel by the
//! reading layer's walk ([`crate::log::walk::Walk::par_units`]: bounds,
//! memory budget, placeholders joined with their completions), and each
//! block becomes one Arrow `RecordBatch` (built straight from the block's
//! columns, see [`columns`]) or one chunk of text ([`text`]). A single
//! writer thread appends the chunks in seq order to a temporary file next
//! to the output ([`crate::output::PendingFile`]), which is renamed over
//! the output only when everything was written — a failed export never
//! leaves a half-written file under the requested name, and never writes
//! through a symlink.
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

use crate::log::limits::Work;
use crate::log::{LogError, LogReader, Selection};
use crate::output::{OutputError, PendingFile};
use crate::text::escape;

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
    #[error("cannot read {}: {}", escape(&.path.display().to_string()), escape(&.source.to_string()))]
    Log {
        /// The log.
        path: PathBuf,
        /// What is wrong with it.
        source: LogError,
    },
    /// The log is incomplete or damaged and `--allow-incomplete` was not given.
    #[error("{} is incomplete: {}; use --allow-incomplete to export the {records} readable records", escape(&.path.display().to_string()), escape(.why))]
    Incomplete {
        /// The log.
        path: PathBuf,
        /// Missing end marker, or the first damage found.
        why: String,
        /// Records that could be read.
        records: u64,
    },
    /// Creating, writing or renaming the output failed, or it exists and
    /// `--force` was not given.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A `--probe` selector matched none of the log's probes.
    #[error("--probe {:?} matches no probe of {}; its probes are: {}", escape(.selector), escape(&.path.display().to_string()), escape(.available))]
    NoSuchProbe {
        /// The selector.
        selector: String,
        /// The log.
        path: PathBuf,
        /// The log's probe labels, comma-separated.
        available: String,
    },
    /// The Arrow or Parquet library refused the data (a bug, reported as such).
    #[error("encoding {format} for {}: {}", escape(&.path.display().to_string()), escape(.detail))]
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
    let sel =
        Selection::new(&r.meta().probes, selectors).map_err(|e| ExportError::NoSuchProbe {
            selector: e.selector,
            path: r.path().to_path_buf(),
            available: e.available,
        })?;
    Ok((!sel.is_all()).then(|| sel.flags().to_vec()))
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

/// Frames per Parquet row group (65,536 records each: ~1 M rows).
const ROW_GROUP_FRAMES: usize = 16;

/// Everything the parallel encoders share.
struct Encoder<'a> {
    format: Format,
    layout: columns::Layout,
    roles: Vec<&'static str>,
    keep: Option<Vec<bool>>,
    row_groups: Option<&'a parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory>,
}

impl Encoder<'_> {
    /// Encode one unit of decoded blocks: its chunk and row count.
    fn unit(
        &self,
        index: usize,
        blocks: crate::log::walk::Unit,
    ) -> Result<Option<(Chunk, u64)>, String> {
        let mut rows = 0u64;
        let mut batches = Vec::new();
        let mut text = Vec::new();
        let keep = self.keep.as_deref();
        for (_, block) in blocks {
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
                Format::Parquet | Format::Arrow => batches.push(self.layout.batch(block, keep)?),
                Format::Csv => text.extend(text::csv_block(&block, labels, &self.roles, keep)),
                // Written by perfetto::write before any unit is encoded.
                Format::Jsonl | Format::Perfetto => {
                    text.extend(text::jsonl_block(&block, labels, &self.roles, keep))
                }
            }
        }
        if rows == 0 {
            return Ok(None);
        }
        let chunk = match (self.format, self.row_groups) {
            (Format::Parquet, Some(factory)) => {
                let pq = |e: parquet::errors::ParquetError| e.to_string();
                let mut writers = factory.create_column_writers(index).map_err(pq)?;
                let schema = self.layout.schema();
                for b in &batches {
                    let mut w = writers.iter_mut();
                    for (field, col) in schema.fields().iter().zip(b.columns()) {
                        for leaf in
                            parquet::arrow::arrow_writer::compute_leaves(field, col).map_err(pq)?
                        {
                            w.next()
                                .ok_or_else(|| "fewer column writers than leaves".to_string())?
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
        Ok(Some((chunk, rows)))
    }
}

/// Where an export goes: a file that appears whole or not at all, or
/// standard output (`-o -`, for a pipe: `probe export run.probe -o - --format
/// csv | ...`).
enum Output {
    File(PendingFile),
    Stdout,
}

impl Output {
    /// The output and a handle to write it through.
    fn open(path: &Path, force: bool) -> Result<(Output, std::fs::File), ExportError> {
        let io_err = |error: std::io::Error| {
            ExportError::Output(OutputError::Io {
                path: path.to_path_buf(),
                error,
            })
        };
        if is_stdout(path) {
            use std::os::fd::AsFd;
            let fd = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(io_err)?;
            return Ok((Output::Stdout, std::fs::File::from(fd)));
        }
        let mut out = PendingFile::create(path, force)?;
        let file = out.file().try_clone().map_err(io_err)?;
        Ok((Output::File(out), file))
    }

    /// Puts a file in place (standard output needs nothing).
    fn commit(self) -> Result<(), ExportError> {
        match self {
            Output::File(f) => Ok(f.commit()?),
            Output::Stdout => Ok(()),
        }
    }
}

/// Whether an output path means standard output (`-`).
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The size of what was written through `file`: its length for a file,
/// 0 for a pipe or terminal (standard output).
fn written_bytes(file: &std::fs::File) -> std::io::Result<u64> {
    let m = file.metadata()?;
    Ok(if m.is_file() { m.len() } else { 0 })
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
    }
    reader
        .check_work(match opts.format {
            Format::Parquet => Work::ExportParquet,
            Format::Arrow | Format::Csv => Work::ExportWide,
            Format::Jsonl => Work::ExportJsonl,
            Format::Perfetto => Work::ExportParquet,
        })
        .map_err(|source| ExportError::Log {
            path: opts.input.clone(),
            source,
        })?;
    let keep = select(&reader, &opts.probes)?;
    let same_file = match (opts.input.canonicalize(), opts.output.canonicalize()) {
        (Ok(i), Ok(o)) => i == o,
        _ => false,
    };
    if same_file {
        return Err(ExportError::Output(OutputError::Io {
            path: opts.output.clone(),
            error: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "it is the log being exported",
            ),
        }));
    }
    if opts.wide {
        let (out, file) = Output::open(&opts.output, opts.force)?;
        let io_err = |error: std::io::Error| {
            ExportError::Output(OutputError::Io {
                path: opts.output.clone(),
                error,
            })
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
        let bytes = written_bytes(&file).map_err(io_err)?;
        drop(file);
        out.commit()?;
        if !s.skipped.is_empty() {
            warnings.push(format!(
                "not scalar numbers, so no column: {}",
                escape(&s.skipped.join(", "))
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
        let (out, file) = Output::open(&opts.output, opts.force)?;
        let io_err = |error: std::io::Error| {
            ExportError::Output(OutputError::Io {
                path: opts.output.clone(),
                error,
            })
        };
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let s = perfetto::write(&reader, keep.as_deref(), &mut w).map_err(io_err)?;
        let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
        let bytes = written_bytes(&file).map_err(io_err)?;
        drop(file);
        out.commit()?;
        if !s.skipped.is_empty() {
            warnings.push(format!(
                "not numeric, so not counter tracks: {}",
                escape(&s.skipped.join(", "))
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
    let (out, file) = Output::open(&opts.output, opts.force)?;
    let out_path = opts.output.clone();
    let encode_err = |format: &'static str, detail: String| ExportError::Encode {
        format,
        path: out_path.clone(),
        detail,
    };
    let io_err = |error: std::io::Error| {
        ExportError::Output(OutputError::Io {
            path: out_path.clone(),
            error,
        })
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
    let n_probes = reader.meta().probes.len();
    let enc = Encoder {
        format,
        roles: reader
            .meta()
            .probes
            .iter()
            .map(|p| p.role.as_str())
            .collect(),
        layout,
        keep,
        row_groups: row_groups.as_ref(),
    };
    let per_unit = if format == Format::Parquet {
        ROW_GROUP_FRAMES
    } else {
        1
    };
    let frame_records: Vec<Vec<u64>> = reader
        .plan()
        .accepted()
        .chunks(per_unit)
        .map(|u| u.iter().map(|f| f.records()).collect())
        .collect();

    // The writer thread owns the sink; the reading layer's workers decode
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
    let (mut done, mut rows, mut unit) = (0u64, 0u64, 0usize);
    let walked = reader.walk(!opts.allow_incomplete).and_then(|mut walk| {
        walk.par_units(
            per_unit,
            |index, blocks| enc.unit(index, blocks),
            |out| {
                done += frame_records.get(unit).map_or(0, |u| u.iter().sum::<u64>());
                unit += 1;
                match out {
                    Ok(Some((chunk, n))) => {
                        rows += n;
                        if tx.send(chunk).is_err() {
                            // The writer stopped; its error is reported below.
                            return std::ops::ControlFlow::Break(());
                        }
                    }
                    Ok(None) => {}
                    Err(detail) => {
                        produced = Err(encode_err(format.name(), detail));
                        return std::ops::ControlFlow::Break(());
                    }
                }
                progress(done, total);
                std::ops::ControlFlow::Continue(())
            },
        )?;
        Ok(walk.finish())
    });
    drop(tx);
    let written = writer
        .join()
        .map_err(|_| encode_err(format.name(), "the writer thread panicked".into()))?;
    let report = walked.map_err(|source| ExportError::Log {
        path: opts.input.clone(),
        source,
    })?;
    produced?;
    if !report.is_clean() {
        warnings.push(format!(
            "{} is incomplete: {}",
            escape(&opts.input.display().to_string()),
            report.messages().join("; ")
        ));
    }
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
    let bytes = written_bytes(&file).map_err(io_err)?;
    drop(file);
    out.commit()?;
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

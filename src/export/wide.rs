//! `probe export --wide`: one row per batch (one trigger: the records
//! captured together), one column per scalar probe — the layout of tools
//! that plot named signals over time, such as PlotJuggler. Columns:
//! `batch` (seq of the batch's first record), `ts_ns`, then one Float64
//! column per numeric probe named by its label (complex probes: `LABEL.re`
//! and `LABEL.im`); a probe without a value in a batch is null (empty in
//! CSV). Text and array probes have no column (listed in a warning).

use std::io::Write;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int64Builder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::history::buffer;
use crate::log::LogReader;
use crate::model::Status;
use crate::render::plot::PanelKind;

use super::Format;

/// What the wide table got.
#[derive(Debug, Default)]
pub struct WideSummary {
    /// Rows (batches).
    pub rows: u64,
    /// Value columns.
    pub columns: usize,
    /// Probes without a column (not scalar numbers).
    pub skipped: Vec<String>,
}

struct Col {
    probe: usize,
    imag: bool,
    name: String,
}

/// Write the wide table of `reader` (probes with `keep[id]`, all when
/// `None`) as `format` (Parquet, Arrow IPC or CSV) to `out`.
pub fn write<W: Write + Send>(
    reader: &LogReader,
    keep: Option<&[bool]>,
    format: Format,
    out: W,
) -> Result<WideSummary, String> {
    let meta = reader.meta();
    let labels = meta.unique_labels();
    let n = meta.probes.len();
    let wanted: Vec<bool> = (0..n)
        .map(|p| keep.is_none_or(|k| k.get(p).copied().unwrap_or(false)))
        .collect();
    let hist = buffer::build(reader, &wanted);
    let orders = crate::view::batch_orders(reader, &hist);
    let mut sum = WideSummary::default();
    let mut cols: Vec<Col> = Vec::new();
    for p in 0..n {
        if !wanted[p] {
            continue;
        }
        match PanelKind::of(&hist.buffers[p]) {
            PanelKind::Line | PanelKind::Step => cols.push(Col {
                probe: p,
                imag: false,
                name: labels[p].clone(),
            }),
            PanelKind::Complex => {
                cols.push(Col {
                    probe: p,
                    imag: false,
                    name: format!("{}.re", labels[p]),
                });
                cols.push(Col {
                    probe: p,
                    imag: true,
                    name: format!("{}.im", labels[p]),
                });
            }
            _ => sum.skipped.push(labels[p].clone()),
        }
    }
    sum.columns = cols.len();
    let mut fields = vec![
        Field::new("batch", DataType::Int64, false),
        Field::new("ts_ns", DataType::Int64, false),
    ];
    fields.extend(
        cols.iter()
            .map(|c| Field::new(&c.name, DataType::Float64, true)),
    );
    let schema = Arc::new(Schema::new(fields));
    // Every record of a column probe, merged in seq order: (batch, ts, probe, pos).
    let probes: Vec<usize> = {
        let mut v: Vec<usize> = cols.iter().map(|c| c.probe).collect();
        v.dedup();
        v
    };
    let mut events: Vec<(u64, u64, usize, usize)> = Vec::new();
    for &p in &probes {
        let b = &hist.buffers[p];
        for (i, (&seq, &ts)) in b.seqs().iter().zip(b.timestamps()).enumerate() {
            let order = orders[p].get(i).copied().unwrap_or(0);
            events.push((seq.saturating_sub(u64::from(order)), ts, p, i));
        }
    }
    events.sort_unstable_by_key(|e| (e.0, e.2, e.3));
    let col_of: Vec<Vec<usize>> = (0..n)
        .map(|p| (0..cols.len()).filter(|&c| cols[c].probe == p).collect())
        .collect();

    enum Sink<W: Write + Send> {
        Parquet(parquet::arrow::ArrowWriter<W>),
        Arrow(arrow::ipc::writer::FileWriter<W>),
        Csv(W),
    }
    let mut sink = match format {
        Format::Parquet => Sink::Parquet(
            parquet::arrow::ArrowWriter::try_new(
                out,
                schema.clone(),
                Some(super::columns::parquet_properties(
                    super::columns::run_footer(meta, reader.end()),
                )),
            )
            .map_err(|e| e.to_string())?,
        ),
        Format::Arrow => Sink::Arrow(
            arrow::ipc::writer::FileWriter::try_new(out, &schema).map_err(|e| e.to_string())?,
        ),
        Format::Csv => {
            let mut w = out;
            let head: Vec<String> = schema
                .fields()
                .iter()
                .map(|f| csv_field(f.name()))
                .collect();
            writeln!(w, "{}", head.join(",")).map_err(|e| e.to_string())?;
            Sink::Csv(w)
        }
        other => {
            return Err(format!(
                "--wide writes parquet, arrow or csv, not {}",
                other.name()
            ))
        }
    };
    const ROWS: usize = 65_536;
    let mut batch_b = Int64Builder::with_capacity(ROWS);
    let mut ts_b = Int64Builder::with_capacity(ROWS);
    let mut row: Vec<Option<f64>> = vec![None; cols.len()];
    let mut vals: Vec<Float64Builder> = (0..cols.len())
        .map(|_| Float64Builder::with_capacity(ROWS))
        .collect();
    let mut csv = String::new();
    let flush_rows = |batch_b: &mut Int64Builder,
                      ts_b: &mut Int64Builder,
                      vals: &mut Vec<Float64Builder>,
                      csv: &mut String,
                      sink: &mut Sink<W>|
     -> Result<(), String> {
        match sink {
            Sink::Csv(w) => {
                w.write_all(csv.as_bytes()).map_err(|e| e.to_string())?;
                csv.clear();
            }
            Sink::Parquet(_) | Sink::Arrow(_) => {
                let mut arrays: Vec<ArrayRef> =
                    vec![Arc::new(batch_b.finish()), Arc::new(ts_b.finish())];
                arrays.extend(vals.iter_mut().map(|v| Arc::new(v.finish()) as ArrayRef));
                if arrays[0].is_empty() {
                    return Ok(());
                }
                let rb = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| e.to_string())?;
                match sink {
                    Sink::Parquet(w) => w.write(&rb).map_err(|e| e.to_string())?,
                    Sink::Arrow(w) => w.write(&rb).map_err(|e| e.to_string())?,
                    Sink::Csv(_) => {}
                }
            }
        }
        Ok(())
    };
    let mut i = 0;
    let mut pending = 0usize;
    while i < events.len() {
        let (batch, ts, _, _) = events[i];
        row.iter_mut().for_each(|v| *v = None);
        while i < events.len() && events[i].0 == batch {
            let (_, _, p, pos) = events[i];
            let b = &hist.buffers[p];
            if matches!(b.status_at(pos as u64), Status::Ok | Status::Raised) {
                for &c in &col_of[p] {
                    let v = if cols[c].imag {
                        b.imag().get(pos).copied()
                    } else {
                        b.values().get(pos).copied()
                    };
                    row[c] = v.filter(|x| !x.is_nan());
                }
            }
            i += 1;
        }
        sum.rows += 1;
        pending += 1;
        match sink {
            Sink::Csv(_) => {
                use std::fmt::Write as _;
                let _ = write!(csv, "{batch},{ts}");
                for v in &row {
                    csv.push(',');
                    if let Some(x) = v {
                        let _ = write!(csv, "{}", crate::view::data::float_text(*x));
                    }
                }
                csv.push('\n');
            }
            _ => {
                batch_b.append_value(batch as i64);
                ts_b.append_value(ts as i64);
                for (b, v) in vals.iter_mut().zip(&row) {
                    b.append_option(*v);
                }
            }
        }
        if pending >= ROWS {
            flush_rows(&mut batch_b, &mut ts_b, &mut vals, &mut csv, &mut sink)?;
            pending = 0;
        }
    }
    flush_rows(&mut batch_b, &mut ts_b, &mut vals, &mut csv, &mut sink)?;
    match sink {
        Sink::Parquet(w) => {
            w.close().map_err(|e| e.to_string())?;
        }
        Sink::Arrow(mut w) => w.finish().map_err(|e| e.to_string())?,
        Sink::Csv(mut w) => w.flush().map_err(|e| e.to_string())?,
    }
    Ok(sum)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

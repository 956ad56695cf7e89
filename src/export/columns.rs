//! Arrow columns of an export, built from a decoded [`RecordBlock`].
//!
//! Blocks of plain scalars (ints, floats, bools, None — the bulk of most
//! traces) take a fast path: the block's own column vectors become Arrow
//! buffers without a per-row copy (the `num` word is shared by the `int`
//! and `float` columns, each with its own validity bitmap), and the columns
//! such a block cannot use are all-null arrays. Blocks holding other values
//! (complex, text, arrays …) are built row by row with Arrow builders.
//!
//! The column set is documented in `docs/EXPORT.md`.

use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, BinaryBuilder, BooleanArray, BooleanBuilder, DictionaryArray,
    Float64Array, Float64Builder, Int32Array, Int64Array, Int64Builder, Int8Array, ListBuilder,
    StringArray, StringBuilder,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Int32Type, Int8Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::log::meta::RunMeta;
use crate::log::RecordBlock;
use crate::model::{ArrayValue, Kind, Status, Value, ValueTag};

/// Kind names, in dictionary order (the `kind` column): [`Kind::ALL`].
pub const KINDS: [&str; 11] = [
    "absent", "none", "bool", "int", "float", "complex", "str", "bytes", "other", "error", "array",
];

/// Status names in dictionary order = [`Status`] discriminants.
pub const STATUSES: [&str; 6] = ["ok", "unbound", "raised", "error", "incomplete", "pending"];

/// Role names in dictionary order.
pub const ROLES: [&str; 2] = ["lhs", "rhs"];

fn kind_index(kind: Kind) -> i8 {
    kind.index() as i8
}

fn dict(key: DataType) -> DataType {
    DataType::Dictionary(Box::new(key), Box::new(DataType::Utf8))
}

fn list(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// Column names in order (shared by every format; CSV uses them as header).
pub const COLUMNS: [&str; 23] = [
    "seq",
    "ts_ns",
    "probe",
    "role",
    "batch",
    "batch_order",
    "thread",
    "status",
    "kind",
    "type_name",
    "bool_value",
    "int_value",
    "float_value",
    "complex_real",
    "complex_imag",
    "text",
    "bytes",
    "truncated",
    "dtype",
    "shape",
    "array_f64",
    "array_f64_imag",
    "array_i64",
];

/// The export's schema and the dictionaries shared by every batch (the
/// Arrow IPC file format needs the same dictionary in every batch).
pub struct Layout {
    plain_strings: bool,
    schema: SchemaRef,
    labels: Vec<String>,
    probe_dict: ArrayRef,
    role_of: Vec<i8>,
    role_dict: ArrayRef,
    status_dict: ArrayRef,
    kind_dict: ArrayRef,
    /// All-null arrays of every column, [`NULL_ROWS`] long, sliced for the
    /// columns a block does not use (saves zeroing fresh buffers per block).
    nulls: Vec<ArrayRef>,
}

/// Length of the cached all-null columns: the writer's block size.
const NULL_ROWS: usize = crate::log::writer::BLOCK_RECORDS;

impl Layout {
    /// The layout for a log's probe table; `plain_strings` for Parquet.
    pub fn new(meta: &RunMeta, plain_strings: bool) -> Layout {
        let labels = meta.unique_labels();
        // Strings: plain Utf8 for Parquet (dictionary encoding stays a
        // storage detail of its pages, so pandas' `.str` works on them),
        // dictionaries for Arrow IPC. Integers signed: Spark reads UINT64 as
        // a decimal and Delta has no unsigned types.
        let text = |key: DataType| {
            if plain_strings {
                DataType::Utf8
            } else {
                dict(key)
            }
        };
        let fields = vec![
            Field::new("seq", DataType::Int64, false),
            Field::new("ts_ns", DataType::Int64, false),
            Field::new("probe", text(DataType::Int32), false),
            Field::new("role", text(DataType::Int8), false),
            Field::new("batch", DataType::Int64, false),
            Field::new("batch_order", DataType::Int32, false),
            Field::new("thread", DataType::Int64, false),
            Field::new("status", text(DataType::Int8), false),
            Field::new("kind", text(DataType::Int8), false),
            Field::new("type_name", DataType::Utf8, true),
            Field::new("bool_value", DataType::Boolean, true),
            Field::new("int_value", DataType::Int64, true),
            Field::new("float_value", DataType::Float64, true),
            Field::new("complex_real", DataType::Float64, true),
            Field::new("complex_imag", DataType::Float64, true),
            Field::new("text", DataType::Utf8, true),
            Field::new("bytes", DataType::Binary, true),
            Field::new("truncated", DataType::Boolean, true),
            Field::new("dtype", DataType::Utf8, true),
            Field::new("shape", list(DataType::Int64), true),
            Field::new("array_f64", list(DataType::Float64), true),
            Field::new("array_f64_imag", list(DataType::Float64), true),
            Field::new("array_i64", list(DataType::Int64), true),
        ];
        let nulls = fields
            .iter()
            .map(|f| new_null_array(f.data_type(), NULL_ROWS))
            .collect();
        Layout {
            plain_strings,
            nulls,
            schema: Arc::new(Schema::new(fields)),
            probe_dict: Arc::new(StringArray::from_iter_values(labels.iter())),
            labels,
            role_of: meta
                .probes
                .iter()
                .map(|p| i8::from(p.role.as_str() == "rhs"))
                .collect(),
            role_dict: Arc::new(StringArray::from_iter_values(ROLES)),
            status_dict: Arc::new(StringArray::from_iter_values(STATUSES)),
            kind_dict: Arc::new(StringArray::from_iter_values(KINDS)),
        }
    }

    /// The Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Probe labels by probe id.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    fn dict8(&self, keys: Vec<i8>, values: &ArrayRef) -> Result<ArrayRef, String> {
        DictionaryArray::<Int8Type>::try_new(Int8Array::from(keys), values.clone())
            .map(|a| Arc::new(a) as ArrayRef)
            .map_err(|e| e.to_string())
    }

    /// One record batch holding the block's rows (only those of probes
    /// flagged in `keep`, when given). The caller has checked that every
    /// probe id is in the table.
    pub fn batch(&self, block: RecordBlock, keep: Option<&[bool]>) -> Result<RecordBatch, String> {
        let n = block.len();
        let seq_start = block.seq_start;
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(COLUMNS.len());
        cols.push(Arc::new(Int64Array::from_iter_values(
            (seq_start..seq_start + n as u64).map(|s| s as i64),
        )));
        let batch_col = Int64Array::from_iter_values(
            block
                .order
                .iter()
                .enumerate()
                .map(|(i, &o)| (seq_start + i as u64).saturating_sub(u64::from(o)) as i64),
        );
        let probe_keys = Int32Array::from_iter_values(block.probe.iter().map(|&p| p as i32));
        let role_keys: Vec<i8> = block
            .probe
            .iter()
            .map(|&p| self.role_of.get(p as usize).copied().unwrap_or(0))
            .collect();
        let status_keys: Vec<i8> = block.status.iter().map(|&s| s as u8 as i8).collect();
        let order = Int32Array::from_iter_values(block.order.iter().map(|&o| i32::from(o)));
        let probe_mask = keep.map(|k| {
            BooleanArray::from_iter(
                block
                    .probe
                    .iter()
                    .map(|&p| Some(k.get(p as usize).copied().unwrap_or(false))),
            )
        });
        let values = if block.other.is_empty() {
            self.scalar_values(&block)
        } else {
            self.mixed_values(&block)?
        };
        cols.push(Arc::new(Int64Array::from_iter_values(
            block.ts.iter().map(|&t| t as i64),
        )));
        cols.push(Arc::new(
            DictionaryArray::<Int32Type>::try_new(probe_keys, self.probe_dict.clone())
                .map_err(|e| e.to_string())?,
        ));
        cols.push(self.dict8(role_keys, &self.role_dict)?);
        cols.push(Arc::new(batch_col));
        cols.push(Arc::new(order));
        // Thread ids are the interpreter's `threading.get_ident()`, below 2^63.
        cols.push(Arc::new(Int64Array::from_iter_values(
            block.thread.iter().map(|&t| t as i64),
        )));
        cols.push(self.dict8(status_keys, &self.status_dict)?);
        cols.push(self.dict8(values.kind, &self.kind_dict)?);
        cols.extend(values.columns);
        if self.plain_strings {
            for i in [2, 3, 7, 8] {
                cols[i] =
                    arrow::compute::cast(&cols[i], &DataType::Utf8).map_err(|e| e.to_string())?;
            }
        }
        let batch = RecordBatch::try_new(self.schema.clone(), cols).map_err(|e| e.to_string())?;
        match probe_mask {
            None => Ok(batch),
            Some(m) => arrow::compute::filter_record_batch(&batch, &m).map_err(|e| e.to_string()),
        }
    }

    /// Value columns of a block holding only absent/None/bool/int/float.
    fn scalar_values(&self, b: &RecordBlock) -> ValueColumns {
        let n = b.len();
        let t = &b.tag;
        let kind = t
            .iter()
            .map(|&x| match x {
                ValueTag::Absent => kind_index(Kind::Absent),
                ValueTag::None => kind_index(Kind::None),
                ValueTag::False | ValueTag::True => kind_index(Kind::Bool),
                ValueTag::Int => kind_index(Kind::Int),
                _ => kind_index(Kind::Float),
            })
            .collect();
        let valid = |want: &dyn Fn(ValueTag) -> bool| {
            NullBuffer::new(BooleanBuffer::collect_bool(n, |i| want(t[i])))
        };
        let words = Buffer::from_vec(b.num.clone());
        let bools = BooleanArray::new(
            BooleanBuffer::collect_bool(n, |i| t[i] == ValueTag::True),
            Some(valid(&|x| x == ValueTag::True || x == ValueTag::False)),
        );
        let ints = Int64Array::new(
            ScalarBuffer::new(words.clone(), 0, n),
            Some(valid(&|x| x == ValueTag::Int)),
        );
        let floats = Float64Array::new(
            ScalarBuffer::new(words, 0, n),
            Some(valid(&|x| x == ValueTag::Float)),
        );
        let null = |i: usize| {
            if n <= NULL_ROWS {
                self.nulls[i].slice(0, n)
            } else {
                new_null_array(self.schema.field(i).data_type(), n)
            }
        };
        let mut columns: Vec<ArrayRef> = vec![null(9), Arc::new(bools), Arc::new(ints)];
        columns.push(Arc::new(floats));
        columns.extend((13..COLUMNS.len()).map(null));
        ValueColumns { kind, columns }
    }

    /// Value columns of a block with any value kind, row by row.
    fn mixed_values(&self, b: &RecordBlock) -> Result<ValueColumns, String> {
        let n = b.len();
        let mut c = Builders::new(n);
        let mut kind = Vec::with_capacity(n);
        for i in 0..n {
            match b.tag[i] {
                t if t.is_word() => {
                    let v = b.value(i);
                    kind.push(kind_index(v.kind()));
                    c.row(None, &v);
                }
                _ => {
                    let v = b
                        .other
                        .get(b.num[i] as usize)
                        .ok_or_else(|| format!("record {i}: value index out of range"))?;
                    kind.push(kind_index(v.kind()));
                    c.row(None, v);
                }
            }
        }
        Ok(ValueColumns {
            kind,
            columns: c.finish(),
        })
    }
}

struct ValueColumns {
    kind: Vec<i8>,
    /// `type_name` … `array_int`, in schema order.
    columns: Vec<ArrayRef>,
}

/// Builders for the value columns (`type_name` onwards).
struct Builders {
    type_name: StringBuilder,
    bool: BooleanBuilder,
    int: Int64Builder,
    float: Float64Builder,
    real: Float64Builder,
    imag: Float64Builder,
    text: StringBuilder,
    bytes: BinaryBuilder,
    truncated: BooleanBuilder,
    dtype: StringBuilder,
    shape: ListBuilder<Int64Builder>,
    array: ListBuilder<Float64Builder>,
    array_imag: ListBuilder<Float64Builder>,
    array_int: ListBuilder<Int64Builder>,
}

impl Builders {
    fn new(n: usize) -> Builders {
        Builders {
            type_name: StringBuilder::with_capacity(n, 0),
            bool: BooleanBuilder::with_capacity(n),
            int: Int64Builder::with_capacity(n),
            float: Float64Builder::with_capacity(n),
            real: Float64Builder::with_capacity(n),
            imag: Float64Builder::with_capacity(n),
            text: StringBuilder::with_capacity(n, 0),
            bytes: BinaryBuilder::with_capacity(n, 0),
            truncated: BooleanBuilder::with_capacity(n),
            dtype: StringBuilder::with_capacity(n, 0),
            shape: ListBuilder::new(Int64Builder::new()),
            array: ListBuilder::new(Float64Builder::new()),
            array_imag: ListBuilder::new(Float64Builder::new()),
            array_int: ListBuilder::new(Int64Builder::new()),
        }
    }

    /// Append one row. `type_name` is the outermost subclass name, if any.
    fn row(&mut self, type_name: Option<&str>, v: &Value) {
        if let Value::Sub { type_name: t, base } = v {
            // The outermost name is the object's own type.
            return self.row(Some(type_name.unwrap_or(t)), base);
        }
        let mut tn = type_name;
        let (mut b, mut i, mut f, mut re, mut im) = (None, None, None, None, None);
        let (mut text, mut bytes, mut trunc): (Option<&str>, Option<&[u8]>, Option<bool>) =
            (None, None, None);
        let mut arr: Option<&ArrayValue> = None;
        match v {
            Value::Absent | Value::None | Value::Sub { .. } => {}
            Value::Bool(x) => b = Some(*x),
            Value::Int(x) => i = Some(*x),
            Value::BigInt(s) => text = Some(s),
            Value::Float(x) => f = Some(*x),
            Value::Complex(r, j) => {
                re = Some(*r);
                im = Some(*j);
            }
            Value::Str { text: s, truncated } => {
                text = Some(s);
                trunc = Some(*truncated);
            }
            Value::Bytes { data, truncated } => {
                bytes = Some(data);
                trunc = Some(*truncated);
            }
            Value::Other {
                type_name: t,
                repr,
                truncated,
            } => {
                tn = tn.or(Some(t));
                text = Some(repr);
                trunc = Some(*truncated);
            }
            Value::Error { exc_type, message } => {
                tn = tn.or(Some(exc_type));
                text = Some(message);
            }
            Value::Array(a) => {
                tn = tn.or(Some(&a.type_name));
                trunc = Some(a.truncated);
                arr = Some(a);
            }
        }
        self.type_name.append_option(tn);
        self.bool.append_option(b);
        self.int.append_option(i);
        self.float.append_option(f);
        self.real.append_option(re);
        self.imag.append_option(im);
        self.text.append_option(text);
        self.bytes.append_option(bytes);
        self.truncated.append_option(trunc);
        match arr {
            None => {
                self.dtype.append_null();
                self.shape.append(false);
                self.array.append(false);
                self.array_imag.append(false);
                self.array_int.append(false);
            }
            Some(a) => {
                self.dtype.append_value(a.dtype.name());
                for &d in &a.shape {
                    // Dimensions are sizes of real arrays: far below 2^63.
                    self.shape.values().append_value(d as i64);
                }
                self.shape.append(true);
                let int_like = !(a.dtype.is_float() || a.dtype.is_complex());
                if int_like {
                    for k in 0..a.len() {
                        // uint64 elements above i64::MAX have no Int64: null.
                        self.array_int.values().append_option(a.get_i64(k));
                    }
                    self.array_int.append(true);
                    self.array.append(false);
                    self.array_imag.append(false);
                } else {
                    for k in 0..a.len() {
                        let (r, j) = a.get_complex(k).unwrap_or((f64::NAN, f64::NAN));
                        self.array.values().append_value(r);
                        if a.dtype.is_complex() {
                            self.array_imag.values().append_value(j);
                        }
                    }
                    self.array.append(true);
                    self.array_imag.append(a.dtype.is_complex());
                    self.array_int.append(false);
                }
            }
        }
    }

    fn finish(mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.type_name.finish()),
            Arc::new(self.bool.finish()),
            Arc::new(self.int.finish()),
            Arc::new(self.float.finish()),
            Arc::new(self.real.finish()),
            Arc::new(self.imag.finish()),
            Arc::new(self.text.finish()),
            Arc::new(self.bytes.finish()),
            Arc::new(self.truncated.finish()),
            Arc::new(self.dtype.finish()),
            Arc::new(self.shape.finish()),
            Arc::new(self.array.finish()),
            Arc::new(self.array_imag.finish()),
            Arc::new(self.array_int.finish()),
        ]
    }
}

/// Parquet writer settings: snappy; dictionary encoding for the probe
/// names and the other low-cardinality string columns whose values are
/// long (for role, status and kind — a few bytes each — the Parquet
/// writer's per-row dictionary lookup costs a third of the export time,
/// while snappy shrinks their plain encoding to next to nothing; readers
/// still get them as dictionaries, from the Arrow schema stored in the
/// file); delta encoding for the monotonic columns; no statistics (they
/// cost more than half the export time, and traces are read whole).
pub fn parquet_properties(footer: Vec<(String, String)>) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(false)
        // Fewer, larger mini-batches: 1.75 → 1.45 CPU-seconds per 10 M
        // rows (65,536 was slower again).
        .set_write_batch_size(8192)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_created_by(format!("probe {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(
            footer
                .into_iter()
                .map(|(k, v)| parquet::file::metadata::KeyValue::new(k, v))
                .collect(),
        ));
    for c in ["probe", "type_name", "dtype"] {
        b = b.set_column_dictionary_enabled(ColumnPath::from(c), true);
    }
    for c in ["seq", "ts_ns", "batch"] {
        // Delta-packed monotonic columns are a few bits per row already;
        // snappy finds nothing more in them. Their row-group statistics
        // (min/max) let engines skip row groups by seq, time or batch.
        b = b
            .set_column_encoding(ColumnPath::from(c), Encoding::DELTA_BINARY_PACKED)
            .set_column_compression(ColumnPath::from(c), Compression::UNCOMPRESSED)
            .set_column_statistics_enabled(ColumnPath::from(c), EnabledStatistics::Chunk);
    }
    b.build()
}

/// The run's metadata for the Parquet key-value footer: `probe.command`
/// (JSON list), `probe.python`, `probe.python_executable`, `probe.core`,
/// `probe.start_unix_ns`, `probe.start_utc`, `probe.exit` (the end marker's
/// JSON, `null` without one), `probe.duration_ns`, `probe.version` (that
/// wrote the log), `probe.exported_by`, `probe.probes` (JSON list of specs).
pub fn run_footer(
    meta: &RunMeta,
    end: Option<&crate::log::meta::EndInfo>,
) -> Vec<(String, String)> {
    let secs = (meta.start_unix_ns / 1_000_000_000) as i64;
    let utc = {
        // Civil date from days since the epoch (Howard Hinnant's algorithm).
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
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
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60,
            meta.start_unix_ns % 1_000_000_000 / 1_000_000
        )
    };
    let json = |v: serde_json::Value| v.to_string();
    vec![
        (
            "probe.command".into(),
            json(serde_json::json!(meta.command)),
        ),
        ("probe.python".into(), meta.python_version.clone()),
        (
            "probe.python_executable".into(),
            meta.python_executable.clone(),
        ),
        ("probe.core".into(), meta.core.to_string()),
        ("probe.start_unix_ns".into(), meta.start_unix_ns.to_string()),
        ("probe.start_utc".into(), utc),
        (
            "probe.exit".into(),
            json(end.map_or(serde_json::Value::Null, |e| {
                serde_json::to_value(&e.exit).unwrap_or(serde_json::Value::Null)
            })),
        ),
        (
            "probe.duration_ns".into(),
            end.map_or_else(String::new, |e| e.duration_ns.to_string()),
        ),
        ("probe.version".into(), meta.probe_version.clone()),
        (
            "probe.exported_by".into(),
            format!("probe {}", env!("CARGO_PKG_VERSION")),
        ),
        (
            "probe.probes".into(),
            json(serde_json::json!(meta
                .probes
                .iter()
                .map(|p| p.spec.clone())
                .collect::<Vec<_>>())),
        ),
    ]
}

/// `Status` → its dictionary key (checked against [`STATUSES`] in tests).
pub fn status_key(s: Status) -> usize {
    s as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_dictionary_follows_the_enum() {
        for s in [
            Status::Ok,
            Status::Unbound,
            Status::Raised,
            Status::Error,
            Status::Incomplete,
            Status::Pending,
        ] {
            assert_eq!(STATUSES[status_key(s)], s.as_str());
        }
    }

    #[test]
    fn kind_dictionary_covers_every_value_kind() {
        for v in [
            Value::Absent,
            Value::None,
            Value::Bool(true),
            Value::Int(1),
            Value::Float(1.0),
            Value::Complex(1.0, 2.0),
            Value::Str {
                text: String::new(),
                truncated: false,
            },
            Value::Bytes {
                data: vec![],
                truncated: false,
            },
            Value::Other {
                type_name: "X".into(),
                repr: "X()".into(),
                truncated: false,
            },
            Value::Error {
                exc_type: "E".into(),
                message: String::new(),
            },
        ] {
            assert_eq!(KINDS[kind_index(v.kind()) as usize], v.kind().as_str());
        }
    }

    /// Issue 15 item 15: every column is usable unquoted in SQL engines —
    /// no name is a reserved word of standard SQL (2016), PostgreSQL,
    /// MySQL 8 or DuckDB (the type names `int`, `float`, `real` and `bool`
    /// among them, and `order`, `array`).
    #[test]
    fn no_column_name_is_a_reserved_sql_word() {
        const RESERVED: &[&str] = &[
            "all",
            "and",
            "any",
            "array",
            "as",
            "asc",
            "between",
            "bigint",
            "binary",
            "bit",
            "blob",
            "bool",
            "boolean",
            "both",
            "by",
            "case",
            "cast",
            "char",
            "character",
            "check",
            "column",
            "constraint",
            "create",
            "cross",
            "current",
            "date",
            "day",
            "dec",
            "decimal",
            "default",
            "delete",
            "desc",
            "distinct",
            "double",
            "else",
            "end",
            "except",
            "exists",
            "false",
            "fetch",
            "float",
            "float4",
            "float8",
            "for",
            "from",
            "full",
            "group",
            "having",
            "hour",
            "in",
            "index",
            "inner",
            "insert",
            "int",
            "int1",
            "int2",
            "int4",
            "int8",
            "integer",
            "interval",
            "into",
            "is",
            "join",
            "key",
            "leading",
            "left",
            "like",
            "limit",
            "long",
            "match",
            "minute",
            "month",
            "natural",
            "not",
            "null",
            "numeric",
            "of",
            "offset",
            "on",
            "or",
            "order",
            "outer",
            "over",
            "partition",
            "position",
            "primary",
            "range",
            "real",
            "references",
            "right",
            "row",
            "rows",
            "second",
            "select",
            "smallint",
            "some",
            "table",
            "then",
            "time",
            "timestamp",
            "to",
            "trailing",
            "true",
            "union",
            "unique",
            "update",
            "user",
            "using",
            "value",
            "values",
            "varchar",
            "when",
            "where",
            "window",
            "with",
            "year",
        ];
        for c in COLUMNS {
            assert!(!RESERVED.contains(&c), "column `{c}` needs quoting in SQL");
            assert!(
                c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
                "column `{c}` is not a plain identifier"
            );
        }
    }
}

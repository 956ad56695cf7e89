"""Reads `probe export` outputs with the real consumers and compares every
row, exactly, with the values the Rust test read from the log itself.

usage: check_export.py EXPECTED.json [--parquet F] [--arrow F] [--jsonl F] [--csv F]

EXPECTED.json (written by tests/export_roundtrip.rs) is a list of rows in
the test's own encoding, independent of the exporter's: floats as the hex
of their IEEE bits, ints as decimal text, bytes as hex. Each reader's rows
are brought to that canonical form and compared column by column. Any
difference is printed and the exit status is 1; a reader that cannot open
a file fails the check too (nothing is skipped).
"""
import csv
import json
import math
import struct
import sys

# Names that need no quoting in SQL engines (DuckDB reserves `order` and
# `array`): `batch_order`, `array_f64`, `array_f64_imag`, `array_i64`.
COLUMNS = ["seq", "ts_ns", "probe", "role", "batch", "batch_order", "thread", "status",
           "kind", "type_name", "bool_value", "int_value", "float_value", "complex_real",
           "complex_imag", "text",
           "bytes", "truncated", "dtype", "shape", "array_f64", "array_f64_imag", "array_i64"]


def fbits(x):
    """Canonical float: its IEEE bits in hex; any NaN is just 'nan' (payloads
    are not promised by every reader)."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "nan"
    return struct.pack("<d", x).hex()


def expected_canon(e):
    """Canonical row from the test's encoding."""
    v = e["value"]
    c = {k: e.get(k) for k in ["seq", "ts_ns", "probe", "role", "batch",
                               "thread", "status", "kind", "type_name"]}
    c["batch_order"] = e.get("order")
    c.update({k: None for k in COLUMNS[10:]})
    kind = v["kind"]
    if kind == "bool":
        c["bool_value"] = v["bool"]
    elif kind == "int":
        n = int(v["int"])
        if -2**63 <= n < 2**63:
            c["int_value"] = n
        else:
            c["text"] = v["int"]
    elif kind == "float":
        c["float_value"] = "nan" if v["nan"] else v["f64"]
    elif kind == "complex":
        c["complex_real"], c["complex_imag"] = ["nan" if n else b for b, n in zip(v["c"], v["cnan"])]
    elif kind in ("str", "other", "error"):
        c["text"] = v["text"]
    elif kind == "bytes":
        c["bytes"] = v["hex"]
    elif kind == "array":
        c["dtype"] = v["dtype"]
        c["shape"] = [int(d) for d in v["shape"]]
        if "ints" in v:
            c["array_i64"] = [None if x is None else int(x) for x in v["ints"]]
        else:
            c["array_f64"] = v["re"]
            if "im" in v:
                c["array_f64_imag"] = v["im"]
    if "truncated" in v:
        c["truncated"] = v["truncated"]
    return c


def _py(x):
    """Reader scalars to plain Python (pandas NA → None, numpy → list/int…)."""
    try:
        import pandas as pd
        if x is pd.NA or x is pd.NaT:
            return None
    except ImportError:
        pass
    if hasattr(x, "tolist") and not isinstance(x, (bytes, str)):
        return x.tolist()
    if hasattr(x, "as_py"):
        return x.as_py()
    return x


def reader_canon(r):
    """Canonical row from a reader's row (a dict of the export's columns)."""
    r = {k: _py(r[k]) for k in COLUMNS}
    c = dict(r)
    for k in ("float_value", "complex_real", "complex_imag"):
        c[k] = fbits(r[k])
    for k in ("array_f64", "array_f64_imag"):
        c[k] = None if r[k] is None else [fbits(x) for x in r[k]]
    if r["bytes"] is not None:
        c["bytes"] = bytes(r["bytes"]).hex()
    if r["shape"] is not None:
        c["shape"] = [int(d) for d in r["shape"]]
    if r["array_i64"] is not None:
        c["array_i64"] = [None if x is None else int(x) for x in r["array_i64"]]
    for k in ("seq", "ts_ns", "batch", "batch_order", "thread", "int_value"):
        if c[k] is not None:
            c[k] = int(c[k])
    return c


def jsonl_canon(line):
    j = json.loads(line)
    c = {k: j[k] for k in ["seq", "ts_ns", "probe", "role", "batch",
                           "thread", "status", "kind", "type_name"]}
    c["batch_order"] = j["order"]
    c.update({k: None for k in COLUMNS[10:]})
    v, kind = j["value"], j["kind"]

    def jf(x):
        return fbits({"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(x, x)) \
            if isinstance(x, str) else fbits(x)

    if kind == "bool":
        c["bool_value"] = v
    elif kind == "int":
        if isinstance(v, str):
            c["text"] = v
        else:
            c["int_value"] = v
    elif kind == "float":
        c["float_value"] = jf(v)
    elif kind == "complex":
        c["complex_real"], c["complex_imag"] = jf(v[0]), jf(v[1])
    elif kind in ("str", "other", "error"):
        c["text"] = v
    elif kind == "bytes":
        c["bytes"] = v
    elif kind == "array":
        c["dtype"], c["shape"] = v["dtype"], v["shape"]
        data = v["data"]
        if v["dtype"].startswith("complex"):
            c["array_f64"] = [jf(x[0]) for x in data]
            c["array_f64_imag"] = [jf(x[1]) for x in data]
        elif v["dtype"].startswith("float"):
            c["array_f64"] = [jf(x) for x in data]
        else:
            c["array_i64"] = [int(x) if -2**63 <= int(x) < 2**63 else None for x in data]
    c["truncated"] = j["truncated"]
    return c


def csv_canon(r):
    def num(s, f=int):
        return None if s == "" else f(s)

    c = {k: (r[k] if r[k] != "" else None) for k in COLUMNS}
    for k in ("seq", "ts_ns", "batch", "batch_order", "thread", "int_value"):
        c[k] = num(r[k])
    c["bool_value"] = None if r["bool_value"] == "" else r["bool_value"] == "true"
    c["truncated"] = None if r["truncated"] == "" else r["truncated"] == "true"
    for k in ("float_value", "complex_real", "complex_imag"):
        c[k] = None if r[k] == "" else fbits(float(r[k]))
    # CSV cannot tell an empty field from a missing one; the kind says
    # which column a value always fills (docs/EXPORT.md).
    if r["kind"] in ("str", "other", "error"):
        c["text"] = r["text"]
    if r["kind"] == "bytes":
        c["bytes"] = r["bytes"]
    for k in ("array_f64", "array_f64_imag"):
        if r[k] != "":
            c[k] = [fbits(float(x)) for x in json.loads(r[k])]
    if r["array_i64"] != "":
        c["array_i64"] = json.loads(r["array_i64"])
    if r["shape"] != "":
        c["shape"] = json.loads(r["shape"])
    return c


failures = []


def compare(name, rows, expected):
    if len(rows) != len(expected):
        failures.append(f"{name}: {len(rows)} rows, expected {len(expected)}")
        return
    bad = 0
    for i, (got, want) in enumerate(zip(rows, expected)):
        for k in COLUMNS:
            if got.get(k) != want.get(k):
                bad += 1
                if bad <= 8:
                    failures.append(f"{name}: row {i} (seq {want['seq']}) column {k}: got {got.get(k)!r}, expected {want.get(k)!r}")
    if bad == 0:
        print(f"ok   {name}: {len(rows)} rows identical")
    elif bad > 8:
        failures.append(f"{name}: ... {bad} differing cells in all")


def attempt(name, fn, expected):
    try:
        rows = fn()
    except Exception as e:  # a reader that cannot open the file fails the check
        failures.append(f"{name}: could not read: {type(e).__name__}: {e}")
        return
    compare(name, rows, expected)


def main(argv):
    exp_path = argv[1]
    opts = dict(zip(argv[2::2], argv[3::2]))
    with open(exp_path, encoding="utf-8") as f:
        expected = [expected_canon(e) for e in json.load(f)]

    import duckdb
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    def arrow_checks(table_name, pa_table_fn, plain_strings):
        def types():
            t = pa_table_fn()
            for col in ("probe", "role", "status", "kind"):
                ty = t.schema.field(col).type
                # Parquet: plain strings in the schema (dictionary-encoded in
                # the file's pages only), so pandas' .str works; Arrow IPC:
                # dictionaries (categoricals).
                ok = pa.types.is_string(ty) if plain_strings else pa.types.is_dictionary(ty)
                if not ok:
                    raise TypeError(f"{col} column is {ty}")
            for col in ("seq", "ts_ns", "batch", "thread"):
                if t.schema.field(col).type != pa.int64():
                    raise TypeError(f"{col} is {t.schema.field(col).type}, not int64 (Spark, Delta)")
            return [reader_canon(r) for r in t.to_pylist()]
        attempt(f"pyarrow  {table_name}", types, expected)

    if "--parquet" in opts:
        p = opts["--parquet"]
        arrow_checks("parquet", lambda: pq.read_table(p), True)
        def footer():
            md = pq.ParquetFile(p).metadata
            kv = {k.decode(): v.decode() for k, v in (md.metadata or {}).items()}
            for key in ("probe.command", "probe.python", "probe.core", "probe.start_utc", "probe.exit"):
                if key not in kv:
                    raise KeyError(f"{key} missing from the key-value footer: {sorted(kv)}")
            json.loads(kv["probe.command"])
            cols = [md.schema.column(i).name for i in range(md.num_columns)]
            for name in ("seq", "ts_ns", "batch"):
                st = md.row_group(0).column(cols.index(name)).statistics
                if st is None or not st.has_min_max:
                    raise ValueError(f"no statistics on {name}")
            st = md.row_group(0).column(cols.index("seq")).statistics
            if st.min != expected[0]["seq"]:
                raise ValueError(f"seq statistics min {st.min}")
            # pandas with the pyarrow backend: the .str accessor on probe.
            df = pd.read_parquet(p, dtype_backend="pyarrow")
            n = int(df.probe.str.endswith("@lhs").sum())
            want = sum(1 for e in expected if e["probe"].endswith("@lhs"))
            if n != want:
                raise ValueError(f"df.probe.str.endswith('@lhs'): {n} rows, expected {want}")
            # Every name is usable unquoted in SQL.
            duckdb.sql(f"SELECT {', '.join(COLUMNS)} FROM read_parquet('{p}')").fetchall()
            return expected
        attempt("parquet  footer, statistics, .str, unquoted SQL", footer, expected)
        attempt("pandas   parquet", lambda: [reader_canon(r) for r in
                pd.read_parquet(p, dtype_backend="pyarrow").to_dict("records")], expected)
        def pandas_default():
            df = pd.read_parquet(p)
            if list(df["seq"]) != [e["seq"] for e in expected] or \
               [str(x) for x in df["probe"]] != [e["probe"] for e in expected]:
                raise ValueError("seq/probe columns differ with numpy-backed dtypes")
            return [reader_canon(r) for r in pd.read_parquet(p, dtype_backend="pyarrow").to_dict("records")]
        attempt("pandas   parquet (numpy dtypes open)", pandas_default, expected)
        attempt("polars   parquet", lambda: [reader_canon(r) for r in pl.read_parquet(p).to_dicts()], expected)
        def duck():
            rel = duckdb.sql(f"SELECT * FROM read_parquet('{p}') ORDER BY seq")
            cols = [d[0] for d in rel.description]
            return [reader_canon(dict(zip(cols, row))) for row in rel.fetchall()]
        attempt("duckdb   parquet", duck, expected)

    if "--arrow" in opts:
        a = opts["--arrow"]
        arrow_checks("arrow", lambda: ipc.open_file(a).read_all(), False)
        attempt("pandas   arrow", lambda: [reader_canon(r) for r in
                pd.read_feather(a, dtype_backend="pyarrow").to_dict("records")], expected)
        def arrow_str():
            # The one-line cast docs/EXPORT.md gives for the Arrow file's
            # dictionary-typed probe column, then the .str accessor.
            df = pd.read_feather(a, dtype_backend="pyarrow")
            df["probe"] = df["probe"].astype("string[pyarrow]")
            n = int(df.probe.str.endswith("@lhs").sum())
            want = sum(1 for e in expected if e["probe"].endswith("@lhs"))
            if n != want:
                raise ValueError(f"df.probe.str.endswith('@lhs'): {n} rows, expected {want}")
            return expected
        attempt("pandas   arrow, documented cast, .str", arrow_str, expected)
        attempt("polars   arrow", lambda: [reader_canon(r) for r in pl.read_ipc(a).to_dicts()], expected)
        def duck_arrow():
            con = duckdb.connect()
            con.register("tbl", ipc.open_file(a).read_all())
            rel = con.sql("SELECT * FROM tbl ORDER BY seq")
            cols = [d[0] for d in rel.description]
            return [reader_canon(dict(zip(cols, row))) for row in rel.fetchall()]
        attempt("duckdb   arrow", duck_arrow, expected)

    if "--jsonl" in opts:
        def jl():
            with open(opts["--jsonl"], encoding="utf-8") as f:
                return [jsonl_canon(line) for line in f]
        attempt("json     jsonl", jl, expected)

    if "--csv" in opts:
        def cs():
            with open(opts["--csv"], encoding="utf-8", newline="") as f:
                return [csv_canon(r) for r in csv.DictReader(f)]
        attempt("csv      csv", cs, expected)
        def pandas_csv():
            # Raw strings: the same fields the csv module sees, split by pandas' parser.
            df = pd.read_csv(opts["--csv"], dtype=str, keep_default_na=False)
            return [csv_canon(r) for r in df.to_dict("records")]
        attempt("pandas   csv", pandas_csv, expected)

    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

/* probe view: the page of `probe view` and of the live server.
 *
 * Data arrive as chunks (src/view/data.rs): a JSON header and a binary body
 * of columns (delta / XOR transformed, byte-shuffled, raw-DEFLATE-compressed
 * in a static report). A static report holds one full chunk inline; the live
 * page gets a full chunk and then deltas over Server-Sent Events.
 *
 * Drawing: one uPlot chart per scalar probe, every chart on the same x scale
 * (capture seq or time), zoomed and panned together, cursors linked. Before
 * each draw the visible range is reduced per pixel column to its first,
 * minimum, maximum and last point (M4) — using the pixel columns uPlot
 * itself will use — so the chart draws exactly the pixels that drawing every
 * point would, with a min/max pyramid making a column's extremes a
 * logarithmic look-up: a 10 M-point probe redraws in milliseconds.
 *
 * window.__probeState is the page's own account of what it holds and shows
 * (tests read it); window.__probeTest has hooks for the browser tests. */
(() => {
'use strict';

const S = window.__probeState = {
  ready: false, mode: 'static', error: null, chunks: 0, renders: 0,
  records: 0, live: false, ended: false, complete: null, issues: [], notes: [],
  x: 'seq', range: null, probes: [], run: null,
};

const $ = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};

// ----------------------------------------------------------------- decoding

function b64ToBytes(s) {
  const bin = atob(s.replace(/\s+/g, ''));
  const u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
  return u;
}

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function unshuffle(b, n, w) {
  const out = new Uint8Array(n * w);
  for (let k = 0; k < w; k++) {
    const base = k * n;
    for (let i = 0; i < n; i++) out[i * w + k] = b[base + i];
  }
  return out;
}

async function decodeCol(body, col, compressed) {
  const raw = body.subarray(col.off, col.off + col.len);
  const b = compressed ? await inflate(raw) : raw;
  const n = col.count;
  if (col.ty === 'u16') return new Uint16Array(unshuffle(b, n, 2).buffer);
  const u = unshuffle(b, n, 8);
  if (col.enc === 'xor') {
    const w = new Uint32Array(u.buffer);
    let plo = 0, phi = 0;
    for (let i = 0; i < n; i++) {
      const lo = w[2 * i] ^ plo, hi = w[2 * i + 1] ^ phi;
      w[2 * i] = lo; w[2 * i + 1] = hi;
      plo = lo; phi = hi;
    }
  }
  const f = new Float64Array(u.buffer);
  if (col.enc === 'delta') {
    let acc = 0;
    for (let i = 0; i < n; i++) { acc += f[i]; f[i] = acc; }
  }
  return f;
}

// ------------------------------------------------------------------ storage

const F = 16; // pyramid fan-out

function grow(a, cap, Ctor) {
  if (a && a.length >= cap) return a;
  const b = new Ctor(Math.max(cap, a ? a.length * 2 : 1024));
  if (a) b.set(a);
  return b;
}

/* min/max pyramid over ys: level k holds, per block of F^(k+1) points, the
 * index of its first minimum and first maximum, or -1 when the block holds
 * a gap (non-finite value). */
class Pyramid {
  constructor() { this.levels = []; this.n = 0; }
  update(ys, n, from) {
    let size = 1, prevMin = null, prevMax = null, m = n, start = from;
    for (let k = 0; ; k++) {
      const bs = size * F;
      const nb = Math.ceil(n / bs);
      if (nb <= 1 && k > 0) { this.levels.length = k; break; }
      let L = this.levels[k];
      if (!L || L.min.length < nb) {
        const cap = Math.max(nb, L ? L.min.length * 2 : 64);
        const mn = new Int32Array(cap), mx = new Int32Array(cap);
        if (L) { mn.set(L.min); mx.set(L.max); }
        L = this.levels[k] = { min: mn, max: mx };
      }
      const b0 = Math.floor(start / bs);
      for (let b = b0; b < nb; b++) {
        let lo = -1, hi = -1, gap = false;
        if (k === 0) {
          const e = Math.min(n, (b + 1) * F);
          for (let i = b * F; i < e; i++) {
            const v = ys[i];
            if (!(v - v === 0)) { gap = true; break; }
            if (lo < 0 || v < ys[lo]) lo = i;
            if (hi < 0 || v > ys[hi]) hi = i;
          }
        } else {
          const e = Math.min(Math.ceil(n / size), (b + 1) * F);
          for (let c = b * F; c < e; c++) {
            const a = prevMin[c], z = prevMax[c];
            if (a < 0) { gap = true; break; }
            if (lo < 0 || ys[a] < ys[lo]) lo = a;
            if (hi < 0 || ys[z] > ys[hi]) hi = z;
          }
        }
        L.min[b] = gap ? -1 : lo;
        L.max[b] = gap ? -1 : hi;
      }
      prevMin = L.min; prevMax = L.max;
      size = bs;
      if (nb <= 1) { this.levels.length = k + 1; break; }
    }
    this.n = n;
  }
  /* [imin, imax] of ys[a..b), or null when a value there is not finite. */
  minmax(ys, a, b) {
    let lo = -1, hi = -1, i = a;
    const L = this.levels;
    while (i < b) {
      let k = -1, size = 1;
      while (k + 1 < L.length && i % (size * F) === 0 && i + size * F <= b) { size *= F; k++; }
      if (k < 0) {
        const v = ys[i];
        if (!(v - v === 0)) return null;
        if (lo < 0 || v < ys[lo]) lo = i;
        if (hi < 0 || v > ys[hi]) hi = i;
        i++;
      } else {
        const j = i / size, a2 = L[k].min[j], z = L[k].max[j];
        if (a2 < 0) return null;
        if (lo < 0 || ys[a2] < ys[lo]) lo = a2;
        if (hi < 0 || ys[z] > ys[hi]) hi = z;
        i += size;
      }
    }
    return [lo, hi];
  }
}

const isNum = v => v - v === 0; // finite

class Series {
  constructor(head) {
    this.id = head.id; this.label = head.label; this.spec = head.spec; this.role = head.role;
    this.n = 0; this.total = 0; this.panel = 'empty'; this.reduced = null;
    this.pos = null; this.seq = null; this.ts = null; this.tsx = null; this.val = null;
    this.imag = null; this.order = null;
    this.markPos = []; this.markStatus = [];
    this.values = new Map(); this.valuePos = []; this.valuesOmitted = 0;
    this.pyr = new Pyramid(); this.pyrIm = null; this.dirtyFrom = 0;
    this.min = Infinity; this.max = -Infinity;
  }
  ensure(cap) {
    this.pos = grow(this.pos, cap, Float64Array);
    this.seq = grow(this.seq, cap, Float64Array);
    this.ts = grow(this.ts, cap, Float64Array);
    this.tsx = grow(this.tsx, cap, Float64Array);
    this.val = grow(this.val, cap, Float64Array);
    this.order = grow(this.order, cap, Uint16Array);
    if (this.imag) this.imag = grow(this.imag, cap, Float64Array);
  }
  append(p, cols) {
    const m = p.n, at = this.n;
    this.ensure(at + m);
    if (cols.imag && !this.imag) {
      this.imag = new Float64Array(this.val.length).fill(NaN);
      this.pyrIm = new Pyramid();
    }
    let tmax = at > 0 ? this.tsx[at - 1] : 0;
    for (let i = 0; i < m; i++) {
      const k = at + i;
      this.pos[k] = cols.pos ? cols.pos[i] : p.start + i;
      this.seq[k] = cols.seq[i];
      this.ts[k] = cols.ts[i];
      // Time axis: running maximum (a record is never shown before one with a
      // smaller seq), in seconds.
      const t = cols.ts[i] / 1e9;
      if (t > tmax) tmax = t;
      this.tsx[k] = tmax;
      const v = cols.val[i];
      this.val[k] = v;
      if (isNum(v)) { if (v < this.min) this.min = v; if (v > this.max) this.max = v; }
      this.order[k] = cols.order ? cols.order[i] : 0;
      if (this.imag) this.imag[k] = cols.imag ? cols.imag[i] : NaN;
    }
    this.n = at + m;
    this.total = Math.max(this.total, p.total);
    if (p.reduced) this.reduced = p.reduced;
    for (const [pos, st] of p.marks) { this.markPos.push(pos); this.markStatus.push(st); }
    for (const [pos, v] of p.values) {
      if (!this.values.has(pos)) this.valuePos.push(pos);
      this.values.set(pos, v);
    }
    this.valuesOmitted += p.values_omitted || 0;
    this.dirtyFrom = Math.min(this.dirtyFrom, at);
  }
  patch(pos, status, re, im, value) {
    const k = lowerBound(this.pos, this.n, pos);
    if (k < this.n && this.pos[k] === pos) {
      this.val[k] = re == null ? NaN : re;
      if (this.imag) this.imag[k] = im == null ? NaN : im;
      if (re != null && isNum(re)) { if (re < this.min) this.min = re; if (re > this.max) this.max = re; }
      this.dirtyFrom = Math.min(this.dirtyFrom, k);
    }
    const mk = lowerBound(this.markPos, this.markPos.length, pos);
    const marked = mk < this.markPos.length && this.markPos[mk] === pos;
    if (status === 'ok') {
      if (marked) { this.markPos.splice(mk, 1); this.markStatus.splice(mk, 1); }
    } else if (marked) this.markStatus[mk] = status;
    else { this.markPos.splice(mk, 0, pos); this.markStatus.splice(mk, 0, status); }
    if (value) {
      if (!this.values.has(pos)) {
        const vk = lowerBound(this.valuePos, this.valuePos.length, pos);
        this.valuePos.splice(vk, 0, pos);
      }
      this.values.set(pos, value);
    }
  }
  refreshIndex() {
    if (this.dirtyFrom < this.n || this.pyr.n !== this.n) {
      this.pyr.update(this.val, this.n, Math.min(this.dirtyFrom, this.pyr.n));
      if (this.pyrIm) this.pyrIm.update(this.imag, this.n, Math.min(this.dirtyFrom, this.pyrIm.n));
    }
    this.dirtyFrom = Infinity;
  }
  xs(mode) { return mode === 'time' ? this.tsx : this.seq; }
  statusAt(pos) {
    const k = lowerBound(this.markPos, this.markPos.length, pos);
    return k < this.markPos.length && this.markPos[k] === pos ? this.markStatus[k] : 'ok';
  }
  markCounts() {
    const c = {};
    for (const s of this.markStatus) c[s] = (c[s] || 0) + 1;
    return c;
  }
  arrays() { return this.valuePos.filter(p => this.values.get(p).k === 'array'); }
}

function lowerBound(a, n, x) {
  let lo = 0, hi = n;
  while (lo < hi) { const m = (lo + hi) >>> 1; if (a[m] < x) lo = m + 1; else hi = m; }
  return lo;
}

// ------------------------------------------------------------------- chunks

const store = { run: null, series: [], byId: new Map(), state: null, notes: [] };

async function decodeChunk(h, body) {
  const parts = [];
  for (const p of h.probes) {
    const cols = {};
    for (const c of p.cols) cols[c.name] = await decodeCol(body, c, h.compressed);
    // An array comes with a new record's value or with a completion (a
    // patch: the capture was pending when the chunk before was cut).
    const arrays = p.values.map(([, v]) => v).concat((p.patches || []).map(e => e[4]));
    for (const v of arrays) {
      if (v && v.k === 'array') {
        v.reData = v.re ? await decodeCol(body, v.re, h.compressed) : new Float64Array(0);
        v.imData = v.im ? await decodeCol(body, v.im, h.compressed) : null;
      }
    }
    parts.push([p, cols]);
  }
  return parts;
}

function applyChunk(h, parts) {
  if (h.kind === 'full') {
    store.run = h.run;
    store.series = h.run.probes.map(ph => new Series(ph));
    store.byId = new Map(store.series.map(s => [s.id, s]));
    store.notes = h.notes || [];
    S.x = S.xChosen || h.run.x || 'seq';
  }
  for (const [p, cols] of parts) {
    const s = store.byId.get(p.id);
    if (!s) continue;
    s.panel = p.panel;
    if (p.n > 0) s.append(p, cols);
    s.total = Math.max(s.total, p.total);
    for (const [pos, st, re, im, v] of p.patches || []) s.patch(pos, st, re, im, v);
  }
  if (h.notes && h.kind !== 'full') store.notes = store.notes.concat(h.notes);
  store.state = h.state;
  S.chunks++;
}

// ------------------------------------------------------------------ drawing

const css = name => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const COLORS = () => ({
  line: css('--series-1'), line2: css('--series-2'), grid: css('--grid'), axis: css('--axis'),
  text: css('--fg'), muted: css('--muted'),
  status: { unbound: css('--st-unbound'), error: css('--st-error'), incomplete: css('--st-incomplete'),
            raised: css('--st-raised'), pending: css('--st-pending') },
});

function fmtNum(v) {
  if (v == null || Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) return v.toExponential(6).replace(/\.?0+e/, 'e');
  return String(v);
}
// Tick steps for axes of whole numbers (seq, element index): 1, 2, 5, 10, …
// — uPlot's default steps include 0.5 and 0.25, which put fractional
// ticks on a short seq or element range. The decimal set is uPlot's kind,
// for the time axis and values.
const INT_INCRS = [], DEC_INCRS = [];
for (let e = -16; e <= 16; e++) {
  for (const m of [1, 2, 2.5, 5]) {
    const step = +(m * 10 ** e).toPrecision(2);
    DEC_INCRS.push(step);
    if (e >= 0 && m !== 2.5) INT_INCRS.push(step);
  }
}
function fmtTick(v, span) {
  if (Math.abs(v) < span * 1e-9) v = 0; // -1.1e-16 is 0 on this axis
  return fmtNum(v);
}
function thousands(n) { return Math.round(n).toLocaleString('en-US'); }

function valueText(s, k) {
  const pos = s.pos[k];
  const v = s.values.get(pos);
  if (v) return textOf(v);
  const re = s.val[k];
  if (s.imag && isNum(s.imag[k])) {
    const im = s.imag[k];
    return `(${fmtNum(re)}${im < 0 || Object.is(im, -0) ? '' : '+'}${fmtNum(im)}j)`;
  }
  if (s.panel === 'step' && isNum(re)) return re ? 'True' : 'False';
  const st = s.statusAt(pos);
  if (!isNum(re) && st !== 'ok' && st !== 'raised') return '—';
  return fmtNum(re);
}
function textOf(v) {
  switch (v.k) {
    case 'array': return `${v.type} ${v.dtype}[${v.shape.join('×')}]${v.tr ? ' (truncated)' : ''}`;
    case 'none': return 'None';
    case 'absent': return '—';
    case 'str': return JSON.stringify(v.v) + (v.tr ? '…' : '');
    case 'error': return `<error ${v.type}: ${v.v}>`;
    default: return (v.type && v.k !== 'other' ? `${v.type}(${v.v})` : String(v.v)) + (v.tr && v.k !== 'str' ? '…' : '');
  }
}

/* M4 over records [lo, hi) of (xs, ys) in uPlot's own pixel columns: the
 * sorted record indices to draw (gaps included, so lines break there). */
function m4(xs, ys, pyr, lo, hi, colOf, out) {
  let cur = null; // [px, first, min, max, last]
  const flush = () => {
    if (!cur) return;
    const pts = [cur[1], cur[2], cur[3], cur[4]].sort((a, b) => a - b);
    let prev = -1;
    for (const k of pts) if (k !== prev) { out.push(k); prev = k; }
    cur = null;
  };
  const add = k => {
    cur[4] = k;
    if (ys[k] < ys[cur[2]]) cur[2] = k;
    if (ys[k] > ys[cur[3]]) cur[3] = k;
  };
  const point = (k, px) => { if (cur && cur[0] === px) add(k); else { flush(); cur = [px, k, k, k, k]; } };
  let a = lo;
  while (a < hi) {
    const c = colOf(xs[a]);
    let step = 1, l = a, h;
    for (;;) {
      const p = a + step;
      if (p >= hi) { h = hi; break; }
      if (colOf(xs[p]) !== c) { h = p; break; }
      l = p; step *= 2;
    }
    while (h - l > 1) { const mid = (l + h) >>> 1; if (colOf(xs[mid]) === c) l = mid; else h = mid; }
    const b = h;
    const mm = b - a > 8 ? pyr.minmax(ys, a, b) : null;
    if (mm) {
      if (cur && cur[0] === c) { add(mm[0]); add(mm[1]); add(b - 1); }
      else { flush(); cur = [c, a, mm[0], mm[1], b - 1]; }
    } else {
      for (let k = a; k < b; k++) {
        if (isNum(ys[k])) point(k, c);
        else { flush(); out.push(k); }
      }
    }
    a = b;
  }
  flush();
  return out;
}

function mergeSorted(a, b) {
  const out = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    const v = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (out.length === 0 || out[out.length - 1] !== v) out.push(v);
  }
  return out;
}

const charts = []; // {s, u, el, kind}
let FULL = null;   // full x range over every probe
let syncing = false;

function fullRange() {
  let mn = Infinity, mx = -Infinity;
  for (const s of store.series) {
    if (!s.n) continue;
    const xs = s.xs(S.x);
    mn = Math.min(mn, xs[0]); mx = Math.max(mx, xs[s.n - 1]);
  }
  if (!(mn <= mx)) { mn = 0; mx = 1; }
  if (mn === mx) { mn -= 0.5; mx += 0.5; }
  return { min: mn, max: mx };
}

function setRange(mn, mx, user) {
  if (!(mx > mn)) return;
  S.range = user ? { min: mn, max: mx } : null;
  for (const c of charts) if (c.u) c.u.setScale('x', { min: mn, max: mx });
  scheduleRender();
}

function currentRange() { return S.range || FULL; }

/* Decimated data of a chart for its current x scale. */
function chartData(c) {
  const s = c.s, u = c.u, xs = s.xs(S.x);
  s.refreshIndex();
  const { min, max } = currentRange();
  const n = s.n;
  let lo = Math.max(0, lowerBound(xs, n, min) - 1);
  let hi = Math.min(n, upperBound(xs, n, max) + 1);
  const colOf = x => Math.round(u.valToPos(x, 'x', true));
  let idx = m4(xs, s.val, s.pyr, lo, hi, colOf, []);
  if (s.imag) idx = mergeSorted(idx, m4(xs, s.imag, s.pyrIm, lo, hi, colOf, []));
  const X = new Array(idx.length), Y = new Array(idx.length), Y2 = s.imag ? new Array(idx.length) : null;
  let ymin = Infinity, ymax = -Infinity;
  for (let j = 0; j < idx.length; j++) {
    const k = idx[j];
    X[j] = xs[k];
    const v = s.val[k];
    Y[j] = isNum(v) ? v : null;
    const inView = xs[k] >= min && xs[k] <= max;
    if (inView && isNum(v)) { if (v < ymin) ymin = v; if (v > ymax) ymax = v; }
    if (Y2) {
      const w = s.imag[k];
      Y2[j] = isNum(w) ? w : null;
      if (inView && isNum(w)) { if (w < ymin) ymin = w; if (w > ymax) ymax = w; }
    }
  }
  c.points = idx.length;
  c.lo = lo; c.hi = hi;
  return { data: Y2 ? [X, Y, Y2] : [X, Y], ymin, ymax };
}

function upperBound(a, n, x) {
  let lo = 0, hi = n;
  while (lo < hi) { const m = (lo + hi) >>> 1; if (a[m] <= x) lo = m + 1; else hi = m; }
  return lo;
}

function yRange(ymin, ymax, step) {
  if (!(ymin <= ymax)) return [0, 1];
  if (step) return [Math.min(ymin, 0) - 0.15, Math.max(ymax, 1) + 0.15];
  if (ymin === ymax) { const d = Math.abs(ymin) * 0.1 || 1; return [ymin - d, ymax + d]; }
  const pad = (ymax - ymin) * 0.06;
  return [ymin - pad, ymax + pad];
}

function renderChart(c) {
  if (!c.u) return;
  const { data, ymin, ymax } = chartData(c);
  const [a, b] = yRange(ymin, ymax, c.s.panel === 'step');
  const r = currentRange();
  c.u.batch(() => {
    c.u.setData(data, false);
    c.u.setScale('x', { min: r.min, max: r.max });
    c.u.setScale('y', { min: a, max: b });
  });
}

function drawMarks(c, u) {
  const s = c.s, xs = s.xs(S.x), ctx = u.ctx, col = COLORS();
  const { min, max } = currentRange();
  const y = u.bbox.top + u.bbox.height;
  const r = 5 * devicePixelRatio;
  let lastPx = -1e9;
  ctx.save();
  for (let j = 0; j < s.markPos.length; j++) {
    const k = lowerBound(s.pos, s.n, s.markPos[j]);
    if (k >= s.n || s.pos[k] !== s.markPos[j]) continue;
    const x = xs[k];
    if (x < min || x > max) continue;
    const px = Math.round(u.valToPos(x, 'x', true));
    if (px - lastPx < r) continue;
    lastPx = px;
    ctx.fillStyle = col.status[s.markStatus[j]] || col.muted;
    ctx.beginPath();
    ctx.moveTo(px, y - 2 * r);
    ctx.lineTo(px - r, y);
    ctx.lineTo(px + r, y);
    ctx.closePath();
    ctx.fill();
  }
  ctx.restore();
}

function readout(c, u) {
  const s = c.s;
  const left = u.cursor.left;
  if (left == null || left < 0 || !s.n) { c.readout.textContent = c.idleText || ''; c.cursorIdx = null; return; }
  const xv = u.posToVal(left, 'x');
  const xs = s.xs(S.x);
  let k = lowerBound(xs, s.n, xv);
  if (k >= s.n) k = s.n - 1;
  if (k > 0 && Math.abs(xs[k - 1] - xv) <= Math.abs(xs[k] - xv)) k--;
  // Same x (several records in one batch at one time): the last one.
  c.cursorIdx = k;
  const pos = s.pos[k], seq = s.seq[k], batch = seq - s.order[k];
  const st = s.statusAt(pos);
  c.readout.innerHTML = '';
  const add = (label, value, cls) => {
    const e = $('span', 'kv' + (cls ? ' ' + cls : ''));
    e.append($('b', null, label), document.createTextNode(' ' + value));
    c.readout.append(e);
  };
  add('#', thousands(pos));
  add('seq', thousands(seq));
  add('value', valueText(s, k), 'val');
  add('status', st, 'st-' + st);
  add('batch', thousands(batch));
  add('t', (s.ts[k] / 1e9).toFixed(6) + ' s');
  S.cursor = { probe: s.label, pos, seq, batch, status: st, value: valueText(s, k) };
}

function axisStyle(col) {
  return { stroke: col.axis, grid: { stroke: col.grid, width: 1 }, ticks: { stroke: col.grid, width: 1 }, font: '11px system-ui, sans-serif' };
}

function makeChart(c, width) {
  const s = c.s, col = COLORS();
  const stepped = s.panel === 'step';
  // A lone value has no neighbour to draw a line to: it is shown as a dot
  // (a probe that triggered once, or one point in view).
  const lone = (u, si) => {
    let k = 0;
    for (const v of u.data[si] || []) if (v != null && !Number.isNaN(v) && ++k > 1) return false;
    return k === 1;
  };
  const series = [{}, {
    label: s.imag ? 're' : s.label, stroke: col.line, width: 1.25, spanGaps: false,
    points: { show: lone, size: 5, fill: col.line },
    ...(stepped ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}),
  }];
  if (s.imag) series.push({ label: 'im', stroke: col.line2, width: 1.25, spanGaps: false, points: { show: false } });
  const { min, max } = currentRange();
  const opts = {
    width, height: c.height,
    pxAlign: 1,
    legend: { show: false },
    cursor: {
      sync: { key: 'probe-x', setSeries: false },
      drag: { x: true, y: false, setScale: false },
      points: { show: false },
      y: false,
    },
    select: { show: true },
    scales: {
      x: { time: false, auto: false, range: () => [currentRange().min, currentRange().max] },
      y: { auto: false, range: (u, a, b) => [a, b] },
    },
    axes: [
      { ...axisStyle(col), values: (u, v) => v.map(t => fmtTick(t, u.scales.x.max - u.scales.x.min)), size: 32,
        incrs: () => S.x === 'time' ? DEC_INCRS : INT_INCRS },
      { ...axisStyle(col), values: (u, v) => stepped ? v.map(t => t === 0 ? 'False' : t === 1 ? 'True' : '') : v.map(t => fmtTick(t, u.scales.y.max - u.scales.y.min)),
        // Wide enough for the longest tick label (1000000040000 was cut to 0040000).
        size: (u, v) => Math.max(64, 14 + 7 * Math.max(0, ...(v || []).map(t => String(t).length))),
        splits: stepped ? () => [0, 1] : undefined },
    ],
    series,
    hooks: {
      setSelect: [u => {
        if (u.select.width < 3) return;
        const a = u.posToVal(u.select.left, 'x'), b = u.posToVal(u.select.left + u.select.width, 'x');
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        setRange(a, b, true);
      }],
      setCursor: [u => readout(c, u)],
      draw: [u => drawMarks(c, u)],
    },
  };
  const X = [min, max];
  const data = s.imag ? [X, [null, null], [null, null]] : [X, [null, null]];
  c.u = new uPlot(opts, data, c.plot);
  // Wheel zooms around the cursor; shift-drag pans; double-click resets.
  const over = c.u.over;
  over.addEventListener('wheel', e => {
    e.preventDefault();
    const r = currentRange();
    const f = e.deltaY < 0 ? 0.8 : 1.25;
    const xv = c.u.posToVal(e.offsetX, 'x');
    let a = xv - (xv - r.min) * f, b = xv + (r.max - xv) * f;
    if (b - a >= FULL.max - FULL.min) { S.range = null; setRange(FULL.min, FULL.max, false); return; }
    setRange(a, b, true);
  }, { passive: false });
  let pan = null;
  over.addEventListener('mousedown', e => {
    if (!e.shiftKey) return;
    e.stopPropagation(); e.preventDefault();
    const r = currentRange();
    pan = { x: e.clientX, r, per: (r.max - r.min) / c.u.over.clientWidth };
  }, true);
  window.addEventListener('mousemove', e => {
    if (!pan) return;
    const d = (e.clientX - pan.x) * pan.per;
    setRange(pan.r.min - d, pan.r.max - d, true);
  });
  window.addEventListener('mouseup', () => { pan = null; });
  over.addEventListener('dblclick', e => { e.preventDefault(); resetZoom(); });
}

function resetZoom() { S.range = null; setRange(FULL.min, FULL.max, false); }

// ---------------------------------------------------------- array and text

const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37]];
function viridis(t) {
  if (!isNum(t)) return [128, 128, 128];
  t = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t)), f = t - i;
  return VIRIDIS[i].map((a, j) => Math.round(a + (VIRIDIS[i + 1][j] - a) * f));
}

function arrayView(v) {
  if (v.dtype.startsWith('complex')) return 'constellation';
  if (v.shape.length <= 1) return 'waveform';
  if (v.shape.length === 2) return 'heatmap';
  return 'text';
}

function drawArray(c) {
  const s = c.s, col = COLORS();
  const list = s.arrays();
  c.arrayCount = list.length;
  if (!list.length) { c.plot.textContent = 'no array captured'; return; }
  const slider = c.slider;
  const follow = c.followLatest !== false;
  slider.max = String(list.length - 1);
  if (follow) slider.value = String(list.length - 1);
  const at = Math.min(list.length - 1, +slider.value);
  const pos = list[at], v = s.values.get(pos);
  const k = lowerBound(s.pos, s.n, pos);
  const seq = k < s.n && s.pos[k] === pos ? s.seq[k] : NaN;
  c.sliderLabel.textContent = `capture #${thousands(pos)} (seq ${isNum(seq) ? thousands(seq) : '?'}) · ${at + 1} of ${list.length} embedded · ${v.dtype} [${v.shape.join('×')}]${v.tr ? ' truncated' : ''}`;
  const view = arrayView(v);
  c.view = view;
  c.shownPos = pos;
  const width = c.plot.clientWidth || 600, height = c.height;
  if (view === 'waveform') {
    const n = v.reData.length;
    const X = new Array(n), Y = new Array(n);
    for (let i = 0; i < n; i++) { X[i] = i; Y[i] = isNum(v.reData[i]) ? v.reData[i] : null; }
    if (!c.u || c.uKind !== 'waveform') {
      c.plot.innerHTML = '';
      c.u = null;
      c.u = new uPlot({
        width, height, legend: { show: false }, cursor: { points: { show: false }, y: false },
        scales: { x: { time: false } },
        axes: [{ ...axisStyle(col), label: 'element', labelSize: 14, size: 44, incrs: INT_INCRS },
               { ...axisStyle(col), size: 64, values: (u, t) => t.map(x => fmtTick(x, u.scales.y.max - u.scales.y.min)) }],
        series: [{}, { stroke: col.line, width: 1.25, points: { show: n <= 64, size: 4 } }],
        hooks: { setCursor: [u => {
          const i = u.cursor.idx;
          c.readout.textContent = i == null ? c.idleText : `element ${i}: ${fmtNum(v.reData[i])}`;
        }] },
      }, [X, Y], c.plot);
      c.uKind = 'waveform';
    } else c.u.setData([X, Y]);
    c.points = n;
    return;
  }
  if (c.u) { c.u.destroy(); c.u = null; c.uKind = null; }
  c.plot.innerHTML = '';
  if (view === 'text') { c.plot.append($('pre', 'textval', `${v.dtype} array of shape [${v.shape.join(', ')}]: not drawn (3-D or more)`)); return; }
  const dpr = devicePixelRatio || 1;
  const cv = $('canvas');
  cv.width = Math.round(width * dpr); cv.height = Math.round(height * dpr);
  cv.style.width = width + 'px'; cv.style.height = height + 'px';
  c.plot.append(cv);
  const ctx = cv.getContext('2d');
  ctx.scale(dpr, dpr);
  ctx.font = '11px system-ui, sans-serif';
  if (view === 'constellation') {
    const re = v.reData, im = v.imData || new Float64Array(re.length);
    let m = 0;
    for (let i = 0; i < re.length; i++) { if (isNum(re[i])) m = Math.max(m, Math.abs(re[i])); if (isNum(im[i])) m = Math.max(m, Math.abs(im[i])); }
    m = m * 1.1 || 1;
    const size = Math.min(width - 70, height - 30), ox = 60 + size / 2, oy = 10 + size / 2;
    ctx.strokeStyle = col.grid; ctx.strokeRect(60, 10, size, size);
    ctx.beginPath(); ctx.moveTo(60, oy); ctx.lineTo(60 + size, oy); ctx.moveTo(ox, 10); ctx.lineTo(ox, 10 + size); ctx.stroke();
    ctx.fillStyle = col.axis;
    ctx.fillText(fmtNum(+m.toPrecision(3)), 60 + size + 4, oy + 4);
    ctx.fillText('I', 60 + size - 8, oy - 4); ctx.fillText('Q', ox + 4, 20);
    ctx.fillStyle = col.line; ctx.globalAlpha = re.length > 2000 ? 0.5 : 0.85;
    for (let i = 0; i < re.length; i++) {
      if (!isNum(re[i]) || !isNum(im[i])) continue;
      ctx.fillRect(ox + re[i] / m * size / 2 - 1.5, oy - im[i] / m * size / 2 - 1.5, 3, 3);
    }
    ctx.globalAlpha = 1;
    c.points = re.length;
    return;
  }
  // heatmap
  const [rows, cols] = v.shape;
  const data = v.reData;
  let lo = Infinity, hi = -Infinity;
  for (const x of data) if (isNum(x)) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
  const w = width - 130, h = height - 20;
  const img = ctx.createImageData(Math.max(1, Math.round(w * dpr)), Math.max(1, Math.round(h * dpr)));
  for (let py = 0; py < img.height; py++) {
    const r = Math.floor(py / img.height * rows);
    for (let px = 0; px < img.width; px++) {
      const cc = Math.floor(px / img.width * cols);
      const i = r * cols + cc;
      const x = i < data.length ? data[i] : NaN;
      const [R, G, B] = viridis(hi > lo ? (x - lo) / (hi - lo) : 0.5);
      const o = (py * img.width + px) * 4;
      img.data[o] = R; img.data[o + 1] = G; img.data[o + 2] = B; img.data[o + 3] = isNum(x) ? 255 : 60;
    }
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.putImageData(img, Math.round(60 * dpr), Math.round(10 * dpr));
  ctx.scale(dpr, dpr);
  for (let i = 0; i <= 20; i++) {
    const [R, G, B] = viridis(1 - i / 20);
    ctx.fillStyle = `rgb(${R},${G},${B})`;
    ctx.fillRect(width - 60, 10 + i * h / 21, 12, h / 21 + 1);
  }
  ctx.fillStyle = col.axis;
  ctx.fillText(fmtNum(+hi.toPrecision(4)), width - 44, 18);
  ctx.fillText(fmtNum(+lo.toPrecision(4)), width - 44, 10 + h);
  ctx.fillText(`${rows} rows`, 4, 20); ctx.fillText(`${cols} cols`, 4, 34);
  c.points = data.length;
}

function drawText(c) {
  const s = c.s;
  const list = c.list;
  list.innerHTML = '';
  const t = $('table', 'textlist');
  const hd = t.createTHead().insertRow();
  for (const h of ['#', 'seq', 'status', 'value']) hd.append($('th', null, h));
  const tb = t.createTBody();
  const from = Math.max(0, s.n - 300);
  for (let k = s.n - 1; k >= from; k--) {
    const p = s.pos[k];
    const r = tb.insertRow();
    const st = s.statusAt(p);
    r.append($('td', 'num', thousands(p)), $('td', 'num', thousands(s.seq[k])),
             $('td', 'st-' + st, st), $('td', 'textval', valueText(s, k)));
  }
  list.append(t);
  c.points = s.n - from;
}

// -------------------------------------------------------------------- page

let built = false;
const app = () => document.getElementById('app');

function runLine(run, state) {
  const start = new Date(run.start_unix_ns / 1e6);
  const parts = [
    `Python ${run.python.split(' ')[0]} (${run.core} core)`,
    `started ${start.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`,
  ];
  if (state.duration_ns != null) parts.push(`ran ${(state.duration_ns / 1e9).toFixed(3)} s`);
  if (state.ended) {
    const e = state.ended;
    parts.push(e.kind === 'exit' ? `exited with status ${e.code}` :
      e.kind === 'signal' ? `killed by signal ${e.signal}` :
      e.kind === 'exception' ? `ended by ${e.exception || 'an exception'} (status ${e.code})` : `${e.kind} (status ${e.code})`);
  }
  return parts.join(' · ');
}

function build() {
  const root = app();
  root.innerHTML = '';
  const run = store.run;
  const head = $('header', 'top');
  const title = $('div', 'title');
  title.append($('span', 'logo', 'probe'), $('span', 'logname', run.log));
  const live = $('span', 'badge', '');
  live.id = 'live-badge';
  title.append(live);
  head.append(title);
  const cmd = $('div', 'cmd');
  cmd.append($('code', null, run.command.join(' ')));
  head.append(cmd);
  const info = $('div', 'runinfo');
  info.id = 'runinfo';
  head.append(info);
  const controls = $('div', 'controls');
  const xsel = $('select');
  xsel.id = 'x-axis';
  for (const [v, t] of [['seq', 'x: capture order (seq)'], ['time', 'x: time (s)']]) {
    const o = $('option', null, t); o.value = v; xsel.append(o);
  }
  xsel.value = S.x;
  xsel.onchange = () => { S.xChosen = S.x = xsel.value; S.range = null; rebuildCharts(); };
  const reset = $('button', null, 'Reset zoom');
  reset.onclick = resetZoom;
  const theme = $('button', null, 'Theme');
  theme.onclick = () => {
    const d = document.documentElement;
    d.dataset.theme = (d.dataset.theme || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')) === 'dark' ? 'light' : 'dark';
    rebuildCharts();
  };
  controls.append(xsel, reset, theme, $('span', 'hint', 'drag: zoom · wheel: zoom · shift-drag: pan · double-click: reset'));
  head.append(controls);
  root.append(head);
  const banner = $('div', 'banner');
  banner.id = 'banner';
  root.append(banner);
  const sum = $('section', 'summary');
  sum.id = 'summary';
  root.append(sum);
  const panels = $('section', 'panels');
  panels.id = 'panels';
  root.append(panels);
  const foot = $('footer', null);
  foot.append(document.createTextNode(`probe ${run.viewer} · log written by probe ${run.probe_version} · charts: uPlot (MIT) · `),
    $('span', 'muted', 'exact per-pixel min/max decimation of the visible range'));
  root.append(foot);
  built = true;
  rebuildCharts();
}

function panelTitle(s) {
  const c = s.markCounts();
  const marks = Object.entries(c).map(([k, n]) => `${thousands(n)} ${k}`).join(', ');
  return { name: s.label, meta: `${s.role} · ${thousands(s.total)} record${s.total === 1 ? '' : 's'} · ${s.panel}${marks ? ' · ▲ ' + marks : ''}${s.reduced ? ` · reduced ×${s.reduced}` : ''}` };
}

function rebuildCharts() {
  for (const c of charts) if (c.u) c.u.destroy();
  charts.length = 0;
  const host = document.getElementById('panels');
  host.innerHTML = '';
  FULL = fullRange();
  for (const s of store.series) {
    const card = $('div', 'panel');
    card.dataset.probe = s.label;
    card.dataset.panel = s.panel;
    const h = $('div', 'phead');
    const t = panelTitle(s);
    const nm = $('span', 'pname', t.name), meta = $('span', 'pmeta', t.meta);
    h.append(nm, meta);
    card.append(h);
    const ro = $('div', 'readout');
    card.append(ro);
    const plot = $('div', 'plot');
    card.append(plot);
    host.append(card);
    const c = { s, el: card, plot, readout: ro, meta, kind: s.panel, height: 190, points: 0 };
    c.idleText = s.panel === 'text' ? '' : s.panel === 'array' ? 'hover for element values' : 'hover for seq, value, status and batch';
    ro.textContent = c.idleText;
    if (s.panel === 'array') {
      const bar = $('div', 'slider');
      c.slider = $('input'); c.slider.type = 'range'; c.slider.min = '0'; c.slider.step = '1';
      c.sliderLabel = $('span', 'slabel');
      c.slider.oninput = () => { c.followLatest = +c.slider.value === +c.slider.max; drawArray(c); };
      bar.append(c.slider, c.sliderLabel);
      card.insertBefore(bar, plot);
      c.height = 240;
    } else if (s.panel === 'text') {
      c.list = plot; plot.classList.add('textplot');
    } else if (s.panel === 'empty') {
      plot.append($('div', 'muted', 'no records'));
    }
    charts.push(c);
  }
  requestAnimationFrame(() => {
    for (const c of charts) {
      if (['line', 'step', 'complex'].includes(c.kind)) makeChart(c, c.plot.clientWidth || 800);
    }
    scheduleRender();
  });
}

function summary() {
  const host = document.getElementById('summary');
  const t = $('table', 'sumtable');
  const hd = t.createTHead().insertRow();
  for (const h of ['probe', 'panel', 'records', 'min', 'max', 'last', 'not ok']) hd.append($('th', null, h));
  const tb = t.createTBody();
  for (const s of store.series) {
    const r = tb.insertRow();
    const last = s.n ? valueText(s, s.n - 1) : '—';
    const mc = s.markCounts();
    const marks = Object.entries(mc).map(([k, n]) => `${thousands(n)} ${k}`).join(', ');
    const hasNum = s.min <= s.max;
    const showNum = v => s.panel === 'step' ? (v ? 'True' : 'False') : fmtNum(v);
    r.append($('td', 'pname', s.label), $('td', null, s.panel), $('td', 'num', thousands(s.total)),
      $('td', 'num', hasNum ? showNum(s.min) : '—'), $('td', 'num', hasNum ? showNum(s.max) : '—'),
      $('td', 'textval', last), $('td', marks ? 'warn' : 'muted', marks || '—'));
  }
  host.innerHTML = '';
  host.append(t);
}

function banner() {
  const st = store.state, b = document.getElementById('banner');
  b.innerHTML = '';
  b.className = 'banner';
  const notes = store.notes || [];
  if (st.live) {
    b.classList.add('live');
    b.append($('div', null, `Live: ${thousands(st.records)} records so far; the program is running.`));
  } else if (!st.complete) {
    b.classList.add('bad');
    b.append($('div', 'btitle', st.has_end ? 'This log is damaged: showing everything intact.' : 'This log is incomplete (no end marker): showing everything recorded.'));
    const ul = $('ul');
    for (const i of st.issues) ul.append($('li', null, i));
    b.append(ul);
  }
  if (notes.length) {
    const ul = $('ul', 'notes');
    for (const n of notes) ul.append($('li', null, n));
    b.append(ul);
    b.classList.add('noted');
  }
  b.hidden = !b.childNodes.length;
  document.getElementById('runinfo').textContent = runLine(store.run, st);
  const badge = document.getElementById('live-badge');
  badge.className = 'badge ' + (S.mode === 'live' ? (st.live ? 'on' : 'done') : (st.complete ? 'ok' : 'bad'));
  badge.textContent = S.mode === 'live' ? (st.live ? `● live · ${store.run.fps} fps` : (S.disconnected ? 'run ended · final state (server closed)' : 'run ended · final state'))
    : (st.complete ? 'complete' : (st.has_end ? 'damaged' : 'incomplete'));
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

function render() {
  if (!built) return;
  const oldFull = FULL;
  FULL = fullRange();
  const r = currentRange();
  for (const c of charts) {
    if (c.s.panel !== c.kind) { rebuildCharts(); return; }
    const t = panelTitle(c.s);
    c.meta.textContent = t.meta;
    if (c.u && ['line', 'step', 'complex'].includes(c.kind)) {
      if (!S.range || !oldFull) c.u.setScale('x', { min: r.min, max: r.max });
      renderChart(c);
    } else if (c.kind === 'array') drawArray(c);
    else if (c.kind === 'text') drawText(c);
  }
  summary();
  banner();
  S.renders++;
  publish();
}

function publish() {
  const st = store.state;
  S.records = st.records;
  S.live = st.live;
  S.ended = !st.live && (st.has_end || S.mode === 'static' || S.disconnected === true);
  S.complete = st.complete;
  S.issues = st.issues;
  S.notes = store.notes;
  S.run = { log: store.run.log, python: store.run.python, core: store.run.core, command: store.run.command };
  S.probes = charts.map(c => {
    const s = c.s;
    const o = {
      id: s.id, label: s.label, panel: s.panel, count: s.total, kept: s.n, reduced: s.reduced,
      min: s.min <= s.max ? s.min : null, max: s.min <= s.max ? s.max : null,
      last: s.n ? valueText(s, s.n - 1) : null, marks: s.markCounts(), points: c.points,
      drawn: !!(c.u || c.kind === 'text' || c.kind === 'empty' || (c.kind === 'array' && c.plot.querySelector('canvas'))),
      values: s.valuePos.length,
    };
    if (c.kind === 'array') { o.view = c.view; o.arrays = c.arrayCount; o.shownPos = c.shownPos; }
    return o;
  });
  S.range = S.range ? { min: S.range.min, max: S.range.max } : null;
  S.full = FULL ? { min: FULL.min, max: FULL.max } : null;
  S.ready = true;
}

window.addEventListener('resize', () => {
  for (const c of charts) if (c.u && c.kind !== 'array') c.u.setSize({ width: c.plot.clientWidth, height: c.height });
  scheduleRender();
});

// -------------------------------------------------------------- test hooks

window.__probeTest = {
  setRange: (a, b) => setRange(a, b, true),
  reset: resetZoom,
  setX: m => { const sel = document.getElementById('x-axis'); sel.value = m; sel.onchange(); },
  /* The exactness check: probe `i`'s visible range drawn as one canvas
   * polyline through every point, and through the M4 reduction the chart
   * uses, both at uPlot's pixel positions (x and y rounded as uPlot's path
   * builder rounds them), then compared pixel by pixel. */
  // Pixels of chart i's canvas in exactly the value series' colour (its
  // line or dots; grid, axes and marks have other colours).
  async seriesInk(i) {
    const u = charts[i].u;
    await new Promise(r => requestAnimationFrame(() => r()));
    const one = document.createElement('canvas').getContext('2d');
    one.fillStyle = COLORS().line;
    one.fillRect(0, 0, 1, 1);
    const [r0, g0, b0] = one.getImageData(0, 0, 1, 1).data;
    const d = u.ctx.getImageData(0, 0, u.ctx.canvas.width, u.ctx.canvas.height).data;
    let n = 0;
    for (let j = 0; j < d.length; j += 4) if (d[j] === r0 && d[j + 1] === g0 && d[j + 2] === b0 && d[j + 3] === 255) n++;
    return n;
  },
  async exactness(i, width, height) {
    const c = charts[i], s = c.s, xs = s.xs(S.x), r = currentRange();
    const ymin = c.u.scales.y.min, ymax = c.u.scales.y.max;
    const px = x => Math.round((x - r.min) / (r.max - r.min) * width);
    const py = y => Math.round(height - (y - ymin) / (ymax - ymin) * height);
    const draw = ks => {
      const cv = document.createElement('canvas');
      cv.width = width; cv.height = height;
      const ctx = cv.getContext('2d');
      ctx.lineWidth = 1; ctx.strokeStyle = '#000'; ctx.lineJoin = 'round'; ctx.lineCap = 'butt';
      ctx.beginPath();
      let open = false;
      for (const k of ks) {
        const v = s.val[k];
        if (!isNum(v)) { open = false; continue; }
        if (open) ctx.lineTo(px(xs[k]), py(v)); else { ctx.moveTo(px(xs[k]), py(v)); open = true; }
      }
      ctx.stroke();
      return ctx.getImageData(0, 0, width, height).data;
    };
    const lo = Math.max(0, lowerBound(xs, s.n, r.min) - 1), hi = Math.min(s.n, upperBound(xs, s.n, r.max) + 1);
    const all = [];
    for (let k = lo; k < hi; k++) all.push(k);
    s.refreshIndex();
    const idx = m4(xs, s.val, s.pyr, lo, hi, px, []);
    const a = draw(all), b = draw(idx);
    // `diff`: pixels inked in one drawing and not in the other; `shade`:
    // pixels whose anti-aliased coverage differs (Skia accumulates partial
    // coverage of overlapping segments differently, so this is reported,
    // not required to be 0).
    let diff = 0, inked = 0, shade = 0;
    for (let j = 3; j < a.length; j += 4) {
      if ((a[j] > 0) !== (b[j] > 0)) diff++;
      else if (a[j] !== b[j]) shade++;
      if (a[j]) inked++;
    }
    return { points: hi - lo, kept: idx.length, diff, shade, inked };
  },
};

// ------------------------------------------------------------------ loading

async function loadStatic() {
  const h = JSON.parse(document.getElementById('probe-header').textContent);
  const body = b64ToBytes(document.getElementById('probe-body').textContent);
  const parts = await decodeChunk(h, body);
  applyChunk(h, parts);
  build();
}

function loadLive(cfg) {
  S.mode = 'live';
  let queue = Promise.resolve();
  const es = new EventSource(cfg.events);
  S.events = 0;
  es.onmessage = e => {
    queue = queue.then(async () => {
      const m = JSON.parse(e.data);
      const parts = await decodeChunk(m.h, b64ToBytes(m.b));
      applyChunk(m.h, parts);
      S.events++;
      if (m.h.kind === 'full') build(); else scheduleRender();
      if (!m.h.state.live) { S.finalReceived = true; }
    }).catch(err => { S.error = String(err && err.stack || err); });
  };
  es.onerror = () => {
    if (S.finalReceived) { es.close(); S.disconnected = true; scheduleRender(); }
  };
}

async function main() {
  try {
    const liveCfg = document.getElementById('probe-live');
    if (liveCfg) loadLive(JSON.parse(liveCfg.textContent));
    else await loadStatic();
  } catch (err) {
    S.error = String(err && err.stack || err);
    app().textContent = 'probe view could not load this report: ' + err;
  }
}
main();
})();

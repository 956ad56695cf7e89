//! The live viewer: a store of every probe's history that grows while a
//! program runs ([`LiveStore`], fed by the recorder's tap — `record --view` —
//! or by [`super::follow`] — `view --follow`), and a small HTTP server that
//! serves the viewer's page on 127.0.0.1 and pushes new data to it as
//! Server-Sent Events at most `fps` times a second.
//!
//! Why Server-Sent Events over a std-only server: the data flow is one-way
//! (server → page), `EventSource` is built into every browser and reconnects
//! by itself, and an event stream is plain HTTP/1.1 text written to a socket,
//! so the whole server is a few hundred lines of `std::net` with one thread
//! per connection (a viewer has one or two) — no async runtime or web
//! framework in a tool whose other parts have no use for them.
//!
//! Security: the listener binds 127.0.0.1 only; every request must carry the
//! random token printed with the URL (128 bits from the OS), and a `Host`
//! header naming the loopback address or `localhost` with our port (so a
//! web page cannot reach the server through DNS rebinding). Anything else
//! gets 403 and nothing else.
//!
//! Refresh: each client's thread wakes when new data arrive, waits for the
//! next refresh tick (`k / fps` seconds after the server started, the
//! [`RedrawThrottler`]'s tick arithmetic), and sends everything new since
//! its previous event in one delta chunk — so the page is redrawn at most
//! once per tick and only when some probe got new data, as the replay's
//! throttled display.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::history::buffer::ProbeDataBuffer;
use crate::history::throttle::RedrawThrottler;
use crate::log::meta::{EndInfo, RunMeta};
use crate::model::{CaptureRecord, Status, Value};
use crate::record::RecordTap;
use crate::render::plot::PanelKind;

use super::data::{self, BodyWriter, Chunk, StateHeader, ValueLimits};
use super::page;

/// A completion applied to an earlier record.
#[derive(Debug, Clone)]
struct Patch {
    probe: u32,
    pos: u64,
    status: Status,
    value: Value,
}

#[derive(Default)]
struct Inner {
    run: Option<data::RunHeader>,
    labels: Vec<String>,
    buffers: Vec<ProbeDataBuffer>,
    orders: Vec<Vec<u16>>,
    /// Placeholders waiting for their completion: seq → (probe, position).
    pending: HashMap<u64, (u32, u64)>,
    patches: Vec<Patch>,
    records: u64,
    end: Option<EndInfo>,
    issues: Vec<String>,
    finished: bool,
    version: u64,
}

/// Every probe's history so far, shared between the feeder and the server.
pub struct LiveStore {
    inner: Mutex<Inner>,
    changed: Condvar,
    fps: u32,
    log_name: String,
    x_time: bool,
}

impl LiveStore {
    /// An empty store; `fps` is the page's refresh rate.
    pub fn new(log_name: &str, fps: u32, x_time: bool) -> Arc<LiveStore> {
        Arc::new(LiveStore {
            inner: Mutex::new(Inner::default()),
            changed: Condvar::new(),
            fps: fps.max(1),
            log_name: log_name.to_string(),
            x_time,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking feeder leaves consistent data behind (every update is
        // complete before the next one starts), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run started: its probe table.
    pub fn start(&self, meta: &RunMeta) {
        let mut g = self.lock();
        g.run = Some(data::run_header(
            &self.log_name,
            meta,
            self.fps,
            if self.x_time { "time" } else { "seq" },
        ));
        g.labels = meta.unique_labels();
        g.buffers = vec![ProbeDataBuffer::default(); meta.probes.len()];
        g.orders = vec![Vec::new(); meta.probes.len()];
        g.version += 1;
        drop(g);
        self.changed.notify_all();
    }

    /// Records, in seq order.
    pub fn push(&self, recs: &[CaptureRecord]) {
        if recs.is_empty() {
            return;
        }
        let mut g = self.lock();
        let g = &mut *g;
        for r in recs {
            let p = r.probe as usize;
            let Some(buf) = g.buffers.get_mut(p) else {
                continue;
            };
            let pos = buf.len() as u64;
            if r.status == Status::Pending {
                g.pending.insert(r.seq, (r.probe, pos));
            }
            buf.push_record(r.seq, r.ts_ns, r.status, r.value.clone());
            g.orders[p].push(r.order);
            g.records += 1;
        }
        g.version += 1;
        self.changed.notify_all();
    }

    /// A placeholder completed.
    pub fn complete(&self, seq: u64, status: Status, value: &Value) {
        let mut g = self.lock();
        if let Some((probe, pos)) = g.pending.remove(&seq) {
            g.patches.push(Patch {
                probe,
                pos,
                status,
                value: value.clone(),
            });
            g.version += 1;
        }
        drop(g);
        self.changed.notify_all();
    }

    /// The run ended: the end marker (if the log got one) and what the
    /// log's reader found wrong.
    pub fn finish(&self, end: Option<EndInfo>, issues: Vec<String>) {
        let mut g = self.lock();
        g.end = end;
        g.issues = issues;
        g.finished = true;
        g.version += 1;
        drop(g);
        self.changed.notify_all();
    }

    /// True once [`finish`](Self::finish) was called.
    pub fn is_finished(&self) -> bool {
        self.lock().finished
    }

    /// Records held.
    pub fn records(&self) -> u64 {
        self.lock().records
    }

    fn state(g: &Inner) -> StateHeader {
        let mut issues = g.issues.clone();
        if g.finished && g.end.is_none() && issues.is_empty() {
            issues.push("log incomplete: no end marker (the recorder did not finish it)".into());
        }
        StateHeader {
            records: g.records,
            live: !g.finished,
            complete: g.finished && g.end.is_some() && issues.is_empty(),
            has_end: g.end.is_some(),
            ended: g.end.as_ref().map(data::ended_json),
            duration_ns: g.end.as_ref().map(|e| e.duration_ns),
            issues,
        }
    }

    fn patch_entry(
        p: &Patch,
        body: &mut BodyWriter,
    ) -> (
        u64,
        &'static str,
        Option<f64>,
        Option<f64>,
        serde_json::Value,
    ) {
        let base = match &p.value {
            Value::Sub { base, .. } => base.as_ref(),
            v => v,
        };
        let ok_like = matches!(p.status, Status::Ok | Status::Raised);
        let (re, im) = match base {
            Value::Bool(x) if ok_like => (Some(f64::from(u8::from(*x))), None),
            Value::Int(i) if ok_like => (Some(*i as f64), None),
            Value::Float(f) if ok_like => (Some(*f), None),
            Value::Complex(r, i) if ok_like => (Some(*r), Some(*i)),
            _ => (None, None),
        };
        // Raised while unbound goes as a value (`absent`), or the page could
        // not tell it from a NaN read when the exception hit.
        let scalar = match base {
            Value::Absent => p.status != Status::Raised,
            Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Complex(..) => true,
            _ => false,
        };
        let v = if scalar {
            serde_json::Value::Null
        } else {
            // A one-value chunk part gives the value's page form.
            let one = [(0u64, p.value.clone())];
            let view = data::SeriesView {
                seq: &[0],
                ts: &[0],
                val: &[f64::NAN],
                imag: &[],
                order: &[],
                marks: &[],
                others: &one,
            };
            let (mut part, _) = data::encode_probe(
                0,
                &view,
                PanelKind::Text,
                0,
                1,
                None,
                &ValueLimits::default(),
                body,
            );
            part.values
                .pop()
                .map_or(serde_json::Value::Null, |(_, v)| v)
        };
        (p.pos, p.status.as_str(), re, im, v)
    }

    /// The chunk a client needs next, given what it has (`None`: nothing).
    fn next_chunk(&self, have: &mut Cursor) -> Option<Chunk> {
        let g = self.lock();
        let run = g.run.clone()?;
        if have.version == g.version {
            return None;
        }
        have.version = g.version;
        let state = Self::state(&g);
        let first = have.counts.is_empty();
        if first {
            // Everything so far, within 64 MB of uncompressed body.
            let (mut chunk, _) = super::full_chunk(
                run,
                state,
                &g.buffers,
                &g.labels,
                &g.orders,
                false,
                64 << 20,
            );
            have.counts = g.buffers.iter().map(|b| b.len()).collect();
            let mut body = BodyWriter::new(false);
            let mut extra: Vec<(usize, _)> = Vec::new();
            for p in &g.patches {
                extra.push((p.probe as usize, Self::patch_entry(p, &mut body)));
            }
            have.patches = g.patches.len();
            // Patch values that need body columns (arrays) go into a second
            // body appended to the first.
            let (pbody, cols) = body.finish();
            let shift = chunk.body.len().next_multiple_of(8) as u64;
            chunk.body.resize(shift as usize, 0);
            chunk.body.extend_from_slice(&pbody);
            for (p, mut e) in extra {
                fix_cols(&mut e.4, &cols, shift);
                if let Some(part) = chunk.header.probes.get_mut(p) {
                    part.patches.push(e);
                }
            }
            return Some(chunk);
        }
        let mut body = BodyWriter::new(false);
        let limits = ValueLimits::default();
        let mut parts = Vec::new();
        let mut patch_lists: HashMap<usize, Vec<_>> = HashMap::new();
        for p in &g.patches[have.patches..] {
            patch_lists
                .entry(p.probe as usize)
                .or_default()
                .push(Self::patch_entry(p, &mut body));
        }
        have.patches = g.patches.len();
        for (p, buf) in g.buffers.iter().enumerate() {
            let from = have.counts.get(p).copied().unwrap_or(0);
            let to = buf.len();
            let patches = patch_lists.remove(&p).unwrap_or_default();
            if to == from && patches.is_empty() {
                continue;
            }
            let s = data::SeriesView::of(buf, &g.orders[p]);
            let (mut part, refs) = data::encode_probe(
                p as u32,
                &s,
                PanelKind::of(buf),
                from,
                to,
                None,
                &limits,
                &mut body,
            );
            part.patches = patches;
            parts.push((part, refs));
            if let Some(c) = have.counts.get_mut(p) {
                *c = to;
            }
        }
        // Patch values' array columns were queued in the same body; assemble
        // resolves them with the probes' own.
        Some(data::assemble(
            "delta",
            None,
            state,
            parts,
            Vec::new(),
            body,
        ))
    }
}

/// Replace column slots in a value's `re`/`im` with the columns, shifted.
fn fix_cols(v: &mut serde_json::Value, cols: &[data::Col], shift: u64) {
    for key in ["re", "im"] {
        if let Some(slot) = v.get(key).and_then(serde_json::Value::as_u64) {
            if let Some(c) = cols.get(slot as usize) {
                let mut c = c.clone();
                c.off += shift;
                v[key] = serde_json::to_value(c).unwrap_or(serde_json::Value::Null);
            }
        }
    }
}

/// What a client has been sent.
#[derive(Default)]
struct Cursor {
    version: u64,
    counts: Vec<usize>,
    patches: usize,
}

/// Feeds a [`LiveStore`] from the recorder (`record --view`), batching
/// records between flushes so the store's lock is taken once per batch.
pub struct StoreTap {
    store: Arc<LiveStore>,
    buf: Vec<CaptureRecord>,
}

impl StoreTap {
    /// A tap into `store`.
    pub fn new(store: Arc<LiveStore>) -> Self {
        StoreTap {
            store,
            buf: Vec::new(),
        }
    }
}

impl RecordTap for StoreTap {
    fn started(&mut self, meta: &RunMeta) {
        self.store.start(meta);
    }

    fn record(&mut self, rec: &CaptureRecord) {
        self.buf.push(rec.clone());
        if self.buf.len() >= 65_536 {
            self.flush();
        }
    }

    fn completed(&mut self, seq: u64, status: Status, value: &Value) {
        self.flush();
        self.store.complete(seq, status, value);
    }

    fn flush(&mut self) {
        self.store.push(&self.buf);
        self.buf.clear();
    }
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding the port failed.
    #[error("cannot listen on 127.0.0.1:{port}: {error}")]
    Bind {
        /// The port asked for (0: any).
        port: u16,
        /// Why.
        error: std::io::Error,
    },
    /// No randomness for the token.
    #[error("cannot read /dev/urandom for the access token: {0}")]
    Random(std::io::Error),
}

/// The running server.
pub struct LiveServer {
    port: u16,
    token: String,
    store: Arc<LiveStore>,
    clients: Arc<AtomicUsize>,
    finals_sent: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

fn random_token() -> std::io::Result<String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Constant-time comparison (the token is a secret).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl LiveServer {
    /// Listen on 127.0.0.1:`port` (0: any free port) and serve `store`.
    pub fn start(store: Arc<LiveStore>, port: u16) -> Result<LiveServer, ServeError> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|error| ServeError::Bind { port, error })?;
        let port = listener
            .local_addr()
            .map_err(|error| ServeError::Bind { port, error })?
            .port();
        let token = random_token().map_err(ServeError::Random)?;
        let server = LiveServer {
            port,
            token: token.clone(),
            store: store.clone(),
            clients: Arc::new(AtomicUsize::new(0)),
            finals_sent: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let ctx = Arc::new(Ctx {
            store,
            token,
            port,
            started: Instant::now(),
            clients: server.clients.clone(),
            finals_sent: server.finals_sent.clone(),
            stop: server.stop.clone(),
        });
        std::thread::Builder::new()
            .name("probe-view-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    let ctx = ctx.clone();
                    let _ = std::thread::Builder::new()
                        .name("probe-view-conn".into())
                        .spawn(move || handle(conn, &ctx));
                }
            })
            .map_err(|error| ServeError::Bind { port, error })?;
        Ok(server)
    }

    /// The port listened on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The page's URL, token included.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/?token={}", self.port, self.token)
    }

    /// After the run ended: wait until every connected page got the final
    /// state, at most `timeout`.
    pub fn linger(&self, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            let c = self.clients.load(Ordering::SeqCst);
            if self.store.is_finished() && self.finals_sent.load(Ordering::SeqCst) >= c {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.store.changed.notify_all();
    }
}

struct Ctx {
    store: Arc<LiveStore>,
    token: String,
    port: u16,
    started: Instant,
    clients: Arc<AtomicUsize>,
    finals_sent: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

fn respond(conn: &mut TcpStream, status: &str, ctype: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
}

fn handle(mut conn: TcpStream, ctx: &Ctx) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = match conn.try_clone() {
        Ok(c) => BufReader::new(c.take(16 * 1024)),
        Err(_) => return,
    };
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut host = String::new();
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("host") {
                host = v.trim().to_string();
            }
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let token_ok = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .any(|(k, v)| k == "token" && same(v, &ctx.token));
    let host_ok = [
        format!("127.0.0.1:{}", ctx.port),
        format!("localhost:{}", ctx.port),
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(&host));
    if method != "GET" {
        respond(
            &mut conn,
            "405 Method Not Allowed",
            "text/plain",
            b"GET only\n",
        );
        return;
    }
    if !token_ok || !host_ok {
        respond(
            &mut conn,
            "403 Forbidden",
            "text/plain; charset=utf-8",
            b"forbidden: open the URL probe printed (it carries the access token)\n",
        );
        return;
    }
    match path {
        "/" | "/index.html" => {
            let html =
                page::live_html(&ctx.store.log_name, &format!("/events?token={}", ctx.token));
            respond(
                &mut conn,
                "200 OK",
                "text/html; charset=utf-8",
                html.as_bytes(),
            );
        }
        "/events" => events(conn, ctx),
        _ => respond(&mut conn, "404 Not Found", "text/plain", b"not found\n"),
    }
}

/// The event stream of one page.
fn events(mut conn: TcpStream, ctx: &Ctx) {
    let _ = conn.set_write_timeout(Some(Duration::from_secs(30)));
    let _ = conn.set_nodelay(true);
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
                X-Content-Type-Options: nosniff\r\nConnection: keep-alive\r\n\r\nretry: 1000\n\n";
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    ctx.clients.fetch_add(1, Ordering::SeqCst);
    let mut have = Cursor::default();
    let ticks = RedrawThrottler::new(ctx.store.fps, 0);
    let mut sent_final = false;
    let mut last_write = Instant::now();
    loop {
        if ctx.stop.load(Ordering::SeqCst) {
            break;
        }
        // Wait for new data (or a heartbeat's time).
        {
            let g = ctx.store.lock();
            if g.version == have.version {
                let _ = ctx
                    .store
                    .changed
                    .wait_timeout(g, Duration::from_millis(500));
            }
        }
        // Then for the next refresh tick, so that a burst of arrivals is
        // one event.
        let now = ctx.started.elapsed().as_nanos() as u64;
        let next = ticks.time_of(ticks.tick_of(now + 1));
        std::thread::sleep(Duration::from_nanos(next.saturating_sub(now)));
        let chunk = ctx.store.next_chunk(&mut have);
        let msg = match &chunk {
            Some(c) => format!(
                "data: {{\"h\":{},\"b\":\"{}\"}}\n\n",
                serde_json::to_string(&c.header).unwrap_or_else(|_| "null".into()),
                page::base64(&c.body)
            ),
            None if last_write.elapsed() > Duration::from_secs(15) => ": keep-alive\n\n".into(),
            None => continue,
        };
        if conn
            .write_all(msg.as_bytes())
            .and_then(|_| conn.flush())
            .is_err()
        {
            break;
        }
        last_write = Instant::now();
        if let Some(c) = chunk {
            if !c.header.state.live && !sent_final {
                sent_final = true;
                ctx.finals_sent.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    if !sent_final {
        // Count a page that left as done, so linger does not wait for it.
        ctx.finals_sent.fetch_add(1, Ordering::SeqCst);
    }
}

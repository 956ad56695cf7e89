// Drives Debian's headless Chromium (playwright-core, never a downloaded
// browser) for tests/view_browser.rs: opens a page, waits for the page's own
// state (window.__probeState) to satisfy a condition, runs the test's
// scripts in the page, takes a screenshot, and prints one JSON object:
// { state, results, errors, console }.
//
// Usage: node drive.mjs CONFIG.json
//   { "url": "...", "until": "JS expression over S (the state)",
//     "timeout_ms": 20000, "screenshot": "out.png", "width": 1400,
//     "height": 900, "scripts": ["JS expression", ...], "full_page": true }
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const exe = process.env.PROBE_TEST_CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath: exe,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--disable-dev-shm-usage'],
  // playwright-core makes a fresh profile directory per launch.
});
const out = { state: null, results: [], errors: [], console: [] };
try {
  const page = await browser.newPage({ viewport: { width: cfg.width || 1400, height: cfg.height || 900 } });
  page.on('pageerror', e => out.errors.push(String(e && e.stack || e)));
  page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') out.console.push(`${m.type()}: ${m.text()}`); });
  // Nothing but the page itself (and its own server) may be fetched.
  const allowed = new URL(cfg.url).origin;
  await page.route('**/*', route => {
    const u = route.request().url();
    if (u.startsWith('data:') || u.startsWith('blob:') || u.startsWith(allowed) || (cfg.url.startsWith('file:') && u.startsWith('file:'))) return route.continue();
    out.errors.push('blocked network request: ' + u);
    return route.abort();
  });
  await page.goto(cfg.url, { waitUntil: 'load', timeout: cfg.timeout_ms || 20000 });
  const until = cfg.until || 'S.ready';
  await page.waitForFunction(`(() => { const S = window.__probeState; return !!(S && (S.error || (${until}))); })()`,
    null, { timeout: cfg.timeout_ms || 20000, polling: 50 });
  // Let a scheduled render finish.
  await page.evaluate(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))));
  for (const s of cfg.scripts || []) {
    const r = await page.evaluate(`(async () => { ${s} })()`);
    await page.evaluate(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))));
    out.results.push(r === undefined ? null : r);
  }
  if (cfg.screenshot) await page.screenshot({ path: cfg.screenshot, fullPage: cfg.full_page !== false });
  out.state = await page.evaluate(() => JSON.parse(JSON.stringify(window.__probeState)));
} catch (e) {
  out.errors.push('driver: ' + String(e && e.stack || e));
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + '\n');

// lib.mjs: shared helpers of the browser end-to-end tests: paths of the built programs (from the
// environment ctest sets, see e2e.cmake), recording a trace with the pipeline sample, `weft stats`
// figures, starting `weft serve` on port 0 and launching Debian's /usr/bin/chromium through
// playwright-core (never a downloaded browser).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const build = process.env.WEFT_BUILD_DIR || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../build');
export const WEFT = process.env.WEFT_BIN || path.join(build, 'viewer/weft');
export const PIPELINE = process.env.WEFT_PIPELINE || path.join(build, 'samples/pipeline');
export const GENTRACE = process.env.WEFT_GENTRACE || path.join(build, 'tests/weft_gentrace');
export const RTTRACE = process.env.WEFT_RTTRACE || path.join(build, 'tests/weft_rttrace');
export const WORKER_POOL = process.env.WEFT_WORKER_POOL || path.join(build, 'samples/worker_pool');
export const ARTIFACTS = process.env.WEFT_E2E_ARTIFACTS || path.join(build, 'e2e-artifacts');
export const CHROMIUM = process.env.WEFT_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function tmpDir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `weft-e2e-${tag}-`));
}

// Records SECONDS of the pipeline sample into DIR/pipeline.weft and returns its path.
export function recordPipeline(dir, seconds = 1) {
  const out = path.join(dir, 'pipeline.weft');
  execFileSync(PIPELINE, ['-o', out, '-s', String(seconds)], { stdio: 'ignore' });
  return out;
}

// `weft stats` as {total, byType: {region_begin: N, ...}}.
export function weftStats(trace) {
  const text = execFileSync(WEFT, ['stats', trace], { encoding: 'utf8' });
  const byType = {};
  let inTypes = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('events by type:')) { inTypes = true; continue; }
    const m = line.match(/^\s+([a-z_]+)\s+(\d+)\s*$/);
    if (inTypes && m) byType[m[1]] = Number(m[2]);
    else if (inTypes) inTypes = false;
  }
  return { text, byType };
}

// Starts `weft serve TRACE... --addr 127.0.0.1:0`; resolves to {url, proc, stop()} once the
// server prints its address.
export function startServer(traces, extra = []) {
  const proc = spawn(WEFT, ['serve', ...traces, '--addr', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill(); reject(new Error(`weft serve printed no address in 60 s:\n${log}`)); }, 60000);
    const onData = chunk => {
      log += chunk;
      const m = log.match(/http:\/\/(127\.0\.0\.1|localhost|\[::1\]):(\d+)/);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: `http://127.0.0.1:${m[2]}/`, proc, log: () => log,
        stop: () => new Promise(r => { if (proc.exitCode !== null) r(); else { proc.once('exit', r); proc.kill('SIGTERM'); } }),
      });
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', code => { clearTimeout(timer); reject(new Error(`weft serve exited with ${code}:\n${log}`)); });
  });
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

// A page that fails the test on any uncaught error in the UI.
export async function newPage(browser, errors, viewport = { width: 1400, height: 820 }) {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', e => errors.push(e.message));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  return page;
}

export async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

// Waits until the timeline has data for the current view and has drawn it.
export async function timelineSettled(page) {
  await page.waitForFunction(() => {
    const t = window.weftTest;
    return t.dataVersion > 0 && !t.pending && t.frames > 0;
  }, null, { timeout: 30000 });
  await page.waitForTimeout(150); // let a debounced refetch start, if the view asks for one
  await page.waitForFunction(() => !window.weftTest.pending, null, { timeout: 30000 });
  await page.evaluate(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))));
}

// Fetches a JSON API path from the server (node side).
export async function getJson(base, p) {
  const r = await fetch(new URL(p, base));
  if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`);
  return r.json();
}

// Everything a test file needs: a fresh pipeline trace, its `weft stats`, a server on it, its
// trace id and a browser. close() stops them all.
export async function fixture(tag, seconds = 1) {
  const dir = tmpDir(tag);
  const trace = recordPipeline(dir, seconds);
  const stats = weftStats(trace);
  const server = await startServer([trace]);
  const list = await getJson(server.url, '/api/traces');
  const browser = await launch();
  return {
    dir, trace, stats, server, browser, id: list.traces[0].id, entry: list.traces[0], url: server.url,
    async close() {
      await browser.close();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Registers before/after hooks that set up a fixture for the calling test file; returns it (filled
// in once `before` has run). WEFT_E2E_LOG=1 prints the server's output at the end.
export function useFixture(tag) {
  const f = {};
  before(async () => { Object.assign(f, await fixture(tag)); });
  after(async () => {
    if (process.env.WEFT_E2E_LOG && f.server) console.log(f.server.log());
    await f.close?.();
  });
  return f;
}

// Runs fn(page) on a new page of the fixture's browser; fails on any error the page reported.
export async function withPage(f, fn, viewport) {
  const errors = [];
  const page = await newPage(f.browser, errors, viewport);
  try {
    await fn(page);
    assert.deepEqual(errors, [], 'no errors in the page');
  } finally {
    await page.close();
  }
}

#!/usr/bin/env node
// bench-redraw.mjs: measures the web UI on a big trace (not a test: it prints figures, asserts
// nothing). Makes a trace with weft_gentrace (default 10 M events on 8 threads), then reports
//  - command start -> first timeline drawn (weft serve started, page opened, first /window drawn),
//  - redraw time per frame while W/A/S/D and the wheel pan and zoom at 1920x1080 (target <= 16 ms),
//  - the frame interval during that input (what the user sees: unlike the draw time, it includes
//    Chromium rasterizing the canvas after the draw call returns, the larger cost in software),
//  - the JS heap after the interaction (CDP Runtime.getHeapUsage; target <= 300 MB),
// each beside a baseline from the same run: a 1000-event trace for the start-up, an empty
// requestAnimationFrame loop for the frame figures, the traces list page for the heap.
// With `rt` the trace also has runtime events (weft_gentrace's rt mode: state tracks, CPUs, waits,
// pauses), and the counts of runtime items drawn are printed too.
// Usage: node tests/e2e/bench-redraw.mjs [BUILD_DIR] [EVENTS] [THREADS] [rt]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const [buildArg, eventsArg = '10000000', threadsArg = '8', rtArg = ''] = process.argv.slice(2);
if (buildArg) process.env.WEFT_BUILD_DIR = path.resolve(buildArg);
const { WEFT, GENTRACE, startServer, launch, tmpDir, getJson } = await import('./lib.mjs');

const dir = tmpDir('bench');
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };
const ms = x => `${x.toFixed(2)} ms`;
const mb = x => `${(x / 1048576).toFixed(1)} MB`;
const line = (what, value, baseline) => console.log(`${what.padEnd(44)} ${value.padStart(12)}   baseline ${baseline}`);

function gen(name, events, threads) {
  const out = path.join(dir, name);
  const t0 = performance.now();
  execFileSync(GENTRACE, [out, String(events), String(threads), '5', ...(rtArg === 'rt' ? ['rt'] : [])], { stdio: 'ignore' });
  return { out, secs: (performance.now() - t0) / 1000, size: fs.statSync(out).size };
}

// A page on 127.0.0.1 that is not weft's: the tab shows it before the command starts.
const blank = http.createServer((q, r) => { r.setHeader('content-type', 'text/html'); r.end('<!doctype html><title>blank</title>'); });
await new Promise(r => blank.listen(0, '127.0.0.1', r));

// Starts weft serve on TRACE and opens its timeline; ms from the command's start to the first draw.
// The browser tab exists before the command starts, as a user's does; creating one costs ~0.6 s in
// headless Chromium here and is the harness's cost, not weft's. With `warm`, the tab has already
// shown a page from 127.0.0.1 (another port), so the renderer process for the site is running, as
// desktop Chrome's spare renderer would be: starting one costs Chromium ~2 CPU-seconds over the next
// ~2 s even for an empty page (measured here), which on a 2-CPU machine competes with the index.
async function firstDraw(browser, trace, warm) {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  if (warm) {
    await page.goto(`http://127.0.0.1:${blank.address().port}/`);
    await page.waitForTimeout(3000);
  }
  const t0 = performance.now();
  const server = await startServer([trace]);
  const ready = performance.now() - t0;
  // Open the page at once, as a user opening the printed URL would: the server listens before
  // its trace is indexed, and asking the API first would wait for the index (the first trace
  // of a server is t1).
  const opened = performance.now() - t0;
  await page.goto(`${server.url}#/t/t1/timeline`);
  await page.waitForFunction(() => window.weftTest.dataVersion > 0 && window.weftTest.frames > 0 && !window.weftTest.pending,
    null, { timeout: 600000, polling: 'raf' });
  return { server, page, ready, opened, drawn: performance.now() - t0, id: 't1' };
}

// Median and range of `runs` first draws of TRACE, each with its own server.
async function firstDraws(browser, trace, warm, runs) {
  const xs = [];
  for (let i = 0; i < runs; i++) {
    const r = await firstDraw(browser, trace, warm);
    xs.push(r.drawn);
    await r.page.close(); await r.server.stop();
  }
  return `${ms(q(xs, 0.5))} (${xs.map(x => x.toFixed(0)).join(', ')})`;
}

// Frame intervals (and callback cost) of an empty requestAnimationFrame loop over `secs`.
const emptyRaf = (page, secs) => page.evaluate(secs => new Promise(done => {
  const iv = [], cost = []; let last = 0; const end = performance.now() + secs * 1000;
  const f = now => {
    const t0 = performance.now();
    if (last) iv.push(now - last);
    last = now;
    cost.push(performance.now() - t0);
    if (now < end) requestAnimationFrame(f); else done({ iv, cost });
  };
  requestAnimationFrame(f);
}), secs);

const heap = async page => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const u = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return u.usedSize;
};

const events = Number(eventsArg), threads = Number(threadsArg);
console.log(`weft web UI redraw bench: ${WEFT}`);
const small = gen('small.weft', 1000, threads);
const big = gen('big.weft', events, threads);
console.log(`trace: ${events.toLocaleString('en-US')} events on ${threads} threads, ${mb(big.size)}, made in ${big.secs.toFixed(1)} s`);

const browser = await launch();
try {
  const s = await firstDraw(browser, small.out, false);
  const heapList = await (async () => { await s.page.goto(s.server.url); await s.page.waitForSelector('tbody tr'); return heap(s.page); })();
  await s.page.close(); await s.server.stop();
  const runs = Number(process.env.RUNS || 3);
  line('command start -> first timeline drawn, median', await firstDraws(browser, big.out, true, runs),
    `${await firstDraws(browser, small.out, true, runs)} (1000 events)`);
  console.log('  (runs in brackets, ms; the tab\'s renderer process for 127.0.0.1 already running)');
  line('  the same with a new renderer process', await firstDraws(browser, big.out, false, runs),
    `${await firstDraws(browser, small.out, false, runs)} (1000 events)`);

  const b = await firstDraw(browser, big.out, true);
  line('weft serve ready (address printed)', ms(b.ready), `${ms(s.ready)} (1000 events)`);
  line('page load -> first draw', ms(b.drawn - b.opened), `${ms(s.drawn - s.opened)} (1000 events, new renderer)`);
  const page = b.page;
  const base = await emptyRaf(page, 1.5);

  // Pan and zoom with keys and the wheel while recording every frame's draw time and interval.
  await page.evaluate(() => { window.weftTest.frameTimes.length = 0; window.benchStamps = []; const f = now => { window.benchStamps.push(now); if (!window.benchStop) requestAnimationFrame(f); }; requestAnimationFrame(f); });
  await page.mouse.move(1100, 500);
  const hold = async (key, t) => { await page.keyboard.down(key); await page.waitForTimeout(t); await page.keyboard.up(key); };
  await hold('w', 1500); await hold('d', 1200); await hold('s', 800); await hold('a', 1200);
  for (let k = 0; k < 30; k++) { await page.mouse.wheel(0, k < 15 ? -120 : 120); await page.waitForTimeout(30); }
  await hold('s', 2000); // back to (near) full zoom-out: the densest frames
  await hold('d', 1000);
  const r = await page.evaluate(() => { window.benchStop = true; const st = window.benchStamps; const t = window.weftTest; return { draw: [...t.frameTimes], iv: st.slice(1).map((x, i) => x - st[i]), fetches: t.fetches, slices: t.drawnSlices, blocks: t.drawnBlocks, rt: `${t.drawnStates} state spans + ${t.drawnStateBlocks} blocks, ${t.drawnCpuSpans} CPU spans + ${t.drawnCpuBlocks} blocks, ${t.drawnItems} waits/pauses + ${t.drawnItemBlocks} blocks` }; });
  console.log(`interaction: ${r.draw.length} frames drawn, ${r.fetches} /window fetches; last frame ${r.slices} slices + ${r.blocks} blocks${rtArg === 'rt' ? `; ${r.rt}` : ''}`);
  line('redraw per frame, median', ms(q(r.draw, 0.5)), `${ms(q(base.cost, 0.5))} (empty rAF callback)`);
  line('redraw per frame, 95th percentile', ms(q(r.draw, 0.95)), `${ms(q(base.cost, 0.95))} (empty rAF callback)`);
  line('redraw per frame, max', ms(Math.max(...r.draw)), `${ms(Math.max(...base.cost))} (empty rAF callback)`);
  line('frame interval during input, median', ms(q(r.iv, 0.5)), `${ms(q(base.iv, 0.5))} (empty rAF loop)`);
  line('frame interval during input, 95th percentile', ms(q(r.iv, 0.95)), `${ms(q(base.iv, 0.95))} (empty rAF loop)`);
  line('JS heap after the interaction', mb(await heap(page)), `${mb(heapList)} (traces list page)`);
  await page.close(); await b.server.stop();
} finally {
  await browser.close();
  blank.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

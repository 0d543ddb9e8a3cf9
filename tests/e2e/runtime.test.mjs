// runtime.test.mjs: the runtime views on traces with runtime events. The scenario of
// tests/support/rttrace.h (weft_rttrace): its state tracks draw its 15 state spans, its CPUs their 8
// spans, its lock waits with the holder's flow; clicking the mutex wait shows its holder and call
// site and selects the holder's release; clicking a state span shows it; the Blocking page's
// tables are `weft stats`'s numbers. A generated trace (weft_gentrace ... rt): zoomed out, every
// state and CPU span of `weft json` is drawn, merged or not, and the Blocking page matches stats.
// A real recording (the worker_pool sample, 1 s): its Blocking page is `weft stats`, and its worst
// lock wait shows the compacting worker as its holder, with its call site.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  WEFT, RTTRACE, GENTRACE, WORKER_POOL, tmpDir, startServer, launch, getJson, withPage, shot, timelineSettled,
} from './lib.mjs';
import { fmtDur } from '../../web/util.js';

const f = {};
before(async () => {
  f.dir = tmpDir('runtime');
  f.scenario = path.join(f.dir, 'scenario.weft');
  f.generated = path.join(f.dir, 'generated.weft');
  execFileSync(RTTRACE, [f.scenario]);
  execFileSync(GENTRACE, [f.generated, '200000', '4', '1', 'rt'], { stdio: 'ignore' });
  f.recorded = path.join(f.dir, 'pool.weft');
  execFileSync(WORKER_POOL, ['-o', f.recorded, '-s', '1'], { stdio: 'ignore' });
  f.server = await startServer([f.scenario, f.generated, f.recorded]);
  f.url = f.server.url;
  f.browser = await launch();
});
after(async () => {
  await f.browser?.close();
  await f.server?.stop();
  if (f.dir) fs.rmSync(f.dir, { recursive: true, force: true });
});

const hook = page => page.evaluate(() => {
  const { locateSlice, locateWait, locateState, openPerfetto, perfettoMessages, lastPerfettoMessage, frameTimes, ...rest } = window.weftTest;
  return rest;
});

// `weft stats` blocking sections as {locks: [[count, total, max, holder, site]], io, latency, pauses, mmu}.
function blockingStats(trace) {
  const text = execFileSync(WEFT, ['stats', trace], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const out = { locks: [], io: [], latency: [], pauses: [], mmu: null };
  let sec = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('lock waits by call site')) sec = 'locks';
    else if (line.startsWith('I/O waits by call site')) sec = 'io';
    else if (line.startsWith('scheduler latency')) sec = 'latency';
    else if (line.startsWith('pauses')) sec = 'pauses';
    else if (!line.startsWith('  ')) sec = null;
    else if (/^\s+(COUNT|TID|KIND)\b/.test(line)) continue;
    else if (sec === 'pauses' && line.includes('minimum mutator utilization')) out.mmu = [...line.matchAll(/([\d.]+) %/g)].map(m => m[1]);
    else if (sec === 'locks') { const m = line.match(/^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s{2}(.{24}) (.*)$/); if (m) out.locks.push(m.slice(1)); }
    else if (sec === 'io') { const m = line.match(/^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s{2}(\S+)\s+(.*)$/); if (m) out.io.push(m.slice(1)); }
    else if (sec === 'latency') { const m = line.match(/^\s+(\d+)\s{2}(.{20})\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$/); if (m) out.latency.push(m.slice(1)); }
    else if (sec === 'pauses') { const m = line.match(/^\s+(\S+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$/); if (m) out.pauses.push(m.slice(1)); }
  }
  return out;
}

// The rows of a Blocking table: per cell its text and, for durations and bytes, data-ns.
const tableRows = (page, cls) => page.$$eval(`section.${cls} tbody tr`, trs => trs.map(tr =>
  [...tr.children].map(td => ({ text: td.textContent, ns: td.dataset.ns === undefined ? null : Number(td.dataset.ns) }))));

// A duration printed by `weft stats` (ms, 3 decimals) is the page's ns, to the printed digit.
const sameMs = (ns, ms) => Math.abs(ns / 1e6 - Number(ms)) < 0.0005 + 1e-9;

async function idOf(name) {
  const list = await getJson(f.url, '/api/traces');
  return list.traces.find(t => t.name === name).id;
}

test('the scenario: state, CPU, wait and pause rows draw what it holds', async () => {
  const id = await idOf('scenario.weft');
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${id}/timeline`);
    await timelineSettled(page);
    const t = await hook(page);
    // rttrace.h: main 7 state spans, worker 8; CPU 0 4 spans, CPU 1 3, CPU 2 1
    assert.equal(t.drawnStates, 15, JSON.stringify(t));
    assert.equal(t.drawnStateBlocks, 0);
    assert.equal(t.drawnCpuSpans, 8);
    // items: the mutex wait, the odd-op wait, the read, the GC, the slow malloc
    assert.equal(t.drawnItems, 5);
    assert.equal(t.drawnLockWaits, 2);
    assert.equal(t.drawnLockFlows, 1, 'main released the mutex the worker waited for');
    assert.equal(await page.locator('.tl-legend .key').count(), 8);
    await shot(page, 'runtime-timeline');
  }, { width: 1400, height: 700 });
});

test('clicking the mutex wait shows its holder and call site, and selects the release', async () => {
  const id = await idOf('scenario.weft');
  const stats = blockingStats(f.scenario);
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${id}/timeline`);
    await timelineSettled(page);
    const loc = await page.evaluate(() => window.weftTest.locateWait('lock'));
    assert.ok(loc && loc.name === 'pthread_mutex_lock', JSON.stringify(loc));
    await page.mouse.click(loc.x, loc.y);
    await page.waitForSelector('.panel[data-kind=slice] .wait-site');
    assert.equal(await page.textContent('.panel[data-kind=slice] .wait-site'), stats.locks[0][4]);
    assert.match(await page.textContent('.panel[data-kind=slice] .wait-holder'), /^main \(tid 101\)/);
    assert.equal(await page.textContent('.panel[data-kind=slice] .slice-dur'), fmtDur(250000));
    assert.equal(await page.textContent('.panel[data-kind=slice] .wait-lock'), '0x1000');
    await page.waitForFunction(i => location.hash.includes(`wait=${i}`), loc.i);
    await shot(page, 'runtime-lock-wait');
    await page.click('.panel[data-kind=slice] .wait-holder a');
    await page.waitForFunction(() => window.weftTest.release?.t === 280000);
    const t = await hook(page);
    assert.equal(t.release.thread, 1, 'the release is on main');
    assert.ok(t.view.start < 280000 && t.view.end > 280000, JSON.stringify(t.view));
  });
});

test('clicking a state span shows its state, reason, duration and CPU', async () => {
  const id = await idOf('scenario.weft');
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${id}/timeline`);
    await timelineSettled(page);
    const loc = await page.evaluate(() => window.weftTest.locateState('io'));
    assert.ok(loc, 'main blocked in its read is drawn');
    await page.mouse.click(loc.x, loc.y);
    await page.waitForSelector('.panel[data-kind=slice] .state-reason');
    assert.equal(await page.textContent('.panel[data-kind=slice] .state-name'), 'blocked');
    assert.equal(await page.textContent('.panel[data-kind=slice] .state-reason'), 'io');
    assert.equal(await page.textContent('.panel[data-kind=slice] .slice-dur'), fmtDur(200000));
    assert.equal(await page.textContent('.panel[data-kind=slice] .state-cpu'), '1');
  });
});

// Every row of the page's tables against `weft stats`.
async function checkBlockingPage(page, trace) {
  const stats = blockingStats(trace);
  const locks = await tableRows(page, 'blocking-locks');
  assert.equal(locks.length, stats.locks.length);
  locks.forEach((r, k) => {
    const [count, total, max, holder, site] = stats.locks[k];
    assert.equal(r[0].text, site);
    assert.equal(r[1].text, Number(count).toLocaleString('en-US'));
    assert.ok(sameMs(r[2].ns, total) && sameMs(r[3].ns, max), `${JSON.stringify(r)} ${stats.locks[k]}`);
    assert.equal(r[2].text, fmtDur(r[2].ns));
    assert.ok(r[4].text.startsWith(holder.trim()), `${r[4].text} / ${holder}`);
  });
  const io = await tableRows(page, 'blocking-io');
  assert.equal(io.length, stats.io.length);
  io.forEach((r, k) => {
    const [count, total, max, bytes, op, site] = stats.io[k];
    assert.deepEqual([r[0].text, r[1].text, r[2].text], [site, op, Number(count).toLocaleString('en-US')]);
    assert.ok(sameMs(r[3].ns, total) && sameMs(r[4].ns, max) && r[5].ns === Number(bytes), JSON.stringify(r));
  });
  const lat = await tableRows(page, 'blocking-latency');
  assert.equal(lat.length, stats.latency.length);
  lat.forEach((r, k) => {
    const [tid, name, count, ...ms] = stats.latency[k];
    assert.equal(r[0].text, `${name.trim()} (tid ${tid})`);
    assert.equal(r[1].text, Number(count).toLocaleString('en-US'));
    ms.forEach((v, j) => assert.ok(sameMs(r[2 + j].ns, v), `${JSON.stringify(r)} ${stats.latency[k]}`));
  });
  const pauses = await tableRows(page, 'blocking-pauses');
  assert.equal(pauses.length, stats.pauses.length);
  pauses.forEach((r, k) => {
    const [kind, count, ...ms] = stats.pauses[k];
    assert.deepEqual([r[0].text, r[1].text], [kind, Number(count).toLocaleString('en-US')]);
    ms.forEach((v, j) => assert.ok(sameMs(r[3 + j].ns, v), `${JSON.stringify(r)} ${stats.pauses[k]}`));
  });
  if (stats.mmu) {
    const shown = await page.$$eval('.mmu-stats b', bs => bs.map(b => b.textContent));
    assert.deepEqual(shown, stats.mmu.map(v => `${v} %`));
    assert.ok(await page.evaluate(() => document.querySelector('.blocking-mmu .histo-box').points.length >= 2));
  }
}

test('the Blocking page of the scenario is weft stats', async () => {
  const id = await idOf('scenario.weft');
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${id}/timeline`);
    await page.waitForSelector('#nav a[data-view=blocking]');
    await page.click('#nav a[data-view=blocking]');
    await page.waitForSelector('section.blocking-locks');
    await checkBlockingPage(page, f.scenario);
    await shot(page, 'runtime-blocking');
    await page.click('section.blocking-locks a.worst');
    await page.waitForFunction(() => window.weftTest.selectedWait === 0 && window.weftTest.dataVersion > 0);
    await page.waitForSelector('.panel[data-kind=slice] .wait-site');
  }, { width: 1200, height: 1100 });
});

test('a generated trace: zoomed out, every state and CPU span is drawn; Blocking is weft stats', async () => {
  const id = await idOf('generated.weft');
  // the spans `weft json` writes
  const chrome = JSON.parse(execFileSync(WEFT, ['json', f.generated], { encoding: 'utf8', maxBuffer: 1 << 30 }));
  const states = chrome.traceEvents.filter(e => e.cat === 'state').length;
  const cpus = chrome.traceEvents.filter(e => e.cat === 'cpu').length;
  assert.ok(states > 10000, `${states} state spans`);
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${id}/timeline`);
    await timelineSettled(page);
    // make room for every row (the CPUs are last)
    const t = await hook(page);
    assert.ok(t.drawnStateBlocks > 0, 'zoomed out, state spans merge');
    assert.equal(t.drawnStates + t.drawnStateBlockSpans, states, JSON.stringify(t));
    assert.equal(t.drawnCpuSpans + t.drawnCpuBlockSpans, cpus, JSON.stringify(t));
    await shot(page, 'runtime-generated');
    await page.goto(`${f.url}#/t/${id}/blocking`);
    await page.waitForSelector('section.blocking-pauses');
    await checkBlockingPage(page, f.generated);
    await shot(page, 'runtime-generated-blocking');
  }, { width: 1600, height: 1400 });
});

test('a real recording: the Blocking page is weft stats; the worst lock wait names its holder', async () => {
  const id = await idOf('pool.weft');
  const sum = await getJson(f.url, `/api/traces/${id}/summary`);
  const b = await getJson(f.url, `/api/traces/${id}/blocking`);
  const worst = b.locks[0]?.worst;
  assert.ok(worst, 'worker_pool waits for the bucket mutex the compaction holds');
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${id}/blocking`);
    await page.waitForSelector('section.blocking-locks');
    await checkBlockingPage(page, f.recorded);
    await page.click('section.blocking-locks a.worst');
    await page.waitForSelector('.panel[data-kind=slice] .wait-site');
    await timelineSettled(page);
    assert.equal(await page.textContent('.panel[data-kind=slice] .wait-site'), b.locks[0].site);
    assert.match(await page.textContent('.panel[data-kind=slice] .wait-holder'), /^worker-\d+ \(tid \d+\)/);
    const t = await hook(page);
    assert.equal(t.selectedWait, worst.i);
    assert.ok(t.drawnLockWaits >= 1, JSON.stringify(t));
    if (sum.sched_source === 'perf') {
      assert.ok(t.drawnStates + t.drawnStateBlocks > 0 && t.drawnCpuSpans + t.drawnCpuBlocks > 0, JSON.stringify(t));
    } else {
      console.log(`# ${sum.sched_source_text}: no context switches here, so no state or CPU tracks to check`);
    }
    await shot(page, 'runtime-recorded');
  }, { width: 1600, height: 1100 });
});

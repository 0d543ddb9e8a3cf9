#!/usr/bin/env node
// readme-shots.mjs: regenerates docs/img/timeline.png and docs/img/tasks.png from a real run of
// the pipeline sample (2 s), served by `weft serve`; with --runtime TRACE also
// docs/img/timeline-states.png (the timeline around TRACE's longest lock wait, selected, with the
// threads' state tracks) and docs/img/blocking.png, from a recording with runtime events.
// Usage: node tests/e2e/readme-shots.mjs [BUILD_DIR] [--runtime TRACE]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const rtAt = args.indexOf('--runtime');
const runtimeTrace = rtAt >= 0 ? path.resolve(args.splice(rtAt, 2)[1]) : null;
if (args[0]) process.env.WEFT_BUILD_DIR = path.resolve(args[0]);
const { tmpDir, recordPipeline, startServer, launch, getJson, timelineSettled } = await import('./lib.mjs');
const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/img');
fs.mkdirSync(out, { recursive: true });
const dir = tmpDir('readme');
const server = await startServer([recordPipeline(dir, 2)]);
const browser = await launch();
try {
  const { traces: [t] } = await getJson(server.url, '/api/traces');
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  const mid = Math.round(t.duration_ns / 2);
  await page.goto(`${server.url}#/t/${t.id}/timeline?start=${mid}&end=${mid + 60000000}`);
  await timelineSettled(page);
  const loc = await page.evaluate(() => window.weftTest.locateSlice('process'));
  if (loc) await page.mouse.click(loc.x, loc.y);
  await page.waitForSelector('.panel[data-kind=slice] .slice-name');
  await page.mouse.move(5, 700);
  await timelineSettled(page);
  await page.screenshot({ path: path.join(out, 'timeline.png') });
  await page.goto(`${server.url}#/t/${t.id}/tasks`);
  await page.waitForSelector('.type-card canvas');
  await page.screenshot({ path: path.join(out, 'tasks.png'), clip: { x: 0, y: 0, width: 1280, height: 400 } });
  console.log(`wrote ${out}/timeline.png and tasks.png`);
  if (runtimeTrace) await runtimeShots(browser);
} finally {
  await browser.close();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

async function runtimeShots(browser) {
  const rt = await startServer([runtimeTrace]);
  try {
    const { traces: [t] } = await getJson(rt.url, '/api/traces');
    const b = await getJson(rt.url, `/api/traces/${t.id}/blocking`);
    const worst = b.locks[0]?.worst;
    if (!worst) throw new Error(`${runtimeTrace} has no lock wait`);
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    const m = worst.d * 0.3;
    await page.goto(`${rt.url}#/t/${t.id}/timeline?start=${Math.round(worst.s - m)}&end=${Math.round(worst.s + worst.d * 2 + m)}&wait=${worst.i}`);
    await timelineSettled(page);
    await page.waitForSelector('.panel[data-kind=slice] .wait-site');
    await page.mouse.move(5, 850);
    await page.screenshot({ path: path.join(out, 'timeline-states.png') });
    await page.goto(`${rt.url}#/t/${t.id}/blocking`);
    await page.waitForSelector('section.blocking-locks');
    await page.screenshot({ path: path.join(out, 'blocking.png'), clip: { x: 0, y: 0, width: 1400, height: 640 } });
    console.log(`wrote ${out}/timeline-states.png and blocking.png from ${runtimeTrace}`);
  } finally {
    await rt.stop();
  }
}

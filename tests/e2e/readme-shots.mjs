#!/usr/bin/env node
// readme-shots.mjs: regenerates docs/img/timeline.png and docs/img/tasks.png from a real run of
// the pipeline sample (2 s), served by `weft serve`. Usage: node tests/e2e/readme-shots.mjs [BUILD_DIR]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.argv[2]) process.env.WEFT_BUILD_DIR = path.resolve(process.argv[2]);
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
} finally {
  await browser.close();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

// timeline.test.mjs: the Timeline view on a pipeline trace: at full zoom-out every slice is drawn
// (slices + the counts of merged blocks = the trace's region count from `weft stats`); clicking a
// slice shows its name and duration; the URL restores the view and selection; W/S/A/D and the
// wheel change the view and fetch new data; a shift-drag range gives the aggregate table; search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useFixture, withPage, shot, timelineSettled, getJson } from './lib.mjs';
import { fmtDur } from '../../web/util.js';

const f = useFixture('timeline');

const hook = page => page.evaluate(() => {
  const { locateSlice, openPerfetto, perfettoMessages, lastPerfettoMessage, ...rest } = window.weftTest;
  return rest;
});

test('full zoom-out draws every slice, merged or not', async () => {
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${f.id}/timeline`);
    await timelineSettled(page);
    const t = await hook(page);
    const sum = await getJson(f.url, `/api/traces/${f.id}/summary`);
    assert.equal(t.view.start, sum.start_ns);
    assert.equal(t.view.end, sum.end_ns);
    assert.ok(t.drawnSlices > 0 && t.drawnBlocks > 0, JSON.stringify(t));
    assert.equal(t.drawnSlices + t.drawnBlockSlices, f.stats.byType.region_begin);
    await shot(page, 'timeline-full');
  }, { width: 1600, height: 900 });
});

test('clicking a slice shows its details; the URL restores view and selection', async () => {
  await withPage(f, async page => {
    // A window around the median-length 'process' slice, three times as wide: the middle 30 ms of
    // the trace held none once, on a loaded machine where the pipeline's workers stalled.
    const found = await getJson(f.url, `/api/traces/${f.id}/search?q=process&limit=10000`);
    const slices = found.slices.filter(x => x.name === 'process').sort((a, b) => a.d - b.d);
    assert.ok(slices.length > 0, 'the trace has process slices');
    const pick = slices[slices.length >> 1];
    const start = Math.max(0, pick.s - pick.d), end = pick.s + 2 * pick.d;
    await page.goto(`${f.url}#/t/${f.id}/timeline?start=${start}&end=${end}`);
    await timelineSettled(page);
    const loc = await page.evaluate(() => window.weftTest.locateSlice('process'));
    assert.ok(loc, 'a process slice is drawn');
    await page.mouse.click(loc.x, loc.y);
    await page.waitForSelector('.panel[data-kind=slice] .slice-name');
    assert.equal(await page.textContent('.panel[data-kind=slice] .slice-name'), 'process');
    assert.equal(await page.textContent('.panel[data-kind=slice] .slice-dur'), fmtDur(loc.d));
    const api = await getJson(f.url, `/api/traces/${f.id}/slice?i=${loc.i}`);
    assert.equal(api.d, loc.d);
    await shot(page, 'timeline-details');
    await page.waitForFunction(i => location.hash.includes(`sel=${i}`), loc.i);
    const before = (await hook(page)).view;
    await page.reload();
    await timelineSettled(page);
    await page.waitForSelector('.panel[data-kind=slice] .slice-name');
    assert.equal(await page.textContent('.panel[data-kind=slice] .slice-name'), 'process');
    const after = (await hook(page)).view;
    assert.ok(Math.abs(after.start - before.start) <= 1 && Math.abs(after.end - before.end) <= 1, `${JSON.stringify(before)} ${JSON.stringify(after)}`);
  });
});

test('keys and wheel zoom and pan, and fetch the new window', async () => {
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${f.id}/timeline`);
    await timelineSettled(page);
    const v0 = (await hook(page)).view, fetches0 = (await hook(page)).fetches;
    await page.mouse.move(800, 400);
    // Keys act per animation frame, so a loaded machine moves less per millisecond: hold each key
    // until its effect shows (or 10 s pass), and check the effect, not a frame rate.
    const holdUntil = async (key, pred, arg) => {
      await page.keyboard.down(key);
      await page.waitForFunction(pred, arg, { timeout: 10000, polling: 50 }).catch(() => {});
      await page.keyboard.up(key);
    };
    const span0 = v0.end - v0.start;
    await holdUntil('w', s => { const v = window.weftTest.view; return v.end - v.start < s * 0.8; }, span0);
    const v1 = (await hook(page)).view;
    assert.ok(v1.end - v1.start < (v0.end - v0.start) * 0.8, 'W zooms in');
    await holdUntil('d', st => window.weftTest.view.start > st, v1.start);
    const v2 = (await hook(page)).view;
    assert.ok(v2.start > v1.start, 'D pans right');
    assert.ok(Math.abs((v2.end - v2.start) - (v1.end - v1.start)) < 1e-3 * (v1.end - v1.start), 'panning keeps the span');
    await page.mouse.wheel(0, -400);
    await page.waitForFunction(w => { const v = window.weftTest.view; return v.end - v.start < w; },
      v2.end - v2.start, { timeout: 10000, polling: 50 }).catch(() => {});
    const v3 = (await hook(page)).view;
    assert.ok(v3.end - v3.start < v2.end - v2.start, 'the wheel zooms in');
    await timelineSettled(page);
    assert.ok((await hook(page)).fetches > fetches0, 'zooming fetched a new window');
    await holdUntil('s', w => { const v = window.weftTest.view; return v.end - v.start > w; }, v3.end - v3.start);
    assert.ok((await hook(page)).view.end - (await hook(page)).view.start > v3.end - v3.start, 'S zooms out');
  });
});

test('a shift-drag range opens the aggregate table; search lists and marks matches', async () => {
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${f.id}/timeline`);
    await timelineSettled(page);
    await page.keyboard.down('Shift');
    await page.mouse.move(400, 400); await page.mouse.down();
    await page.mouse.move(900, 420, { steps: 5 }); await page.mouse.up();
    await page.keyboard.up('Shift');
    await page.waitForSelector('.panel[data-kind=range] table');
    const names = await page.$$eval('.panel[data-kind=range] tbody tr td:first-child', tds => tds.map(td => td.textContent));
    assert.ok(names.includes('sort') && names.includes('process'), names.join(','));
    await page.fill('.tl-search', 'checksum');
    await page.press('.tl-search', 'Enter');
    await page.waitForSelector('.panel[data-kind=search] .results li');
    const res = await getJson(f.url, `/api/traces/${f.id}/search?q=checksum`);
    assert.match(await page.textContent('.panel[data-kind=search]'), new RegExp(`${res.total_slices.toLocaleString('en-US')} slices`));
    await page.waitForFunction(() => location.hash.includes('q=checksum'));
    await shot(page, 'timeline-range-search');
  });
});

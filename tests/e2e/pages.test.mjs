// pages.test.mjs: the Tasks page (histogram counts match the API and `weft stats`; a bucket lists
// its tasks; a task opens the timeline focused on it), the Regions page and the Logs page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useFixture, withPage, shot, timelineSettled, getJson } from './lib.mjs';
import { fmtDur } from '../../web/util.js';

const f = useFixture('pages');

test('task histograms match the API and weft stats; a bucket opens its tasks', async () => {
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${f.id}/tasks`);
    await page.waitForSelector('.type-card canvas');
    const api = await getJson(f.url, `/api/traces/${f.id}/tasks`);
    const cards = await page.$$eval('.type-card', els => els.map(el => ({
      type: el.dataset.type, text: el.textContent, buckets: el.querySelector('.histo-box').bucketRects,
    })));
    assert.equal(cards.length, api.types.length);
    let drawn = 0;
    for (const ty of api.types) {
      const card = cards.find(c => c.type === ty.type);
      assert.ok(card, ty.type);
      assert.match(card.text, new RegExp(`count${ty.count.toLocaleString('en-US')}`));
      const sum = card.buckets.reduce((a, b) => a + b.count, 0);
      assert.equal(sum, ty.histogram.reduce((a, b) => a + b.count, 0));
      drawn += sum + (ty.unfinished || 0);
    }
    assert.equal(drawn, f.stats.byType.task_begin, 'every task of the trace is in a histogram');
    await shot(page, 'tasks');

    // The fullest bucket of the first type: its list has as many tasks as the bar says.
    const ty = api.types[0];
    const card = cards.find(c => c.type === ty.type);
    const b = card.buckets.reduce((m, x) => (x.count > m.count ? x : m));
    const box = await page.locator(`.type-card[data-type="${ty.type}"] canvas`).boundingBox();
    await page.mouse.click(box.x + b.x, box.y + box.height - 40);
    await page.waitForSelector('.latency-list table');
    assert.match(decodeURIComponent(page.url()), new RegExp(`type=${ty.type}&latmin=${b.lo_ns}&latmax=${b.hi_ns}`));
    assert.match(await page.textContent('.latency-list h2'), new RegExp(`${b.count.toLocaleString('en-US')} tasks`));

    // The slowest task of the bucket opens the timeline focused on it.
    const first = await page.$eval('.latency-list tbody tr a', a => a.textContent);
    await page.click('.latency-list tbody tr a');
    await page.waitForFunction(() => window.weftTest.route.endsWith('/timeline'));
    await timelineSettled(page);
    const task = Number(first.slice(1));
    assert.match(page.url(), new RegExp(`task=${task}`));
    const list = await getJson(f.url, `/api/traces/${f.id}/tasks?type=${encodeURIComponent(ty.type)}&latmin=${b.lo_ns}&latmax=${b.hi_ns}`);
    const k = list.tasks.find(x => x.task === task);
    const view = await page.evaluate(() => window.weftTest.view);
    assert.ok(view.start <= k.s && view.end >= k.e && view.end - view.start < (k.e - k.s) * 1.5 + 3000, JSON.stringify({ view, k }));
    const threads = await page.evaluate(() => document.querySelector('.tl-focus').textContent);
    assert.match(threads, new RegExp(`Task #${task}`));
    await shot(page, 'timeline-task-focus');
  });
});

test('regions page lists region types; a region opens the timeline at it', async () => {
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${f.id}/regions`);
    await page.waitForSelector('.type-card canvas');
    const api = await getJson(f.url, `/api/traces/${f.id}/regions`);
    assert.equal(await page.locator('.type-card').count(), api.types.length);
    const total = api.types.reduce((a, t) => a + t.count, 0);
    assert.equal(total, f.stats.byType.region_begin);
    // A region type's slowest slice opens the timeline with that slice selected.
    const ty = api.types.find(t => t.type === 'sort') || api.types[0];
    await page.goto(`${f.url}#/t/${f.id}/regions?type=${encodeURIComponent(ty.type)}`);
    await page.waitForSelector('.latency-list tbody tr a');
    assert.match(await page.textContent('.latency-list h2'), new RegExp(`${ty.count.toLocaleString('en-US')} regions`));
    await page.click('.latency-list tbody tr a');
    await page.waitForSelector('.panel[data-kind=slice] .slice-name');
    assert.equal(await page.textContent('.panel[data-kind=slice] .slice-name'), ty.type);
    assert.equal(await page.textContent('.panel[data-kind=slice] .slice-dur'), fmtDur(ty.max_ns));
  });
});

test('logs page filters by category and text', async () => {
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${f.id}/logs`);
    await page.waitForSelector('.pager');
    const all = await getJson(f.url, `/api/traces/${f.id}/logs`);
    assert.match(await page.textContent('.pager'), new RegExp(`${all.total.toLocaleString('en-US')} logs`));
    assert.equal(await page.locator('tbody tr').count(), Math.min(200, all.total));
    const sum = await getJson(f.url, `/api/traces/${f.id}/summary`);
    const cat = sum.log_categories[0].category;
    await page.selectOption('select', cat);
    await page.waitForFunction(c => location.hash.includes(`category=${c}`), cat);
    await page.waitForSelector('tbody tr');
    const cats = await page.$$eval('tbody tr td:nth-child(4)', tds => [...new Set(tds.map(td => td.textContent))]);
    assert.deepEqual(cats, [cat]);
  });
});

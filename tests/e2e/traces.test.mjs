// traces.test.mjs: the list of traces (#/): the recorded trace is listed with its facts, opening it
// shows the timeline, a .weft file chosen in the page is uploaded and added to the list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { useFixture, withPage, shot, recordPipeline } from './lib.mjs';

const f = useFixture('traces');

test('the list shows the trace and opens it', async () => {
  await withPage(f, async page => {
    await page.goto(f.url);
    const row = page.locator(`tr[data-id="${f.id}"]`);
    await row.waitFor();
    const text = await row.textContent();
    assert.match(text, /pipeline/);
    assert.match(text, new RegExp(f.entry.events.toLocaleString('en-US')));
    assert.match(text, /ok/);
    await shot(page, 'traces-list');
    await row.locator('a').first().click();
    await page.waitForFunction(() => window.weftTest.route.endsWith('/timeline') && window.weftTest.frames > 0);
    assert.match(page.url(), new RegExp(`#/t/${f.id}/timeline`));
  });
});

test('a chosen .weft file is uploaded and listed', async () => {
  await withPage(f, async page => {
    await page.goto(f.url);
    await page.locator(`tr[data-id="${f.id}"]`).waitFor();
    const upDir = path.join(f.dir, 'upload');
    fs.mkdirSync(upDir);
    const second = recordPipeline(upDir, 1);
    await page.setInputFiles('input[type=file]', second);
    await page.locator('tr.fresh').waitFor({ timeout: 30000 });
    assert.equal(await page.locator('tbody tr').count(), 2);
    assert.match(await page.textContent('.upload-status'), /Added/);
  });
});

test('a file over the upload limit is refused before sending', async () => {
  await withPage(f, async page => {
    await page.goto(f.url);
    await page.locator('tbody tr').first().waitFor();
    // A sparse 257 MiB blob, dropped on the page.
    await page.evaluate(() => {
      const file = new File([new Blob([new Uint8Array(257 * 1024 * 1024)])], 'huge.weft');
      const dt = new DataTransfer();
      dt.items.add(file);
      window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, cancelable: true }));
    });
    await page.waitForFunction(() => /upload limit/.test(document.querySelector('.upload-status').textContent));
    assert.match(await page.textContent('.upload-status'), /huge\.weft is 257\.0 MiB/);
  });
});

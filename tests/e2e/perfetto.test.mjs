// perfetto.test.mjs: "Open in Perfetto" without the internet: the opened window is a stub that
// answers PING with PONG (origin https://ui.perfetto.dev); the test checks the posted messages:
// PING first, then {perfetto: {buffer, title, url}} with the exact bytes of /trace.json, then
// {perfetto: {timeStart, timeEnd}} in seconds matching the timeline's view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useFixture, withPage, timelineSettled } from './lib.mjs';

const f = useFixture('perfetto');

test('Open in Perfetto posts PING, the trace JSON, then the view range', async () => {
  await withPage(f, async page => {
    await page.goto(`${f.url}#/t/${f.id}/timeline?start=100000000&end=150000000`);
    await timelineSettled(page);
    await page.evaluate(() => {
      window.stubPosts = [];
      window.weftTest.openPerfetto = () => ({
        closed: false,
        postMessage(msg, origin) {
          window.stubPosts.push({ msg, origin });
          if (msg === 'PING' && window.stubPosts.length === 3) { // answer the third PING
            setTimeout(() => window.dispatchEvent(new MessageEvent('message', { data: 'PONG', origin: 'https://ui.perfetto.dev' })), 5);
          }
        },
      });
    });
    await page.click('#open-perfetto');
    await page.waitForFunction(() => window.stubPosts.some(p => p.msg?.perfetto?.timeEnd !== undefined), null, { timeout: 30000 });
    const r = await page.evaluate(async id => {
      const posts = window.stubPosts;
      const json = new Uint8Array(await (await fetch(`/api/traces/${id}/trace.json`)).arrayBuffer());
      const load = posts.find(p => p.msg?.perfetto?.buffer);
      const buf = new Uint8Array(load.msg.perfetto.buffer);
      let same = buf.length === json.length;
      for (let i = 0; same && i < buf.length; i++) same = buf[i] === json[i];
      return {
        kinds: posts.map(p => (typeof p.msg === 'string' ? p.msg : Object.keys(p.msg.perfetto).sort().join(','))),
        origins: [...new Set(posts.map(p => p.origin))],
        same, bytes: buf.length, title: load.msg.perfetto.title, url: load.msg.perfetto.url, href: location.href,
        range: posts.at(-1).msg.perfetto, view: window.weftTest.view, last: window.weftTest.lastPerfettoMessage,
      };
    }, f.id);
    assert.deepEqual(r.kinds, ['PING', 'PING', 'PING', 'buffer,title,url', 'timeEnd,timeStart']);
    assert.deepEqual(r.origins, ['https://ui.perfetto.dev']);
    assert.ok(r.same && r.bytes > 1000, 'the buffer holds the bytes of /trace.json');
    assert.match(r.title, /pipeline/);
    assert.equal(r.url, r.href);
    assert.equal(r.range.timeStart, r.view.start / 1e9);
    assert.equal(r.range.timeEnd, r.view.end / 1e9);
    assert.ok(Math.abs(r.range.timeStart - 0.1) < 1e-9 && Math.abs(r.range.timeEnd - 0.15) < 1e-9);
    assert.deepEqual(r.last, { perfetto: r.range });
  });
});

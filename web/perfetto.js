// perfetto.js: "Open in Perfetto". Opens ui.perfetto.dev on the user's click, posts 'PING' until
// the page answers 'PONG', then posts the trace's Chrome JSON as an ArrayBuffer and zooms Perfetto
// to the range shown here ({perfetto: {timeStart, timeEnd}}, in seconds since the recording
// started: weft's JSON puts the recording's start at ts 0). Tests replace the opened window by
// setting window.weftTest.openPerfetto to a function returning an object with postMessage.
import { toast } from './app.js';

export const PERFETTO_ORIGIN = 'https://ui.perfetto.dev';
const PING_MS = 50, PONG_TIMEOUT_MS = 30000, BIG_TRACE = 32 << 20, RESEND_ZOOM_MS = 8000;

function post(win, msg) {
  win.postMessage(msg, PERFETTO_ORIGIN);
  const t = window.weftTest;
  t.lastPerfettoMessage = msg;
  t.perfettoMessages.push(msg);
}

// Resolves when the opened page answers PING with PONG (or rejects after the timeout).
function handshake(win) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const onMessage = e => {
      if (e.origin !== PERFETTO_ORIGIN || e.data !== 'PONG') return;
      if (e.source && e.source !== win) return;
      done();
      resolve();
    };
    const timer = setInterval(() => {
      if (win.closed) { done(); reject(new Error('the Perfetto window was closed')); return; }
      if (Date.now() - started > PONG_TIMEOUT_MS) { done(); reject(new Error('Perfetto did not answer')); return; }
      post(win, 'PING');
    }, PING_MS);
    function done() { clearInterval(timer); window.removeEventListener('message', onMessage); }
    window.addEventListener('message', onMessage);
    post(win, 'PING');
  });
}

// id: trace id; summary: its /summary; range: {start, end} in ns or null for the whole trace.
export async function openInPerfetto(id, summary, range) {
  const opener = window.weftTest.openPerfetto || (() => window.open(`${PERFETTO_ORIGIN}/#!/`));
  const win = opener(); // must run inside the click handler: popup blockers
  if (!win) { toast('The browser blocked the Perfetto window: allow pop-ups for this page.'); return; }
  const r = range || { start: summary.start_ns, end: summary.end_ns };
  toast('Opening in Perfetto: downloading the trace…', 0);
  try {
    const [buffer] = await Promise.all([
      fetch(`/api/traces/${id}/trace.json`).then(res => {
        if (!res.ok) throw new Error(`trace.json: ${res.status} ${res.statusText}`);
        return res.arrayBuffer();
      }),
      handshake(win),
    ]);
    post(win, { perfetto: { buffer, title: `${summary.program || 'weft'}: ${summary.name}`, url: location.href } });
    const zoom = { perfetto: { timeStart: r.start / 1e9, timeEnd: r.end / 1e9 } };
    post(win, zoom);
    // Perfetto retries a zoom for ~4 s while the trace loads; a big trace takes longer: ask again.
    if (buffer.byteLength > BIG_TRACE) setTimeout(() => { if (!win.closed) post(win, zoom); }, RESEND_ZOOM_MS);
    toast('Trace sent to Perfetto.');
  } catch (e) {
    toast(`Open in Perfetto failed: ${e.message}`);
  }
}

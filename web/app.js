// app.js: entry point of the weft UI. Routes the URL fragment (#/, #/t/{id}/{view}?...) to a view
// module, loads the trace summary once per trace, draws the header (nav, Open in Perfetto,
// Download JSON) and owns window.weftTest, the read-only hook the browser tests observe.
import { h, api, notice } from './util.js';
import { renderTraces } from './traces.js';
import { renderTimeline } from './timeline.js';
import { renderLatency } from './latency.js';
import { renderLogs } from './logs.js';
import { renderBlocking } from './blocking.js';
import { openInPerfetto } from './perfetto.js';

// Updated by the views on every draw / post; tests read it, the UI never reads it back except
// openPerfetto, which a test may set to replace window.open.
window.weftTest = {
  drawnSlices: 0, drawnBlocks: 0, drawnBlockSlices: 0, lastFrameMs: 0, frames: 0, frameTimes: [],
  // runtime rows: state spans and merged state blocks (with the spans they hold), CPU spans and
  // blocks, listed waits / pauses / uv phases (lock waits among them), item blocks, lock flows
  drawnStates: 0, drawnStateBlocks: 0, drawnStateBlockSpans: 0, drawnCpuSpans: 0, drawnCpuBlocks: 0,
  drawnCpuBlockSpans: 0, drawnItems: 0, drawnLockWaits: 0, drawnItemBlocks: 0, drawnLockFlows: 0,
  selectedWait: null, release: null, // the selected wait (/wait index) and the lock release marked
  view: { start: 0, end: 0 }, fetches: 0, pending: false, dataVersion: 0, firstDataFrameAt: 0,
  lastPerfettoMessage: null, perfettoMessages: [], openPerfetto: null, route: '',
};

const VIEWS = {
  timeline: { label: 'Timeline', render: renderTimeline },
  tasks: { label: 'Tasks', render: (root, ctx) => renderLatency(root, ctx, 'tasks'), when: has => has.tasks },
  regions: { label: 'Regions', render: (root, ctx) => renderLatency(root, ctx, 'regions'), when: has => has.regions },
  logs: { label: 'Logs', render: renderLogs, when: has => has.logs },
  blocking: { label: 'Blocking', render: renderBlocking, when: has => has.blocking },
};

const summaries = new Map(); // trace id -> Promise of its summary
let current = null;          // {key, dispose, update}
let ownHash = null;          // a fragment the app wrote itself: no re-render

export const shared = { range: null }; // the timeline's current view, for Perfetto's zoom

export function parseHash(hash = location.hash) {
  const m = hash.replace(/^#/, '').match(/^\/t\/([a-z0-9]+)\/(\w+)(?:\?(.*))?$/);
  if (!m) return { view: 'traces', params: {} };
  return { id: m[1], view: m[2], params: Object.fromEntries(new URLSearchParams(m[3] || '')) };
}

export function hashFor(id, view, params = {}) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const q = u.toString();
  return `#/t/${id}/${view}${q ? '?' + q : ''}`;
}

// Rewrites the fragment without re-rendering (the view already shows that state).
export function replaceHash(hash) {
  if (hash === location.hash) return;
  ownHash = hash;
  history.replaceState(null, '', hash);
}

export function toast(text, ms = 4000) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  if (ms) toast.timer = setTimeout(() => { t.hidden = true; }, ms);
}

function summaryOf(id) {
  if (!summaries.has(id)) {
    const p = api(`/api/traces/${id}/summary`);
    p.catch(() => summaries.delete(id));
    summaries.set(id, p);
  }
  return summaries.get(id);
}

function drawHeader(id, view, summary) {
  const nav = document.getElementById('nav'), actions = document.getElementById('actions');
  const title = document.getElementById('trace-title');
  nav.replaceChildren(h('a', { href: '#/', class: id ? '' : 'active' }, 'Traces'));
  actions.replaceChildren();
  title.textContent = '';
  if (!summary) return;
  title.textContent = `${summary.program || summary.name} · ${summary.name}`;
  title.title = `pid ${summary.pid}, recorded at ${summary.recorded_at}`;
  for (const [key, v] of Object.entries(VIEWS)) {
    if (v.when && !v.when(summary.has || {})) continue;
    nav.append(h('a', { href: hashFor(id, key), class: key === view ? 'active' : '', 'data-view': key }, v.label));
  }
  actions.append(
    h('button', {
      id: 'open-perfetto', type: 'button', title: 'Open this trace in ui.perfetto.dev (zoomed to the current range)',
      onclick: () => openInPerfetto(id, summary, shared.range),
    }, 'Open in Perfetto'),
    h('a.button', { href: `/api/traces/${id}/trace.json`, download: `${summary.name}.json`, id: 'download-json' },
      'Download JSON'));
}

async function route() {
  if (ownHash !== null && location.hash === ownHash) { ownHash = null; return; }
  ownHash = null;
  const { id, view, params } = parseHash();
  const key = id ? `${id}/${view}` : 'traces';
  if (current && current.key === key && current.update && current.update(params) !== false) return;
  current?.dispose?.();
  current = null;
  shared.range = null;
  window.weftTest.route = key;
  const root = document.getElementById('view');
  root.replaceChildren();
  root.className = `view-${id ? view : 'traces'}`;
  if (!id) {
    drawHeader(null);
    current = { key, ...(renderTraces(root) || {}) };
    return;
  }
  let summary;
  try {
    summary = await summaryOf(id);
  } catch (e) {
    drawHeader(null);
    root.append(notice(`Cannot open trace ${id}: ${e.message}`, 'error'));
    return;
  }
  if (parseHash().id !== id) return; // the user moved on while loading
  drawHeader(id, view, summary);
  const v = VIEWS[view];
  if (!v || (v.when && !v.when(summary.has || {}))) {
    root.append(notice(`This trace has no "${view}" view.`, 'error'));
    return;
  }
  const ctx = { id, summary, params, navigate: (p, view2 = view) => { location.hash = hashFor(id, view2, p); } };
  current = { key, ...(v.render(root, ctx) || {}) };
}

window.addEventListener('hashchange', route);
route();

// timeline.js: the Timeline view (#/t/{id}/timeline?start=&end=&sel=&task=&q=). Owns the view
// state (visible range, vertical scroll, selection, range, search, task focus), fetches /window
// for what is visible (padded, debounced, stale fetches aborted, last data kept while loading),
// handles wheel/drag/W-A-S-D input on a requestAnimationFrame loop and keeps the URL in sync.
// Drawing is tl-draw.js; the side panels (details, range table, search) are tl-panels.js.
import { h, api, qs, fmtDur, fmtCount } from './util.js';
import { GUTTER, RULER, ROW, LOGROW, LANE, indexData, layout, drawFrame, hitTest } from './tl-draw.js';
import { showSlice, showTask, showAggregate, showSearch } from './tl-panels.js';
import { showState, showWait, showCpuSpan } from './tl-rt-panels.js';
import { STATES, stateKey, stateLabel, itemTitle } from './tl-rt.js';
import { hashFor, replaceHash, shared } from './app.js';

const MIN_SPAN = 200;          // ns: the deepest zoom
const FETCH_DEBOUNCE_MS = 40, URL_DEBOUNCE_MS = 250;

export function renderTimeline(root, ctx) {
  const { id, summary, params } = ctx;
  const num = k => (params[k] !== undefined && /^\d+$/.test(params[k]) ? Number(params[k]) : null);
  const S = {
    view: { start: summary.start_ns, end: summary.end_ns }, scrollY: 0, W: 0, H: 0,
    idx: null, lay: null, sel: num('sel'), selTask: null, focusTask: num('task'), q: params.q || '',
    matches: null, matchMarks: null, range: null, summary, depthRows: new Map(),
    selWait: num('wait'), selState: null, release: null,
  };
  const start = num('start'), end = num('end');
  if (start !== null && end !== null && end > start) S.view = { start, end };
  const t = window.weftTest;

  // DOM
  const canvas = h('canvas.tl-canvas', { tabindex: 0, 'aria-label': 'timeline' });
  const tip = h('div.tl-tip', { hidden: true });
  const box = h('div.tl-box', {}, canvas, tip);
  const side = h('aside.tl-side', {});
  const search = h('input.tl-search', {
    type: 'search', placeholder: 'Search slices and logs', value: S.q, 'aria-label': 'search',
    onkeydown: e => { if (e.key === 'Enter') runSearch(search.value.trim()); e.stopPropagation(); },
    onsearch: () => { if (!search.value) runSearch(''); },
  });
  const focusBar = h('span.tl-focus');
  const status = h('span.tl-status');
  root.append(h('div.tl-wrap', {},
    h('div.tl-toolbar', {}, search,
      h('button', { type: 'button', onclick: () => setView(summary.start_ns, summary.end_ns) }, 'Zoom out'),
      focusBar, status, summary.has?.thread_states ? stateLegend() : null,
      h('span.hint', {}, 'W/S or wheel: zoom · A/D or drag: pan · shift+drag or ruler drag: range')),
    h('div.tl-main', {}, box, side)));
  const g = canvas.getContext('2d');
  const panels = { slice: h('section.panel'), range: h('section.panel'), search: h('section.panel') };
  side.append(panels.slice, panels.range, panels.search);
  for (const p of Object.values(panels)) p.hidden = true;

  // Drawing
  let rafId = 0;
  const keys = new Set();
  let lastKeyT = 0;
  const requestDraw = () => { if (!rafId) rafId = requestAnimationFrame(frame); };
  function frame(now) {
    rafId = 0;
    if (keys.size) { applyKeys(now); requestDraw(); } else lastKeyT = 0;
    if (!S.W || !S.lay) return;
    const t0 = performance.now();
    const stats = drawFrame(g, S);
    t.lastFrameMs = performance.now() - t0;
    t.frames++;
    if (t.frameTimes.push(t.lastFrameMs) > 1000) t.frameTimes.shift();
    t.drawnSlices = stats.slices; t.drawnBlocks = stats.blocks; t.drawnBlockSlices = stats.blockSlices;
    t.drawnStates = stats.states; t.drawnStateBlocks = stats.stateBlocks; t.drawnStateBlockSpans = stats.stateBlockSpans;
    t.drawnCpuSpans = stats.cpuSpans; t.drawnCpuBlocks = stats.cpuBlocks; t.drawnCpuBlockSpans = stats.cpuBlockSpans;
    t.drawnItems = stats.items; t.drawnLockWaits = stats.lockWaits; t.drawnItemBlocks = stats.itemBlocks;
    t.drawnLockFlows = stats.lockFlows;
    t.selectedWait = S.selWait; t.release = S.release && { ...S.release };
    t.view = { start: S.view.start, end: S.view.end };
    if (S.idx && !t.firstDataFrameAt) t.firstDataFrameAt = performance.now(); // ms since navigation
  }
  function relayout() {
    S.lay = layout(summary, S.idx, S.focusTask, S.depthRows);
    S.scrollY = Math.max(0, Math.min(S.scrollY, S.lay.height - (S.H - RULER) + 20));
  }
  function resize() {
    const r = box.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    S.W = Math.max(GUTTER + 50, Math.floor(r.width));
    S.H = Math.max(RULER + 40, Math.floor(r.height));
    canvas.width = Math.round(S.W * dpr); canvas.height = Math.round(S.H * dpr);
    canvas.style.width = `${S.W}px`; canvas.style.height = `${S.H}px`;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    relayout();
    requestDraw();
    if (data || inflight) scheduleFetch(); else fetchWindow(); // the first fetch: no debounce
  }
  const ro = new ResizeObserver(resize);
  ro.observe(box);

  // View changes
  function setView(a, b) {
    const full = summary.end_ns - summary.start_ns;
    let span = Math.min(Math.max(b - a, MIN_SPAN), Math.max(full, MIN_SPAN));
    a = Math.max(summary.start_ns, Math.min(a, summary.end_ns - span));
    S.view = { start: a, end: a + span };
    shared.range = { ...S.view };
    requestDraw(); scheduleFetch(); scheduleUrl();
  }
  const npp = () => (S.view.end - S.view.start) / (S.W - GUTTER);
  function zoomAt(x, factor) {
    const tx = S.view.start + (x - GUTTER) * npp();
    setView(tx - (tx - S.view.start) * factor, tx + (S.view.end - tx) * factor);
  }
  const panBy = dx => setView(S.view.start + dx * npp(), S.view.end + dx * npp());
  function applyKeys(now) {
    const dt = lastKeyT ? Math.min((now - lastKeyT) / 1000, 0.1) : 1 / 60;
    lastKeyT = now;
    const cx = mouse.inside ? mouse.x : GUTTER + (S.W - GUTTER) / 2;
    if (keys.has('w')) zoomAt(cx, Math.exp(-3 * dt));
    if (keys.has('s')) zoomAt(cx, Math.exp(3 * dt));
    if (keys.has('a')) panBy(-(S.W - GUTTER) * 0.9 * dt);
    if (keys.has('d')) panBy((S.W - GUTTER) * 0.9 * dt);
  }

  // Data
  let data = null, inflight = null, fetchTimer = 0;
  const suits = (r, v, want) => r && r.start <= Math.max(v.start, summary.start_ns) && r.end >= Math.min(v.end, summary.end_ns)
    && r.ns_per_px <= want * 1.3 + 1 && r.ns_per_px >= want / 1.6;
  function scheduleFetch() { clearTimeout(fetchTimer); fetchTimer = setTimeout(fetchWindow, FETCH_DEBOUNCE_MS); }
  function fetchWindow() {
    if (!S.W) return;
    const want = npp();
    if (suits(data, S.view, want) || (inflight && suits(inflight.req, S.view, want))) return;
    inflight?.ctrl.abort();
    const span = S.view.end - S.view.start;
    const a = Math.max(summary.start_ns, Math.floor(S.view.start - span / 4));
    const b = Math.min(summary.end_ns, Math.ceil(S.view.end + span / 4));
    const px = Math.max(1, Math.min(8192, Math.round((b - a) / want)));
    const req = { start: a, end: Math.max(b, a + 1), px, ns_per_px: (b - a) / px };
    const ctrl = new AbortController();
    inflight = { req, ctrl };
    t.pending = true; t.fetches++;
    status.textContent = 'loading…';
    api(`/api/traces/${id}/window${qs({ start: req.start, end: req.end, px, task: S.focusTask })}`, { signal: ctrl.signal })
      .then(d => {
        if (inflight?.ctrl !== ctrl) return;
        inflight = null; t.pending = false;
        data = { start: d.start, end: d.end, ns_per_px: d.ns_per_px || (d.end - d.start) / d.px };
        S.idx = indexData(d);
        status.textContent = `${fmtCount(d.slices_total)} slices, ${fmtCount(d.blocks_total)} blocks`;
        relayout(); t.dataVersion++; requestDraw();
        if (focusPending) focusOnTask(d);
        scheduleFetch();
      })
      .catch(e => {
        if (e.name === 'AbortError') return;
        if (inflight?.ctrl === ctrl) { inflight = null; t.pending = false; }
        status.textContent = `window: ${e.message}`;
      });
  }

  // Task focus: the first answer for the whole trace tells the task's span.
  let focusPending = S.focusTask !== null && start === null;
  function focusOnTask(d) {
    focusPending = false;
    const task = d.tasks.find(k => k.task === S.focusTask);
    if (task) { const m = Math.max((task.e - task.s) * 0.05, 1000); setView(task.s - m, task.e + m); }
  }
  function drawFocusBar() {
    focusBar.replaceChildren();
    if (S.focusTask === null) return;
    focusBar.append(`Task #${S.focusTask} only `,
      h('button', { type: 'button', onclick: () => setFocus(null) }, 'Show all threads'));
  }
  function setFocus(task) {
    S.focusTask = task; data = null; S.depthRows.clear();
    inflight?.ctrl.abort(); inflight = null;
    drawFocusBar(); relayout(); scheduleUrl();
    if (task !== null) { focusPending = true; S.view = { start: summary.start_ns, end: summary.end_ns }; }
    scheduleFetch(); requestDraw();
  }
  drawFocusBar();

  // URL
  let urlTimer = 0;
  function scheduleUrl() {
    clearTimeout(urlTimer);
    urlTimer = setTimeout(() => replaceHash(hashFor(id, 'timeline', {
      start: Math.round(S.view.start), end: Math.round(S.view.end), sel: S.sel, wait: S.selWait, task: S.focusTask, q: S.q,
    })), URL_DEBOUNCE_MS);
  }

  // Panels
  const handlers = {
    select(i, where) {
      S.sel = i; scheduleUrl();
      if (where) setView(where.s - where.d * 1.5 - 1000, where.s + where.d * 2.5 + 1000);
      showSlice(panels.slice, id, i, handlers).then(sl => { if (sl && S.sel === i) { S.selTask = sl.task || null; requestDraw(); } });
      requestDraw();
    },
    focusTask: task => setFocus(task),
    // A wait, pause or uv phase (its /wait index); `where` ({s, d}) to bring it into view.
    selectWait(i, where) {
      S.selWait = i; S.selState = null; S.sel = null; scheduleUrl();
      if (where) setView(where.s - where.d * 1.5 - 1000, where.s + where.d * 2.5 + 1000);
      showWait(panels.slice, id, i, handlers).then(w => {
        if (w?.release_ns !== undefined && S.selWait === i) { S.release = { thread: w.holder, t: w.release_ns }; requestDraw(); }
      });
      requestDraw();
    },
    // The holder's release that ended a lock wait: marked on the holder's thread and brought into view.
    showRelease(thread, t) {
      S.release = { thread, t };
      const span = Math.min(S.view.end - S.view.start, 2e6);
      setView(t - span / 2, t + span / 2);
    },
    state(span, thread) { S.selState = { s: span.s, thread: thread.thread }; S.selWait = null; showState(panels.slice, span, thread, handlers); requestDraw(); },
    cpuSpan(span, cpu) { showCpuSpan(panels.slice, span, cpu, summary, handlers); },
    task(task) { S.selTask = task.task; showTask(panels.slice, task, handlers); requestDraw(); },
    gotoTime(ts) { const span = Math.min(S.view.end - S.view.start, 2e6); setView(ts - span / 2, ts + span / 2); },
    close(kind) {
      panels[kind].hidden = true;
      if (kind === 'slice') { S.sel = null; S.selTask = null; S.selWait = null; S.selState = null; S.release = null; scheduleUrl(); }
      if (kind === 'range') S.range = null;
      if (kind === 'search') { S.q = ''; search.value = ''; S.matches = null; S.matchMarks = null; scheduleUrl(); }
      requestDraw();
    },
  };
  async function runSearch(q) {
    S.q = q; scheduleUrl();
    if (!q) { handlers.close('search'); return; }
    const r = await showSearch(panels.search, id, q, handlers);
    if (r && S.q === q) {
      S.matches = new Set(r.slices.map(s => s.i));
      S.matchMarks = r.slices.map(s => s.s).concat(r.logs.map(l => l.t));
      requestDraw();
    }
  }
  if (S.sel !== null) handlers.select(S.sel);
  else if (S.selWait !== null) handlers.selectWait(S.selWait);
  if (S.q) runSearch(S.q);

  // Input
  const mouse = { x: 0, y: 0, inside: false, drag: null };
  const local = e => { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  const timeAt = x => S.view.start + (x - GUTTER) * npp();
  canvas.addEventListener('wheel', e => {
    e.preventDefault();
    const [x] = local(e);
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? S.H : 1;
    const dx = e.deltaX * unit, dy = e.deltaY * unit;
    if (e.shiftKey || x < GUTTER) { S.scrollY = Math.max(0, Math.min(S.scrollY + (dy || dx), S.lay.height - (S.H - RULER) + 20)); requestDraw(); return; }
    if (Math.abs(dx) > Math.abs(dy)) panBy(dx);
    else zoomAt(Math.max(x, GUTTER), Math.exp(Math.max(-300, Math.min(300, dy)) * 0.0025));
  }, { passive: false });
  canvas.addEventListener('mousedown', e => {
    if (e.button !== 0) return;
    const [x, y] = local(e);
    canvas.focus();
    if ((y < RULER || e.shiftKey) && x >= GUTTER) mouse.drag = { kind: 'range', t0: timeAt(x), x0: x, y0: y };
    else mouse.drag = { kind: 'pan', x0: x, y0: y, lastX: x, lastY: y, scroll0: S.scrollY, moved: false };
    e.preventDefault();
  });
  const onMove = e => {
    const [x, y] = local(e);
    mouse.x = x; mouse.y = y;
    const d = mouse.drag;
    if (!d) { hover(x, y, e); return; }
    tip.hidden = true;
    if (Math.abs(x - d.x0) + Math.abs(y - d.y0) > 3) d.moved = true;
    if (d.kind === 'pan') {
      panBy(d.lastX - x); d.lastX = x;
      S.scrollY = Math.max(0, Math.min(d.scroll0 - (y - d.y0), S.lay.height - (S.H - RULER) + 20));
      requestDraw();
    } else {
      const t1 = timeAt(Math.max(GUTTER, Math.min(x, S.W)));
      S.range = { start: Math.min(d.t0, t1), end: Math.max(d.t0, t1) };
      requestDraw();
    }
  };
  const onUp = e => {
    const d = mouse.drag;
    if (!d) return;
    mouse.drag = null;
    const [x, y] = local(e);
    if (d.kind === 'range') {
      if (Math.abs(x - d.x0) < 3) { handlers.close('range'); return; }
      showAggregate(panels.range, id, S.range, S.focusTask !== null && S.idx ? [...S.idx.threads.keys()].join(',') : null, handlers);
    } else if (!d.moved) click(x, y, e);
  };
  window.addEventListener('mousemove', onMove);
  window.addEventListener('mouseup', onUp);
  canvas.addEventListener('mouseenter', () => { mouse.inside = true; });
  canvas.addEventListener('mouseleave', () => { mouse.inside = false; tip.hidden = true; });
  canvas.addEventListener('dblclick', e => {
    const hit = S.lay && hitTest(S, ...local(e));
    const it = hit?.slice || hit?.block || hit?.item || hit?.span;
    if (it) setView(it.s - it.d * 0.1, it.s + it.d * 1.1);
  });
  function click(x, y) {
    const hit = S.lay && hitTest(S, x, y);
    if (!hit) { handlers.close('slice'); return; }
    if (hit.kind === 'slice') handlers.select(hit.slice.i);
    else if (hit.kind === 'wait') handlers.selectWait(hit.item.i);
    else if (hit.kind === 'state') handlers.state(hit.span, hit.thread);
    else if (hit.kind === 'cpu') handlers.cpuSpan(hit.span, hit.cpu);
    else if (hit.block) setView(hit.block.s - hit.block.d * 0.1, hit.block.s + hit.block.d * 1.1);
    else if (hit.kind === 'task') handlers.task(hit.task);
    else if (hit.kind === 'log' && hit.log.task) handlers.task({ task: hit.log.task });
  }
  function hover(x, y) {
    const hit = mouse.inside && S.lay && hitTest(S, x, y);
    const text = hit && tipText(hit);
    canvas.style.cursor = hit && hit.kind !== 'ruler' && hit.kind !== 'gutter' ? 'pointer' : hit?.kind === 'ruler' ? 'col-resize' : 'default';
    if (!text) { tip.hidden = true; return; }
    tip.textContent = text;
    tip.hidden = false;
    tip.style.left = `${Math.min(x + 14, S.W - tip.offsetWidth - 4)}px`;
    tip.style.top = `${Math.min(y + 16, S.H - tip.offsetHeight - 4)}px`;
  }
  const onKey = (e, down) => {
    if (e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    if ('wasd'.includes(k) && k.length === 1) {
      if (down) { keys.add(k); requestDraw(); } else keys.delete(k);
      e.preventDefault();
    } else if (down && k === 'escape') { handlers.close('range'); handlers.close('slice'); }
  };
  const kd = e => onKey(e, true), ku = e => onKey(e, false), blur = () => keys.clear();
  window.addEventListener('keydown', kd);
  window.addEventListener('keyup', ku);
  window.addEventListener('blur', blur);

  // The test hook's helper: page coordinates of a drawn slice (by index or name), or null.
  t.locateSlice = key => {
    if (!S.idx || !S.lay) return null;
    let best = null;
    for (const [thread, e] of S.idx.threads) e.depths.forEach((row, depth) => row?.slices.forEach(s => {
      if (typeof key === 'number' ? s.i !== key : s.name !== key) return;
      if (s.s + s.d <= S.view.start || s.s >= S.view.end || (best && best.s.d >= s.d)) return;
      best = { s, thread, depth };
    }));
    if (!best) return null;
    const sec = S.lay.sections.find(x => x.kind === 'thread' && x.th.thread === best.thread);
    const r = canvas.getBoundingClientRect(), np = npp();
    const x0 = Math.max(GUTTER + (best.s.s - S.view.start) / np, GUTTER), x1 = Math.min(GUTTER + (best.s.s + best.s.d - S.view.start) / np, S.W);
    const y = RULER - S.scrollY + sec.y + LOGROW + best.depth * ROW + ROW / 2;
    return { i: best.s.i, name: best.s.name, d: best.s.d, x: r.left + (x0 + x1) / 2, y: r.top + y };
  };
  // Page coordinates of the drawn runtime item (wait, pause) or state span for which pred(it,
  // thread) holds, the longest in view; or null.
  const locateRt = (rowsOf, pred) => {
    if (!S.idx || !S.lay) return null;
    let best = null;
    for (const { row, y, thread } of rowsOf()) for (const it of row.items) {
      if (!pred(it, thread) || it.s + it.d <= S.view.start || it.s >= S.view.end || (best && best.it.d >= it.d)) continue;
      best = { it, y };
    }
    if (!best) return null;
    const r = canvas.getBoundingClientRect(), np = npp(), { it } = best;
    const x0 = Math.max(GUTTER + (it.s - S.view.start) / np, GUTTER), x1 = Math.min(GUTTER + (it.s + it.d - S.view.start) / np, S.W);
    return { ...it, x: r.left + (x0 + x1) / 2, y: r.top + RULER - S.scrollY + best.y };
  };
  function* subRows(kind) {
    for (const [thread, e] of S.idx.threads) {
      const sec = S.lay.byThread.get(thread), sub = sec?.sub.find(r => r.kind === kind);
      if (e[kind] && sub) yield { row: e[kind], y: sec.y + sub.y + sub.h / 2, thread };
    }
    if (kind === 'waits') {
      const lanes = S.lay.sections.find(x => x.kind === 'lanes');
      if (lanes) for (const [k, row] of S.idx.rt.lanes.entries()) yield { row, y: lanes.y + 3 + k * LANE + LANE / 2 };
    }
  }
  t.locateWait = kind => locateRt(() => subRows('waits'), it => it.kind === kind);
  t.locateState = key => locateRt(() => subRows('states'), s => stateKey(s) === key);
  shared.range = { ...S.view };

  return {
    dispose() {
      ro.disconnect(); cancelAnimationFrame(rafId); clearTimeout(fetchTimer); clearTimeout(urlTimer);
      inflight?.ctrl.abort();
      window.removeEventListener('mousemove', onMove); window.removeEventListener('mouseup', onUp);
      window.removeEventListener('keydown', kd); window.removeEventListener('keyup', ku); window.removeEventListener('blur', blur);
      t.locateSlice = null; t.locateWait = null; t.locateState = null;
    },
  };
}

function tipText(hit) {
  switch (hit.kind) {
    case 'slice': return `${hit.slice.name} · ${fmtDur(hit.slice.d)}${hit.slice.task ? ` · task ${hit.slice.task}` : ''}`;
    case 'block': return `${fmtCount(hit.block.count)} slices merged (mostly ${hit.block.name}) over ${fmtDur(hit.block.d)}: click to zoom`;
    case 'task': return `${hit.task.type} #${hit.task.task} · ${fmtDur(hit.task.e - hit.task.s)}${hit.task.unfinished ? ' (did not end)' : ''}`;
    case 'taskblock': return `${fmtCount(hit.block.count)} tasks merged over ${fmtDur(hit.block.d)}`;
    case 'log': return `[${hit.log.category}] ${hit.log.message}${hit.log.task ? ` · task ${hit.log.task}` : ''}`;
    case 'logblock': return `${fmtCount(hit.block.count)} logs over ${fmtDur(hit.block.d)}`;
    case 'counter': return `${hit.name} = ${hit.value}`;
    case 'state': return `${stateLabel(stateKey(hit.span))}${hit.span.why ? ` (${hit.span.why})` : ''} · ${fmtDur(hit.span.d)}${hit.span.cpu !== undefined ? ` · CPU ${hit.span.cpu}` : ''}`;
    case 'stateblock': return `${fmtCount(hit.block.count)} states over ${fmtDur(hit.block.d)}: ${STATES.filter(([k]) => hit.block.ns[k])
      .map(([k]) => `${stateLabel(k)} ${Math.round(100 * hit.block.ns[k] / Object.values(hit.block.ns).reduce((a, b) => a + b, 0))} %`).join(', ')}`;
    case 'wait': return `${itemTitle(hit.item)} · ${fmtDur(hit.item.d)}`;
    case 'itemblock': return `${fmtCount(hit.block.count)} × ${hit.block.kind} (mostly ${hit.block.name}) over ${fmtDur(hit.block.d)}: click to zoom`;
    case 'cpu': return `CPU ${hit.cpu}: thread ${hit.span.thread} · ${fmtDur(hit.span.d)}`;
    case 'cpublock': return `CPU ${hit.cpu}: ${fmtCount(hit.block.count)} spans over ${fmtDur(hit.block.d)}, mostly thread ${hit.block.thread}`;
    default: return null;
  }
}

// The colours of the state tracks.
function stateLegend() {
  return h('span.tl-legend', { 'aria-label': 'thread states' }, STATES.map(([key, label, colour]) =>
    h('span.key', { 'data-state': key }, h('i', { style: { background: colour } }), label)));
}

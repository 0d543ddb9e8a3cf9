// tl-rt.js: the timeline's runtime rows, for traces that have runtime events. Under each thread: a
// row of its lock and I/O waits (outlined: time spent waiting, not working), a row of its uv loop
// phases and its state track (Running / Runnable / Blocked by reason); a "GC / allocator" track of
// pause lanes; one track per CPU coloured by the thread that ran; and arrows from the release of a
// lock to the waiter it woke. Indexes the /window answer's runtime parts, gives the layout its
// sub-rows, draws them batched by colour like tl-draw.js draws regions, and hit-tests them.
import { PALETTE, colourIndex } from './util.js';
import { GUTTER, ROW, LOGROW, LANE, FONT, Runs, Paths, firstEndingAfter, hatchPattern, fitLabel } from './tl-base.js';

export const STATE_ROW = 12, CPU_ROW = 16;

// [key in the API, legend text, colour]; a state block's fractions stack in this order. Idle
// states (sleep, and blocked outside any recorded wait: a thread waiting for work) are light
// greys, so the waits that matter stand out.
export const STATES = [
  ['running', 'Running', '#2f9e44'], ['runnable', 'Runnable', '#74c0fc'], ['lock', 'Blocked: lock', '#e03131'],
  ['io', 'Blocked: I/O', '#f08c00'], ['sleep', 'Blocked: sleep', '#dde1e6'],
  ['condition', 'Blocked: condition', '#ae3ec9'], ['gc', 'Blocked: GC', '#5f3dc4'], ['blocked', 'Blocked: other', '#aab1bb'],
];
const STATE_INDEX = new Map(STATES.map(([k], i) => [k, i]));
export const stateKey = s => (s.state === 'blocked' ? s.reason : s.state);
export const stateLabel = key => STATES[STATE_INDEX.get(key) ?? 7][1];
const stateIndex = key => STATE_INDEX.get(key) ?? 7;

// Items: waits by kind, pauses by kind, uv phases by phase.
const ITEM_COLOURS = ['#c92a2a', '#e8590c', '#5f3dc4', '#d6336c', '#1971c2', '#74c0fc', '#868e96'];
const UV_PHASE = { 'io callbacks': 4, 'poll wait': 5, 'timers/idle/prepare': 6 };
const KIND_COLOUR = { lock: 0, io: 1, gc: 2, allocator: 3, uv: 4 };
const itemColour = it => (it.kind === 'uv' ? UV_PHASE[it.name] ?? 6 : KIND_COLOUR[it.kind] ?? 6);
export const itemTitle = it => (it.kind === 'lock' ? `lock wait: ${it.name}`
  : it.kind === 'io' ? `I/O: ${it.name}` : it.kind === 'allocator' ? `allocator: ${it.name}`
    : it.kind === 'gc' ? `GC: ${it.name}` : `uv: ${it.name}`);

const rowOf = (items, blocks) => ({ items: items || [], blocks: blocks || [] });

// A state block's stack, worked out once per answer rather than every frame: [state index,
// fraction of the block's time] in STATES order.
function withStack(b) {
  let total = 0;
  for (const k in b.ns) total += b.ns[k];
  const stack = [];
  for (let i = 0; i < STATES.length && total > 0; i++) {
    const v = b.ns[STATES[i][0]];
    if (v) stack.push(i, v / total);
  }
  b.stack = stack;
  return b;
}

// Adds the runtime rows of a /window answer to tl-draw.js's per-thread entries (e.states, e.waits,
// e.uv); returns the CPU rows (by CPU number) and the pause lanes.
export function indexRt(data, entry) {
  for (const t of data.threads) {
    if (!t.states && !t.waits && !t.uv) continue;
    const e = entry(t.thread);
    if (t.states) e.states = rowOf(t.states, t.state_blocks?.map(withStack));
    if (t.waits) e.waits = rowOf(t.waits, t.wait_blocks);
    if (t.uv) e.uv = rowOf(t.uv, t.uv_blocks);
  }
  return {
    cpus: new Map((data.cpus || []).map(c => [c.cpu, rowOf(c.spans, c.blocks)])),
    lanes: (data.lanes || []).map(l => rowOf(l.pauses, l.blocks)),
  };
}

// The sub-rows under a thread's regions, from the summary (so the layout does not jump when data
// arrives): [{kind, h}] in drawing order.
export function threadSubRows(th) {
  const rows = [];
  if (th.waits) rows.push({ kind: 'waits', h: ROW });
  if (th.uv) rows.push({ kind: 'uv', h: ROW });
  if (th.states) rows.push({ kind: 'states', h: STATE_ROW });
  return rows;
}

export const RT_LABELS = { waits: 'waits', uv: 'uv loop', states: 'state' };

// One frame's batches: rectangles per colour, filled once at the end. Selected items go to `outlines`
// (tl-draw.js's: x, y, w, h, selected).
export function rtPainter(outlines) {
  const p = {
    states: new Paths(STATES.length), stateBlocks: new Paths(STATES.length), items: new Paths(ITEM_COLOURS.length),
    itemBlocks: new Paths(ITEM_COLOURS.length), outlines: new Paths(ITEM_COLOURS.length),
    cpus: new Paths(PALETTE.length), cpuBlocks: new Paths(PALETTE.length), hatch: new Paths(1), labels: [], sel: outlines,
  };
  const runs = paths => new Runs(c => paths.get(c));
  p.stateRuns = runs(p.states);
  p.itemRuns = runs(p.items);
  p.cpuRuns = runs(p.cpus);
  p.blockRuns = runs(p.itemBlocks);
  p.cpuBlockRuns = runs(p.cpuBlocks);
  p.hatchRuns = runs(p.hatch);
  return p;
}

const fillAll = (ctx, paths, colours, alpha) => {
  ctx.globalAlpha = alpha;
  paths.each((rects, c) => { ctx.fillStyle = colours[c]; rects.fill(ctx); });
  ctx.globalAlpha = 1;
};
const STATE_COLOURS = STATES.map(s => s[2]);

export function paintRt(ctx, p) {
  for (const r of [p.stateRuns, p.itemRuns, p.cpuRuns, p.blockRuns, p.cpuBlockRuns, p.hatchRuns]) r.flush();
  fillAll(ctx, p.states, STATE_COLOURS, 1);
  fillAll(ctx, p.stateBlocks, STATE_COLOURS, 0.8);
  fillAll(ctx, p.items, ITEM_COLOURS, 0.3);
  fillAll(ctx, p.itemBlocks, ITEM_COLOURS, 0.55);
  ctx.lineWidth = 1.5;
  p.outlines.each((rects, c) => { ctx.strokeStyle = ITEM_COLOURS[c]; rects.stroke(ctx); });
  fillAll(ctx, p.cpus, PALETTE, 1);
  fillAll(ctx, p.cpuBlocks, PALETTE, 0.75);
  ctx.fillStyle = hatchPattern(ctx);
  p.hatch.each(rects => rects.fill(ctx));
  ctx.font = FONT;
  ctx.fillStyle = '#1d2430';
  for (let k = 0; k < p.labels.length; k += 4) {
    const text = fitLabel(ctx, p.labels[k + 3], p.labels[k + 1]);
    if (text) ctx.fillText(text, Math.max(p.labels[k], GUTTER) + 4, p.labels[k + 2]);
  }
}

// Clipped extent of [s, s + d) on screen: its left edge and its width, at least a pixel.
const left = (X, s) => Math.max(X(s), GUTTER - 2);
const width = (st, X, x0, e) => Math.max(Math.min(X(e), st.W + 2) - x0, 1);

// A thread's state track: spans in their state's colour; a merged block as a stacked bar of the
// time it holds in each state, so a busy stretch still shows how it splits.
export function drawStates(p, row, y, h, st, X, stats, thread) {
  p.stateRuns.row(y, h);
  const { view } = st;
  for (let k = firstEndingAfter(row.items, view.start); k < row.items.length; k++) {
    const s = row.items[k];
    if (s.s >= view.end) break;
    const x0 = left(X, s.s), w = width(st, X, x0, s.s + s.d);
    p.stateRuns.add(stateIndex(stateKey(s)), x0, w);
    stats.states++;
    if (st.selState && st.selState.s === s.s && st.selState.thread === thread) p.sel.push(x0, y, w, h, true);
  }
  for (let k = firstEndingAfter(row.blocks, view.start); k < row.blocks.length; k++) {
    const b = row.blocks[k];
    if (b.s >= view.end) break;
    const x0 = Math.floor(left(X, b.s)), w = Math.max(1, Math.round(width(st, X, x0, b.s + b.d)));
    let yy = y;
    for (let i = 0; i < b.stack.length; i += 2) {
      const hh = h * b.stack[i + 1];
      p.stateBlocks.get(b.stack[i]).rect(x0, yy, w, hh);
      yy += hh;
    }
    stats.stateBlocks++;
    stats.stateBlockSpans += b.count;
  }
}

// A row of items (a thread's waits or uv phases, or a pause lane): listed items filled lightly and
// outlined, merged blocks hatched.
export function drawItems(p, row, y, h, st, X, stats) {
  p.itemRuns.row(y, h); p.blockRuns.row(y, h); p.hatchRuns.row(y, h);
  const { view } = st;
  for (let k = firstEndingAfter(row.items, view.start); k < row.items.length; k++) {
    const it = row.items[k];
    if (it.s >= view.end) break;
    const x0 = left(X, it.s), w = width(st, X, x0, it.s + it.d);
    const c = itemColour(it);
    p.itemRuns.add(c, x0, w);
    if (w >= 3) p.outlines.get(c).rect(x0 + 0.75, y + 0.75, w - 1.5, h - 1.5);
    if (w > 40) p.labels.push(x0, w, y + h / 2, itemTitle(it));
    if (it.i === st.selWait) p.sel.push(x0, y, w, h, true);
    stats.items++;
    if (it.kind === 'lock') stats.lockWaits++;
  }
  for (let k = firstEndingAfter(row.blocks, view.start); k < row.blocks.length; k++) {
    const b = row.blocks[k];
    if (b.s >= view.end) break;
    const x0 = left(X, b.s), w = width(st, X, x0, b.s + b.d);
    p.blockRuns.add(itemColour(b), x0, w);
    p.hatchRuns.add(0, x0, w);
    stats.itemBlocks++;
    stats.itemBlockCount += b.count;
  }
}

// A CPU: the threads that ran there, in their threads' colours.
export function drawCpu(p, row, y, h, st, X, stats, threadName) {
  p.cpuRuns.row(y, h); p.cpuBlockRuns.row(y + 2, h - 4); p.hatchRuns.row(y + 2, h - 4);
  const { view } = st;
  for (let k = firstEndingAfter(row.items, view.start); k < row.items.length; k++) {
    const s = row.items[k];
    if (s.s >= view.end) break;
    const x0 = left(X, s.s), w = width(st, X, x0, s.s + s.d);
    p.cpuRuns.add(colourIndex(threadName(s.thread)), x0, w);
    if (w > 50) p.labels.push(x0, w, y + h / 2, threadName(s.thread));
    stats.cpuSpans++;
  }
  for (let k = firstEndingAfter(row.blocks, view.start); k < row.blocks.length; k++) {
    const b = row.blocks[k];
    if (b.s >= view.end) break;
    const x0 = left(X, b.s), w = width(st, X, x0, b.s + b.d);
    p.cpuBlockRuns.add(colourIndex(threadName(b.thread)), x0, w);
    p.hatchRuns.add(0, x0, w);
    stats.cpuBlocks++;
    stats.cpuBlockSpans += b.count;
  }
}

// Flows from a lock's release on the holder to the end of the wait it ended, for the lock waits
// listed in view (the selected one drawn strong); yOf(thread, kind) places the ends.
export function drawLockFlows(ctx, st, X, yOf, stats) {
  if (!st.idx) return;
  const strong = [];
  ctx.lineWidth = 1;
  ctx.strokeStyle = 'rgba(201,42,42,0.55)';
  ctx.fillStyle = 'rgba(201,42,42,0.75)';
  for (const [thread, e] of st.idx.threads) {
    const items = e.waits?.items;
    if (!items) continue;
    for (const it of items) {
      if (it.kind !== 'lock' || it.release_ns === undefined || !it.holder) continue;
      const end = it.s + it.d;
      if (end < st.view.start || it.release_ns > st.view.end) continue;
      const y1 = yOf(it.holder, 'release'), y2 = yOf(thread, 'waits');
      if (y1 === null || y2 === null) continue;
      const f = [X(it.release_ns), y1, X(end), y2];
      if (it.i === st.selWait) strong.push(f); else arrow(ctx, ...f);
      stats.lockFlows++;
    }
  }
  ctx.strokeStyle = '#111'; ctx.fillStyle = '#111'; ctx.lineWidth = 2;
  for (const f of strong) arrow(ctx, ...f);
}

function arrow(ctx, x1, y1, x2, y2) {
  const mx = (x1 + x2) / 2;
  ctx.beginPath(); ctx.moveTo(x1, y1); ctx.bezierCurveTo(mx, y1, mx, y2, x2, y2); ctx.stroke();
  ctx.beginPath(); ctx.arc(x1, y1, 2.5, 0, 2 * Math.PI); ctx.fill();
  const dir = x2 >= x1 ? 1 : -1;
  ctx.beginPath(); ctx.moveTo(x2, y2); ctx.lineTo(x2 - 6 * dir, y2 - 3.5); ctx.lineTo(x2 - 6 * dir, y2 + 3.5); ctx.fill();
}

// A diamond where the holder released the lock (the release a wait's details link to).
export function drawRelease(ctx, st, X, yOf) {
  const r = st.release;
  if (!r || r.t < st.view.start || r.t > st.view.end) return;
  const y = yOf(r.thread, 'release');
  if (y === null) return;
  const x = X(r.t);
  ctx.fillStyle = '#111';
  ctx.beginPath(); ctx.moveTo(x, y - 7); ctx.lineTo(x + 6, y); ctx.lineTo(x, y + 7); ctx.lineTo(x - 6, y); ctx.fill();
  ctx.strokeStyle = '#111'; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(x + 0.5, y - 12); ctx.lineTo(x + 0.5, y + 12); ctx.stroke();
}

// The listed item or merged block of a row at time t (± slack).
function hitRow(row, t, slack) {
  if (!row) return null;
  const within = (s, e) => t >= s - slack && t <= e + slack;
  const it = row.items[firstEndingAfter(row.items, t - slack)];
  if (it && within(it.s, it.s + it.d)) return { item: it };
  const b = row.blocks[firstEndingAfter(row.blocks, t - slack)];
  if (b && within(b.s, b.s + b.d)) return { block: b };
  return null;
}

// What is under content y `cy` of a runtime section or sub-row at time t: {kind, ...} or null.
export function hitRt(st, sec, cy, t, slack) {
  if (sec.kind === 'lanes') {
    const lane = st.idx.rt.lanes[Math.floor((cy - sec.y - 3) / LANE)];
    const h = hitRow(lane, t, slack);
    return h?.item ? { kind: 'wait', item: h.item } : h ? { kind: 'itemblock', block: h.block } : null;
  }
  if (sec.kind === 'cpu') {
    const h = hitRow(st.idx.rt.cpus.get(sec.cpu), t, slack);
    return h?.item ? { kind: 'cpu', span: h.item, cpu: sec.cpu } : h ? { kind: 'cpublock', block: h.block, cpu: sec.cpu } : null;
  }
  const sub = sec.sub?.find(r => cy >= sec.y + r.y && cy < sec.y + r.y + r.h);
  if (!sub) return null;
  const e = st.idx.threads.get(sec.th.thread);
  const h = hitRow(e?.[sub.kind], t, slack);
  if (!h) return null;
  if (sub.kind === 'states') return h.item ? { kind: 'state', span: h.item, thread: sec.th } : { kind: 'stateblock', block: h.block, thread: sec.th };
  return h.item ? { kind: 'wait', item: h.item, thread: sec.th } : { kind: 'itemblock', block: h.block, thread: sec.th };
}

// The y of a thread's sub-row centre (kind 'waits', 'states') or, for 'release', of its first row
// of regions (where the holder was working when it released); null if not laid out.
export function subRowY(st, top, thread, kind) {
  const sec = st.lay.byThread?.get(thread);
  if (!sec) return null;
  if (kind === 'release') return top + sec.y + LOGROW + ROW / 2;
  const sub = sec.sub.find(r => r.kind === kind);
  return sub ? top + sec.y + sub.y + sub.h / 2 : null;
}

// tl-draw.js: the timeline's canvas layer. Indexes a /window answer (per thread and depth, sorted),
// lays out the rows (counters, GC / allocator lanes, task lanes, then each thread: a log-marker
// strip, one row per region depth and its runtime sub-rows, then the CPUs), draws one frame (slices
// batched by colour, blocks hatched, labels, ruler, range, search matches, flows of the selected
// task) and hit-tests a point for hover and click. The runtime rows are tl-rt.js's.
import { PALETTE, colourIndex, fmtTime } from './util.js';
import { GUTTER, RULER, ROW, LOGROW, COUNTER, LANE, FONT, Runs, Rects, Paths, firstEndingAfter, hatchPattern, fitLabel } from './tl-base.js';
import {
  CPU_ROW, RT_LABELS, indexRt, threadSubRows, rtPainter, paintRt, drawStates, drawItems, drawCpu, drawLockFlows,
  drawRelease, hitRt, subRowY,
} from './tl-rt.js';

export { GUTTER, RULER, ROW, LOGROW, LANE } from './tl-base.js';
const MAX_LANES = 8;

const byStart = (a, b) => a.s - b.s;

// Per thread: depths[d] = {slices, blocks} sorted by start, logs and log blocks; tasks in lanes.
export function indexData(data) {
  const threads = new Map();
  const entry = t => {
    if (!threads.has(t)) threads.set(t, { depths: [], logs: [], logBlocks: [] });
    return threads.get(t);
  };
  for (const t of data.threads) {
    const e = entry(t.thread);
    for (const s of t.slices) (e.depths[s.depth] ||= { slices: [], blocks: [] }).slices.push(s);
    for (const b of t.blocks) (e.depths[b.depth] ||= { slices: [], blocks: [] }).blocks.push(b);
    for (const d of e.depths) if (d) { d.slices.sort(byStart); d.blocks.sort(byStart); }
  }
  for (const l of data.logs || []) entry(l.thread).logs.push(l);
  for (const e of threads.values()) e.logs.sort((a, b) => a.t - b.t);
  for (const b of data.log_blocks || []) entry(b.thread).logBlocks.push(b);
  const rt = indexRt(data, entry);
  const laneEnd = [];
  const tasks = [...(data.tasks || [])].sort(byStart).map(t => {
    let lane = laneEnd.findIndex(e => e <= t.s), overflow = false;
    if (lane < 0 && laneEnd.length < MAX_LANES) lane = laneEnd.length;
    if (lane < 0) { lane = MAX_LANES - 1; overflow = true; } // drawn, but not labelled
    laneEnd[lane] = Math.max(laneEnd[lane] || 0, t.e);
    return { ...t, lane, overflow };
  });
  const lanesOfTasks = laneEnd.map(() => []);
  for (const t of tasks) lanesOfTasks[t.lane].push(t);
  return { data, threads, tasks, lanesOfTasks, lanes: Math.max(1, laneEnd.length), rt };
}

// Sections in content coordinates (y = 0 just below the ruler). depthRows: thread -> rows seen.
export function layout(summary, idx, focusTask, depthRows) {
  const sections = [];
  let y = 0;
  const add = (s) => { s.y = y; y += s.h; sections.push(s); return s; };
  if (!focusTask && summary.has?.counters) {
    for (const c of summary.counters || []) add({ kind: 'counter', name: c.name, min: c.min, max: c.max, h: COUNTER });
  }
  if (!focusTask && summary.has?.pauses) add({ kind: 'lanes', h: LANE * Math.max(1, summary.gc_lanes || 1) + 6 });
  if (summary.has?.tasks) add({ kind: 'tasks', h: LANE * (idx ? idx.lanes : 1) + 6 });
  // the recorder's own sampler thread (the system stream) has nothing of its own to show: last
  let threads = [...summary.threads].sort((a, b) => (a.system ? 1 : 0) - (b.system ? 1 : 0)
    || (a.sort ?? 0) - (b.sort ?? 0) || a.thread - b.thread);
  if (focusTask && idx) threads = threads.filter(t => idx.threads.has(t.thread));
  const byThread = new Map();
  for (const th of threads) {
    const seen = idx?.threads.get(th.thread)?.depths.length || 0;
    const rows = Math.max(1, th.max_depth || 0, seen, depthRows.get(th.thread) || 0);
    depthRows.set(th.thread, rows);
    let h = LOGROW + rows * ROW;
    const sub = threadSubRows(th);
    for (const r of sub) { r.y = h; h += r.h; }
    byThread.set(th.thread, add({ kind: 'thread', th, rows, sub, h: h + 6 }));
  }
  if (!focusTask) for (const cpu of summary.cpus || []) add({ kind: 'cpu', cpu, h: CPU_ROW });
  const runtime = sections.some(x => x.kind === 'lanes' || x.kind === 'cpu' || x.sub?.length);
  return { sections, height: y, byThread, runtime };
}

// Draws one frame. st: {W, H, view, scrollY, lay, idx, summary, sel, matches, range, selTask,
// focusTask, hover}. Returns {slices, blocks, blockSlices} drawn inside the view.
export function drawFrame(ctx, st) {
  const { W, H, view, lay, idx } = st;
  const npp = (view.end - view.start) / (W - GUTTER);
  const X = t => GUTTER + (t - view.start) / npp;
  const top = RULER - st.scrollY;
  ctx.font = FONT;
  ctx.textBaseline = 'middle';
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  const stats = {
    slices: 0, blocks: 0, blockSlices: 0, states: 0, stateBlocks: 0, stateBlockSpans: 0, items: 0, lockWaits: 0,
    itemBlocks: 0, itemBlockCount: 0, cpuSpans: 0, cpuBlocks: 0, cpuBlockSpans: 0, lockFlows: 0,
  };
  // No clip: the gutter and the ruler are painted last, over whatever spilled under them.
  drawGrid(ctx, st, npp, X);
  // paths by colour, made on first use (a frame draws a few of the colours)
  const fills = new Paths(PALETTE.length), blockFills = new Paths(PALETTE.length), marks = new Paths(PALETTE.length, () => new Path2D());
  const markBars = new Paths(PALETTE.length);
  const hatchPath = new Rects(), labels = [], outlines = [];
  const runs = new Runs(c => fills.get(c)), blockRuns = new Runs(c => blockFills.get(c)), hatchRuns = new Runs([hatchPath]);
  // runtime rows only where the trace has them: a trace without pays for no paths
  const rp = lay.runtime ? rtPainter(outlines) : null, names = threadNames(st.summary);
  for (const sec of lay.sections) {
    const y0 = top + sec.y;
    if (y0 > H || y0 + sec.h < RULER) continue;
    if (sec.kind === 'thread') {
      const e = idx?.threads.get(sec.th.thread);
      if (!e) continue;
      drawLogs(ctx, e, y0, view, X, marks, markBars);
      for (let d = 0; d < e.depths.length; d++) {
        const row = e.depths[d];
        if (!row) continue;
        const y = y0 + LOGROW + d * ROW;
        if (y > H || y + ROW < RULER) continue;
        runs.row(y + 1, ROW - 2); blockRuns.row(y + 3, ROW - 6); hatchRuns.row(y + 3, ROW - 6);
        for (let k = firstEndingAfter(row.slices, view.start); k < row.slices.length; k++) {
          const s = row.slices[k];
          if (s.s >= view.end) break;
          const x0 = Math.max(X(s.s), GUTTER - 2), x1 = Math.min(X(s.s + s.d), W + 2);
          const w = Math.max(x1 - x0 - (x1 - x0 > 4 ? 1 : 0), 1);
          runs.add(colourIndex(s.name), x0, w);
          stats.slices++;
          if (w > 30) labels.push(x0, w, y, s.name);
          if (s.i === st.sel || st.matches?.has(s.i)) outlines.push(x0, y + 1, w, ROW - 2, s.i === st.sel);
        }
        for (let k = firstEndingAfter(row.blocks, view.start); k < row.blocks.length; k++) {
          const b = row.blocks[k];
          if (b.s >= view.end) break;
          const x0 = Math.max(X(b.s), GUTTER - 2), w = Math.max(Math.min(X(b.s + b.d), W + 2) - x0, 1);
          blockRuns.add(colourIndex(b.name), x0, w);
          hatchRuns.add(0, x0, w);
          stats.blocks++;
          stats.blockSlices += b.count;
        }
      }
      for (const r of sec.sub) {
        const row = e[r.kind], y = y0 + r.y;
        if (!row || y > H || y + r.h < RULER) continue;
        if (r.kind === 'states') drawStates(rp, row, y + 1, r.h - 2, st, X, stats, sec.th.thread);
        else drawItems(rp, row, y + 2, r.h - 4, st, X, stats);
      }
    } else if (sec.kind === 'lanes') {
      (idx?.rt.lanes || []).forEach((lane, k) => drawItems(rp, lane, y0 + 3 + k * LANE, LANE - 3, st, X, stats));
    } else if (sec.kind === 'cpu') {
      const row = idx?.rt.cpus.get(sec.cpu);
      if (row) drawCpu(rp, row, y0 + 1, sec.h - 3, st, X, stats, t => names.get(t) ?? `thread ${t}`);
    } else if (sec.kind === 'counter') {
      drawCounter(ctx, st, sec, y0, X);
    } else if (sec.kind === 'tasks') {
      drawTasks(ctx, st, y0, X, labels, outlines);
    }
  }
  runs.flush(); blockRuns.flush(); hatchRuns.flush();
  fills.each((p, c) => { ctx.fillStyle = PALETTE[c]; p.fill(ctx); });
  marks.each((p, c) => { ctx.fillStyle = PALETTE[c]; ctx.fill(p); });
  markBars.each((p, c) => { ctx.fillStyle = PALETTE[c]; p.fill(ctx); });
  ctx.globalAlpha = 0.75;
  blockFills.each((p, c) => { ctx.fillStyle = PALETTE[c]; p.fill(ctx); });
  ctx.globalAlpha = 1;
  ctx.fillStyle = hatchPattern(ctx);
  hatchPath.fill(ctx);
  if (rp) paintRt(ctx, rp);
  ctx.fillStyle = '#fff';
  for (let k = 0; k < labels.length; k += 4) {
    const text = fitLabel(ctx, labels[k + 3], labels[k + 1]);
    if (text) ctx.fillText(text, Math.max(labels[k], GUTTER) + 4, labels[k + 2] + ROW / 2);
  }
  for (let k = 0; k < outlines.length; k += 5) { // search matches: yellow ring; selection: black
    const [x, y, w, hh] = [outlines[k], outlines[k + 1], outlines[k + 2], outlines[k + 3]];
    if (!outlines[k + 4]) { ctx.strokeStyle = '#ffd800'; ctx.lineWidth = 3; ctx.strokeRect(x, y, w, hh); }
    ctx.strokeStyle = '#111'; ctx.lineWidth = outlines[k + 4] ? 2 : 1;
    ctx.strokeRect(x, y, w, hh);
  }
  drawFlows(ctx, st, top, X);
  if (rp) {
    const yOf = (thread, kind) => subRowY(st, top, thread, kind);
    drawLockFlows(ctx, st, X, yOf, stats);
    drawRelease(ctx, st, X, yOf);
  }
  drawRange(ctx, st, X);
  drawGutter(ctx, st, top);
  drawRuler(ctx, st, npp, X);
  return stats;
}

function niceStep(npp) {
  const raw = npp * 110, p = 10 ** Math.floor(Math.log10(raw));
  return raw / p < 2 ? 2 * p : raw / p < 5 ? 5 * p : 10 * p;
}

function drawGrid(ctx, st, npp, X) {
  const step = niceStep(npp);
  ctx.strokeStyle = '#eef0f3';
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let t = Math.ceil(st.view.start / step) * step; t < st.view.end; t += step) {
    const x = Math.round(X(t)) + 0.5;
    ctx.moveTo(x, RULER); ctx.lineTo(x, st.H);
  }
  ctx.stroke();
  ctx.fillStyle = '#f6f7f9';
  for (const sec of st.lay.sections) {
    if (sec.kind !== 'thread') continue;
    const y = RULER - st.scrollY + sec.y;
    ctx.fillRect(GUTTER, y, st.W - GUTTER, LOGROW);
    ctx.fillRect(GUTTER, y + sec.h - 1, st.W - GUTTER, 1);
  }
}

function drawLogs(ctx, e, y0, view, X, marks, bars) {
  const blocks = new Rects(), runs = new Runs([blocks]);
  runs.row(y0 + 2, LOGROW - 3);
  for (const b of e.logBlocks) {
    if (b.s + b.d < view.start || b.s > view.end) continue;
    runs.add(0, X(b.s), Math.max(X(b.s + b.d) - X(b.s), 2));
  }
  runs.flush();
  ctx.fillStyle = '#7a6a9a';
  blocks.fill(ctx);
  // A triangle per log where they stand apart; where markers would sit closer than MARK_GAP px
  // (they are 7 px wide, so they would overlap into a band anyway) the run is one bar: a Path2D of
  // thousands of overlapping triangles costs Chromium's software rasterizer ~100 ms a frame.
  // A log of another colour within a pixel of the run joins it too, as a marker on the same pixel
  // column would be hidden anyway. fill() closes the triangles (closePath on a path of thousands
  // of subpaths is quadratic in Chromium).
  const MARK_GAP = 4;
  let runA = 0, runB = -Infinity, runC = -1, runN = 0;
  const endRun = () => {
    if (runN === 1) {
      const m = marks.get(runC);
      m.moveTo(runA - 3.5, y0 + 1); m.lineTo(runA + 3.5, y0 + 1); m.lineTo(runA, y0 + LOGROW - 1);
    } else if (runN > 1) {
      bars.get(runC).rect(Math.floor(runA - 3.5), y0 + 1, Math.ceil(runB - runA + 7), LOGROW - 2);
    }
    runN = 0;
  };
  for (const l of e.logs) {
    if (l.t < view.start || l.t > view.end) continue;
    const x = X(l.t), c = colourIndex(l.category || '');
    if (runN && x - runB < MARK_GAP && (c === runC || x - runB < 1)) { runB = x; runN++; continue; }
    endRun();
    runA = runB = x; runC = c; runN = 1;
  }
  endRun();
}

function drawCounter(ctx, st, sec, y0, X) {
  const c = st.idx?.data.counters?.find(k => k.name === sec.name);
  ctx.fillStyle = '#fafbfc';
  ctx.fillRect(GUTTER, y0, st.W - GUTTER, sec.h - 1);
  if (!c || !c.points.length) return;
  const span = (sec.max - sec.min) || 1, bottom = y0 + sec.h - 3, hgt = sec.h - 8;
  const Y = v => bottom - (v - sec.min) / span * hgt;
  const endX = Math.min(st.W, X(Math.min(st.idx.data.end, st.summary.end_ns)));
  ctx.strokeStyle = ctx.fillStyle = PALETTE[colourIndex(sec.name)];
  if (c.points.length > (st.W - GUTTER) / 3) return drawDenseCounter(ctx, st, c.points, X, Y, bottom, endX);
  const path = new Path2D();
  let x = Math.max(X(c.points[0][0]), GUTTER - 2), y = Y(c.points[0][1]);
  path.moveTo(x, bottom); path.lineTo(x, y);
  for (let k = 1; k < c.points.length; k++) {
    const nx = X(c.points[k][0]);
    if (nx > st.W + 2) break;
    path.lineTo(nx, y);
    y = Y(c.points[k][1]);
    path.lineTo(nx, y);
    x = nx;
  }
  path.lineTo(endX, y);
  ctx.lineWidth = 1.25;
  ctx.stroke(path);
  path.lineTo(endX, bottom);
  ctx.globalAlpha = 0.15; ctx.fill(path); ctx.globalAlpha = 1;
}

// A counter with more points than a third of the pixel columns, drawn a column at a time: the
// range of values the column holds as a 1 px bar, the area under its highest value beneath. A
// stroked path of thousands of segments costs Chromium's software rasterizer tens of ms a frame;
// two fillRects per column are blits, and at this density the step shape is below a pixel anyway.
function drawDenseCounter(ctx, st, points, X, Y, bottom, endX) {
  const x0 = GUTTER, cols = Math.max(0, Math.ceil(Math.min(st.W, endX)) - x0);
  const lo = new Float64Array(cols).fill(Infinity), hi = new Float64Array(cols).fill(-Infinity);
  for (let k = 0; k < points.length; k++) {
    const a = X(points[k][0]), b = k + 1 < points.length ? X(points[k + 1][0]) : endX;
    if (b < x0) continue;
    if (a >= x0 + cols) break;
    const v = points[k][1];
    const first = Math.max(0, Math.floor(a) - x0), last = Math.min(cols - 1, Math.max(first, Math.ceil(b) - 1 - x0));
    for (let i = first; i <= last; i++) {
      if (v < lo[i]) lo[i] = v;
      if (v > hi[i]) hi[i] = v;
    }
  }
  for (let i = 0; i < cols; i++) {
    if (hi[i] === -Infinity) continue;
    const top = Y(hi[i]);
    ctx.fillRect(x0 + i, top - 0.6, 1, Math.max(Y(lo[i]) - top + 1.2, 1.2));
  }
  ctx.globalAlpha = 0.15;
  for (let i = 0; i < cols; i++) if (hi[i] !== -Infinity) ctx.fillRect(x0 + i, Y(hi[i]), 1, bottom - Y(hi[i]));
  ctx.globalAlpha = 1;
}

function drawTasks(ctx, st, y0, X, labels, outlines) {
  if (!st.idx) return;
  const grey = new Rects(), runs = new Runs([grey]);
  runs.row(y0 + 3, LANE - 3);
  for (const b of st.idx.data.task_blocks || []) {
    if (b.s + b.d < st.view.start || b.s > st.view.end) continue;
    const x0 = Math.max(X(b.s), GUTTER - 2);
    runs.add(0, x0, Math.max(Math.min(X(b.s + b.d), st.W + 2) - x0, 1));
  }
  runs.flush();
  ctx.fillStyle = '#9aa3ad'; grey.fill(ctx);
  ctx.fillStyle = hatchPattern(ctx); grey.fill(ctx);
  // Finished tasks in PALETTE colours, unfinished ones (index + PALETTE.length) paler.
  const fills = new Paths(2 * PALETTE.length), taskRuns = new Runs(c => fills.get(c));
  st.idx.lanesOfTasks.forEach((lane, n) => {
    const y = y0 + 3 + n * LANE;
    taskRuns.row(y, LANE - 3);
    for (const t of lane) {
      if (t.e < st.view.start || t.s > st.view.end) continue;
      const x0 = Math.max(X(t.s), GUTTER - 2), w = Math.max(Math.min(X(t.e), st.W + 2) - x0, 1);
      taskRuns.add(colourIndex(t.type) + (t.unfinished ? PALETTE.length : 0), x0, w - (w > 4 ? 1 : 0));
      if (w > 50 && !t.overflow) labels.push(x0, w, y - 2.5, `${t.type} #${t.task}`);
      if (t.task === st.selTask) outlines.push(x0, y, w, LANE - 3, true);
    }
  });
  taskRuns.flush();
  fills.each((p, c) => {
    ctx.fillStyle = PALETTE[c % PALETTE.length];
    ctx.globalAlpha = c < PALETTE.length ? 0.8 : 0.45;
    p.fill(ctx);
  });
  ctx.globalAlpha = 1;
}

function threadRowY(st, top, thread) {
  const sec = st.lay.byThread.get(thread);
  return sec ? top + sec.y + LOGROW + ROW / 2 : null;
}

// thread index -> its name, for CPU rows; cached per summary.
const namesOf = new WeakMap();
function threadNames(summary) {
  let m = namesOf.get(summary);
  if (!m) {
    m = new Map(summary.threads.map(t => [t.thread, t.name || `thread ${t.thread}`]));
    namesOf.set(summary, m);
  }
  return m;
}

function drawFlows(ctx, st, top, X) {
  const task = st.selTask || st.focusTask;
  if (!task || !st.idx) return;
  ctx.strokeStyle = '#222'; ctx.fillStyle = '#222'; ctx.lineWidth = 1.2;
  for (const f of st.idx.data.flows || []) {
    if (!st.focusTask && f.task !== task) continue;
    const y1 = threadRowY(st, top, f.from_thread), y2 = threadRowY(st, top, f.to_thread);
    if (y1 === null || y2 === null) continue;
    const x1 = X(f.from_ns), x2 = X(f.to_ns), mx = (x1 + x2) / 2;
    ctx.beginPath(); ctx.moveTo(x1, y1); ctx.bezierCurveTo(mx, y1, mx, y2, x2, y2); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(x2, y2); ctx.lineTo(x2 - 6, y2 - 3.5); ctx.lineTo(x2 - 6, y2 + 3.5); ctx.fill();
  }
}

function drawRange(ctx, st, X) {
  if (!st.range) return;
  const a = X(st.range.start), b = X(st.range.end);
  ctx.fillStyle = 'rgba(40,110,220,0.12)';
  ctx.fillRect(a, RULER, b - a, st.H - RULER);
  ctx.strokeStyle = 'rgba(40,110,220,0.8)'; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(a + 0.5, RULER); ctx.lineTo(a + 0.5, st.H); ctx.moveTo(b - 0.5, RULER); ctx.lineTo(b - 0.5, st.H); ctx.stroke();
}

function drawGutter(ctx, st, top) {
  ctx.fillStyle = '#f3f4f6';
  ctx.fillRect(0, RULER, GUTTER, st.H - RULER);
  ctx.fillStyle = '#d5d9de';
  ctx.fillRect(GUTTER - 1, RULER, 1, st.H - RULER);
  ctx.save();
  ctx.beginPath(); ctx.rect(0, RULER, GUTTER - 1, st.H - RULER); ctx.clip();
  for (const sec of st.lay.sections) {
    const y = top + sec.y;
    if (y > st.H || y + sec.h < RULER) continue;
    ctx.fillStyle = '#e3e6ea'; ctx.fillRect(0, y + sec.h - 1, GUTTER, 1);
    ctx.fillStyle = '#1d2430';
    if (sec.kind === 'thread') {
      ctx.font = 'bold ' + FONT;
      ctx.fillText(fitLabel(ctx, sec.th.name || `thread ${sec.th.thread}`, GUTTER - 12) || '', 8, y + 12);
      ctx.font = FONT; ctx.fillStyle = '#69717d';
      ctx.fillText(sec.th.system ? 'recorder (system stream)' : `tid ${sec.th.tid}`, 8, y + 26);
      for (const r of sec.sub) if (r.y + r.h / 2 > 32) ctx.fillText(RT_LABELS[r.kind], GUTTER - 60, y + r.y + r.h / 2);
    } else if (sec.kind === 'lanes') {
      ctx.fillText('GC / allocator', 8, y + 10);
    } else if (sec.kind === 'cpu') {
      ctx.fillText(`CPU ${sec.cpu}`, 8, y + sec.h / 2);
    } else if (sec.kind === 'counter') {
      ctx.fillText(fitLabel(ctx, sec.name, GUTTER - 16) || '', 8, y + 10);
      ctx.fillStyle = '#69717d';
      ctx.fillText(`${sec.min} – ${sec.max}`, 8, y + 22);
    } else {
      ctx.fillText('Tasks', 8, y + 10);
    }
  }
  ctx.restore();
}

function drawRuler(ctx, st, npp, X) {
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, st.W, RULER);
  ctx.fillStyle = '#c9ced5'; ctx.fillRect(0, RULER - 1, st.W, 1);
  const step = niceStep(npp), span = st.view.end - st.view.start;
  ctx.fillStyle = '#3b4350'; ctx.strokeStyle = '#9aa1ab';
  ctx.beginPath();
  for (let t = Math.ceil(st.view.start / step) * step; t < st.view.end; t += step) {
    const x = Math.round(X(t)) + 0.5;
    ctx.moveTo(x, RULER - 7); ctx.lineTo(x, RULER - 1);
    const label = fmtTime(t, span);
    if (x + 3 + ctx.measureText(label).width < st.W) ctx.fillText(label, x + 3, 9);
  }
  ctx.stroke();
  if (st.range) {
    ctx.fillStyle = 'rgba(40,110,220,0.35)';
    ctx.fillRect(X(st.range.start), 0, X(st.range.end) - X(st.range.start), RULER - 1);
  }
  ctx.fillStyle = '#f5c400';
  for (const m of st.matchMarks || []) {
    if (m < st.view.start || m > st.view.end) continue;
    ctx.fillRect(X(m) - 1, RULER - 6, 2, 5);
  }
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, GUTTER - 1, RULER - 1);
  ctx.fillStyle = '#69717d';
  ctx.fillText(`${(span / 1e6).toPrecision(4)} ms shown`, 8, 12);
}

// What is under (x, y) (CSS pixels of the canvas): {kind, ...} or null.
export function hitTest(st, x, y) {
  if (y < RULER) return { kind: 'ruler' };
  if (x < GUTTER) return { kind: 'gutter' };
  const npp = (st.view.end - st.view.start) / (st.W - GUTTER);
  const t = st.view.start + (x - GUTTER) * npp, slack = 2 * npp;
  const cy = y - RULER + st.scrollY;
  const sec = st.lay.sections.find(s => cy >= s.y && cy < s.y + s.h);
  if (!sec || !st.idx) return null;
  const within = (s, e) => t >= s - slack && t <= e + slack;
  if (sec.kind === 'lanes' || sec.kind === 'cpu') return hitRt(st, sec, cy, t, slack);
  if (sec.kind === 'thread' && cy >= sec.y + LOGROW + sec.rows * ROW) return hitRt(st, sec, cy, t, slack);
  if (sec.kind === 'counter') {
    const c = st.idx.data.counters?.find(k => k.name === sec.name);
    let v = null;
    for (const p of c?.points || []) { if (p[0] > t) break; v = p[1]; }
    return v === null ? null : { kind: 'counter', name: sec.name, value: v, t };
  }
  if (sec.kind === 'tasks') {
    const lane = Math.floor((cy - sec.y - 3) / LANE);
    const task = st.idx.tasks.find(k => k.lane === lane && within(k.s, k.e));
    if (task) return { kind: 'task', task };
    const b = (st.idx.data.task_blocks || []).find(k => within(k.s, k.s + k.d));
    return b ? { kind: 'taskblock', block: b } : null;
  }
  const e = st.idx.threads.get(sec.th.thread);
  if (!e) return null;
  if (cy < sec.y + LOGROW) {
    let best = null;
    for (const l of e.logs) if (Math.abs(l.t - t) <= 4 * npp && (!best || Math.abs(l.t - t) < Math.abs(best.t - t))) best = l;
    if (best) return { kind: 'log', log: best, thread: sec.th };
    const b = e.logBlocks.find(k => within(k.s, k.s + k.d));
    return b ? { kind: 'logblock', block: b, thread: sec.th } : null;
  }
  const row = e.depths[Math.floor((cy - sec.y - LOGROW) / ROW)];
  if (!row) return null;
  const s = row.slices[firstEndingAfter(row.slices, t - slack)];
  if (s && within(s.s, s.s + s.d)) return { kind: 'slice', slice: s, thread: sec.th };
  const b = row.blocks[firstEndingAfter(row.blocks, t - slack)];
  if (b && within(b.s, b.s + b.d)) return { kind: 'block', block: b, thread: sec.th };
  return null;
}

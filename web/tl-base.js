// tl-base.js: what the timeline's drawing modules share (tl-draw.js for regions, tasks, counters
// and logs; tl-rt.js for the runtime rows): the geometry, and the helpers that keep a frame cheap:
// per-colour runs of pixel-snapped rectangles, a binary search by time, the hatch of merged blocks
// and label fitting with cached text widths.

export const GUTTER = 184, RULER = 24, ROW = 18, LOGROW = 10, COUNTER = 30, LANE = 14;
export const FONT = '11px system-ui, sans-serif';

// First index in arr (sorted by s, non-overlapping) whose end is after t.
export function firstEndingAfter(arr, t) {
  let lo = 0, hi = arr.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m].s + arr[m].d <= t) lo = m + 1; else hi = m; }
  return lo;
}

// Adds a row's rectangles to per-colour batches, snapped to whole pixels: touching rectangles of one
// colour merge into one run, and what falls in pixels already covered is skipped, so a row costs at
// most one rectangle per pixel column however many sub-pixel blocks the data holds.
export class Runs {
  // paths: an array of Rects by colour, or a function giving colour c's Rects
  constructor(paths) { this.pathOf = Array.isArray(paths) ? c => paths[c] : paths; this.c = -1; }
  row(y, h) { this.flush(); this.y = y; this.h = h; this.cover = -Infinity; }
  add(c, x0, w) {
    let a = Math.floor(x0);
    const b = Math.max(a + 1, Math.round(x0 + w));
    if (b <= this.cover) return;
    if (a < this.cover) a = this.cover;
    this.cover = b;
    if (c === this.c && a <= this.x1) { this.x1 = b; return; }
    this.flush();
    this.c = c; this.x0 = a; this.x1 = b;
  }
  flush() { if (this.c >= 0) this.pathOf(this.c).rect(this.x0, this.y, this.x1 - this.x0, this.h); this.c = -1; }
}

let hatch = null;
export function hatchPattern(ctx) {
  if (hatch) return hatch;
  const c = document.createElement('canvas');
  c.width = c.height = 6;
  const g = c.getContext('2d');
  g.strokeStyle = 'rgba(255,255,255,0.55)';
  g.lineWidth = 1.5;
  g.beginPath(); g.moveTo(0, 6); g.lineTo(6, 0); g.moveTo(-1, 1); g.lineTo(1, -1); g.moveTo(5, 7); g.lineTo(7, 5); g.stroke();
  hatch = ctx.createPattern(c, 'repeat');
  return hatch;
}

const textWidth = new Map();
export function fitLabel(ctx, text, w) {
  let full = textWidth.get(text);
  if (full === undefined) { full = ctx.measureText(text).width; textWidth.set(text, full); }
  if (full <= w) return text;
  const n = Math.floor(text.length * (w - 8) / full);
  return n >= 2 ? text.slice(0, n) + '…' : null;
}

// A batch of rectangles of one colour, painted one fillRect (or strokeRect) each. A Path2D of many
// rectangles would cost one call, but Chromium rasterizes it as a single general path (anti-aliased
// scan conversion of every edge), in software ~100 ms a frame at 1920 px with a few thousand
// rectangles; a fillRect of whole pixels is a plain blit.
export class Rects {
  constructor() { this.v = []; }
  rect(x, y, w, h) { this.v.push(x, y, w, h); }
  fill(ctx) { const v = this.v; for (let k = 0; k < v.length; k += 4) ctx.fillRect(v[k], v[k + 1], v[k + 2], v[k + 3]); }
  stroke(ctx) { const v = this.v; for (let k = 0; k < v.length; k += 4) ctx.strokeRect(v[k], v[k + 1], v[k + 2], v[k + 3]); }
}

// Batches by colour (Rects, or what `make` makes), made on first use: a frame makes only those it
// fills.
export class Paths {
  constructor(n, make = () => new Rects()) { this.p = new Array(n); this.make = make; }
  get(c) { return this.p[c] || (this.p[c] = this.make()); }
  // fill(ctx, c => style) for each path made
  each(fn) { for (let c = 0; c < this.p.length; c++) if (this.p[c]) fn(this.p[c], c); }
}

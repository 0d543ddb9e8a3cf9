// histo.js: a latency histogram on canvas (device-pixel-ratio aware). Buckets come from the API
// (log-scale, powers of √10 from 1 µs); bars are clickable and report the bucket they stand for.
import { h, fmtDur, fmtCount, sharpCanvas } from './util.js';

const H = 160, PAD_L = 44, PAD_B = 30, PAD_T = 10, BAR_W = 38, GAP = 4;

// buckets: [{lo_ns, hi_ns, count}]; onPick(bucket) on click. Returns a DOM element.
export function histogram(buckets, onPick, label) {
  const first = buckets.findIndex(b => b.count > 0);
  const shown = first < 0 ? [] : buckets.slice(Math.max(0, first - 1));
  const W = PAD_L + Math.max(shown.length, 8) * (BAR_W + GAP) + 10;
  const { canvas, g } = sharpCanvas('canvas.histo', { 'aria-label': label || 'latency histogram', role: 'img' }, W, H);
  const tip = h('div.histo-tip', { hidden: true });
  const max = Math.max(1, ...shown.map(b => b.count));
  const plotH = H - PAD_B - PAD_T;
  g.font = '10px system-ui, sans-serif';
  g.fillStyle = '#69717d'; g.strokeStyle = '#e3e6ea';
  g.textBaseline = 'middle';
  for (const f of [0, 0.5, 1]) {
    const y = PAD_T + plotH * (1 - f);
    g.beginPath(); g.moveTo(PAD_L - 3, y + 0.5); g.lineTo(W, y + 0.5); g.stroke();
    g.textAlign = 'right'; g.fillText(fmtCount(Math.round(max * f)), PAD_L - 6, y);
  }
  g.textAlign = 'center'; g.textBaseline = 'top';
  shown.forEach((b, k) => {
    const x = PAD_L + k * (BAR_W + GAP), bh = b.count ? Math.max(1, b.count / max * plotH) : 0;
    g.fillStyle = '#4e79a7';
    g.fillRect(x, PAD_T + plotH - bh, BAR_W, bh);
    if (k % 2 === 0 || BAR_W > 44) { g.fillStyle = '#3b4350'; g.fillText(fmtDur(b.lo_ns).replace(/\.0+ /, ' '), x + BAR_W / 2, H - PAD_B + 5); }
  });
  g.fillStyle = '#69717d'; g.textAlign = 'left';
  g.fillText('latency (log scale) →', PAD_L, H - 12);
  const at = e => {
    const r = canvas.getBoundingClientRect();
    const k = Math.floor((e.clientX - r.left - PAD_L) / (BAR_W + GAP));
    return k >= 0 && k < shown.length ? shown[k] : null;
  };
  canvas.addEventListener('mousemove', e => {
    const b = at(e);
    canvas.style.cursor = b?.count ? 'pointer' : 'default';
    tip.hidden = !b;
    if (b) {
      tip.textContent = `${fmtDur(b.lo_ns)} – ${fmtDur(b.hi_ns)}: ${fmtCount(b.count)}`;
      tip.style.left = `${e.clientX - canvas.getBoundingClientRect().left + 12}px`;
    }
  });
  canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
  canvas.addEventListener('click', e => { const b = at(e); if (b?.count) onPick(b); });
  const el = h('div.histo-box', {}, canvas, tip);
  el.bucketRects = shown.map((b, k) => ({ ...b, x: PAD_L + k * (BAR_W + GAP) + BAR_W / 2 })); // for tests
  return el;
}

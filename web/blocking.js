// blocking.js: the Blocking page (#/t/{id}/blocking), shown when the trace has runtime events: lock
// contention and I/O waits by call site, scheduler latency per thread, GC / allocator pauses with
// the minimum mutator utilization (MMU) curve, schedstat samples and lost scheduler records, all
// from /blocking (the numbers `weft stats` prints). Each row links to its worst instance on the
// timeline: the wait or pause selected, or the longest time the thread waited for a CPU.
import { h, api, fmtDur, fmtBytes, fmtCount, notice, table, sharpCanvas } from './util.js';
import { hashFor } from './app.js';

export function renderBlocking(root, ctx) {
  const { id } = ctx;
  const body = h('div.blocking', {}, notice('Loading…'));
  root.append(h('h1', {}, 'Blocking'), body);
  api(`/api/traces/${id}/blocking`).then(b => body.replaceChildren(...page(id, b)))
    .catch(e => body.replaceChildren(notice(`Cannot load the blocking profiles: ${e.message}`, 'error')));
  return { update: () => false };
}

const threadText = r => (r ? `${r.name || `thread ${r.thread}`} (tid ${r.tid})` : '-');
const num = (text, ns) => h('td.num', ns === undefined ? {} : { 'data-ns': ns }, text);
const dur = ns => num(fmtDur(ns), ns);

// A link to the timeline around [s, s + d), with a wait or pause selected.
function worstLink(id, w, wait) {
  if (!w) return h('td', {}, '-');
  const m = Math.max(w.d * 1.5, 20000);
  const href = hashFor(id, 'timeline', { start: Math.max(0, Math.round(w.s - m)), end: Math.round(w.s + w.d + m), wait });
  return h('td', {}, h('a.worst', { href }, `${fmtDur(w.d)} →`));
}

function section(title, cls, note, headers, rows) {
  if (!rows.length) return null;
  return h(`section.${cls}`, {}, h('h2', {}, title), note ? h('p.dim', {}, note) : null, table(headers, rows));
}

function page(id, b) {
  const out = [h('p.sched', {}, `Scheduling: ${b.sched_source_text}.`,
    b.lost.total ? h('span.warn', {}, ` ${fmtCount(b.lost.total)} scheduler records were lost (`,
      b.lost.threads.map(t => `${threadText(t.thread_ref)}: ${fmtCount(t.count)}`).join(', '),
      '); the state tracks are incomplete there.') : null)];
  const more = (n, total, what) => (total > n ? `${fmtCount(n)} of ${fmtCount(total)} ${what} shown, by total wait.` : null);
  out.push(section('Lock contention by call site', 'blocking-locks', more(b.locks.length, b.lock_sites, 'sites'),
    ['Site', 'Count', 'Total', 'Max', 'Top holder', 'Worst'],
    b.locks.map(r => h('tr', {}, h('td.site', { title: r.site_addr }, r.site), num(fmtCount(r.count)), dur(r.total_ns),
      dur(r.max_ns), h('td.holder', {}, threadText(r.top_holder), r.top_holder ? h('span.dim', {}, ` ${fmtDur(r.top_holder_ns)}`) : null),
      worstLink(id, r.worst, r.worst?.i)))));
  out.push(section('I/O waits by call site', 'blocking-io', more(b.io.length, b.io_sites, 'sites'),
    ['Site', 'Call', 'Count', 'Total', 'Max', 'Bytes', 'Worst'],
    b.io.map(r => h('tr', {}, h('td.site', { title: r.site_addr }, r.site), h('td.op', {}, r.op), num(fmtCount(r.count)),
      dur(r.total_ns), dur(r.max_ns), num(fmtBytes(r.bytes), r.bytes), worstLink(id, r.worst, r.worst?.i)))));
  if (b.unlisted) out.push(h('p.warn', {}, `${fmtCount(b.unlisted)} waits at sites past the first 65536 are in no row.`));
  const pct = d => [dur(d.p50_ns), dur(d.p90_ns), dur(d.p99_ns), dur(d.max_ns)];
  out.push(section('Scheduler latency', 'blocking-latency', 'From being preempted until running again.',
    ['Thread', 'Count', 'p50', 'p90', 'p99', 'Max', 'Worst'],
    b.latency.map(r => h('tr', {}, h('td', {}, threadText(r.thread_ref)), num(fmtCount(r.count)), ...pct(r), worstLink(id, r.worst)))));
  out.push(section('GC and allocator pauses', 'blocking-pauses', null,
    ['Kind', 'Count', 'Total', 'p50', 'p90', 'p99', 'Max', 'Worst'],
    b.pauses.map(r => h('tr', { 'data-kind': r.kind }, h('td', {}, r.kind), num(fmtCount(r.count)), dur(r.total_ns), ...pct(r),
      worstLink(id, r.worst, r.worst?.i)))));
  if (b.mmu) out.push(mmuSection(b.mmu));
  out.push(section('Schedstat (the last sample of each thread)', 'blocking-schedstat', null,
    ['Thread', 'On CPU', 'Run-queue wait', 'Timeslices'],
    b.schedstat.map(r => h('tr', {}, h('td', {}, threadText(r.thread_ref)), dur(r.on_cpu_ns), dur(r.runq_wait_ns),
      num(fmtCount(r.slices))))));
  if (out.filter(Boolean).length === 1) out.push(notice('This trace has no waits, pauses or scheduler latency.'));
  return out.filter(Boolean);
}

const pc = u => `${(100 * u).toFixed(1)} %`;

function mmuSection(mmu) {
  return h('section.blocking-mmu', {}, h('h2', {}, 'Minimum mutator utilization'),
    h('p.dim', {}, 'For each window length, the smallest share of any window of that length in which no GC or '
      + 'allocator pause was in progress (pauses of several threads count once).'),
    h('p.mmu-stats', {}, mmu.stats.map((p, k) => h('span.stat', { 'data-window': p.window_ns },
      `${k ? ', ' : ''}${fmtDur(p.window_ns)}: `, h('b', {}, pc(p.utilization))))),
    mmuChart(mergeWindows(mmu.curve, mmu.stats), mmu.stats));
}

// The curve through the marked windows too: the MMU is not monotonic, so a mark between two
// points of the curve need not lie on the line joining them.
function mergeWindows(curve, marks) {
  const lo = curve[0].window_ns, hi = curve[curve.length - 1].window_ns;
  const extra = marks.filter(p => p.window_ns > lo && p.window_ns < hi && !curve.some(c => c.window_ns === p.window_ns));
  return [...curve, ...extra].sort((a, b) => a.window_ns - b.window_ns);
}

const W = 640, H = 220, L = 46, R = 14, T = 10, B = 34;

// Utilization against window length, log-x, with the `weft stats` windows marked.
function mmuChart(curve, marks) {
  const { canvas, g } = sharpCanvas('canvas.mmu', { role: 'img', 'aria-label': 'MMU curve' }, W, H);
  const tip = h('div.histo-tip', { hidden: true });
  const lo = Math.log10(curve[0].window_ns), hi = Math.log10(Math.max(curve[curve.length - 1].window_ns, curve[0].window_ns * 10));
  const X = w => L + (Math.log10(w) - lo) / (hi - lo) * (W - L - R);
  const Y = u => T + (1 - u) * (H - T - B);
  g.font = '10px system-ui, sans-serif';
  g.strokeStyle = '#e3e6ea'; g.fillStyle = '#69717d';
  g.textAlign = 'right'; g.textBaseline = 'middle';
  for (const u of [0, 0.25, 0.5, 0.75, 1]) {
    g.beginPath(); g.moveTo(L, Y(u) + 0.5); g.lineTo(W - R, Y(u) + 0.5); g.stroke();
    g.fillText(`${u * 100} %`, L - 5, Y(u));
  }
  g.textAlign = 'center'; g.textBaseline = 'top';
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) {
    const x = X(10 ** e);
    g.beginPath(); g.moveTo(x + 0.5, T); g.lineTo(x + 0.5, H - B); g.stroke();
    g.fillText(fmtDur(10 ** e).replace(/\.0+ /, ' '), x, H - B + 4);
  }
  g.fillText('window length (log scale) →', (L + W - R) / 2, H - 13);
  g.strokeStyle = '#5f3dc4'; g.lineWidth = 1.75;
  g.beginPath();
  curve.forEach((p, k) => (k ? g.lineTo : g.moveTo).call(g, X(p.window_ns), Y(p.utilization)));
  g.stroke();
  g.fillStyle = '#5f3dc4';
  for (const p of marks) {
    if (p.window_ns < curve[0].window_ns || p.window_ns > curve[curve.length - 1].window_ns) continue;
    g.beginPath(); g.arc(X(p.window_ns), Y(p.utilization), 3.5, 0, 2 * Math.PI); g.fill();
  }
  canvas.addEventListener('mousemove', e => {
    const x = e.clientX - canvas.getBoundingClientRect().left;
    let best = curve[0];
    for (const p of curve) if (Math.abs(X(p.window_ns) - x) < Math.abs(X(best.window_ns) - x)) best = p;
    tip.hidden = false;
    tip.textContent = `${fmtDur(best.window_ns)} windows: ${pc(best.utilization)}`;
    tip.style.left = `${x + 12}px`;
  });
  canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
  const box = h('div.histo-box', {}, canvas, tip);
  box.points = curve.map(p => ({ ...p, x: X(p.window_ns), y: Y(p.utilization) })); // for tests
  return box;
}

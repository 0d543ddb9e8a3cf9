// latency.js: the Tasks and Regions pages (#/t/{id}/tasks, #/t/{id}/regions). Per type: count and
// p50/p90/p99/max latency with a log-scale histogram; a bucket opens the list of its tasks (or
// region slices) (?type=&latmin=&latmax=), and a row opens the timeline focused on it.
import { h, api, qs, fmtDur, fmtTime, fmtCount, notice, table } from './util.js';
import { histogram } from './histo.js';
import { hashFor } from './app.js';

export function renderLatency(root, ctx, kind) {
  const { id, params, summary } = ctx;
  const threadName = new Map(summary.threads.map(t => [t.thread, t.name || `thread ${t.thread}`]));
  const isTasks = kind === 'tasks';
  const noun = isTasks ? 'task' : 'region';
  const overview = h('div.latency', {}, notice('Loading…'));
  const list = h('div.latency-list');
  root.append(h('h1', {}, isTasks ? 'Tasks' : 'Regions'), overview, list);

  api(`/api/traces/${id}/${kind}`).then(r => {
    if (!r.types.length) { overview.replaceChildren(notice(`This trace has no ${noun}s.`)); return; }
    overview.replaceChildren(...r.types.map(ty => h('section.type-card', { 'data-type': ty.type },
      h('h2', {}, ty.type),
      h('div.stats', {},
        stat('count', fmtCount(ty.count)),
        ty.unfinished ? stat('unfinished', fmtCount(ty.unfinished)) : null,
        stat('p50', fmtDur(ty.p50_ns)), stat('p90', fmtDur(ty.p90_ns)),
        stat('p99', fmtDur(ty.p99_ns)), stat('max', fmtDur(ty.max_ns)),
        h('a', { href: hashFor(id, kind, { type: ty.type }) }, `all ${fmtCount(ty.count)} →`)),
      histogram(ty.histogram, b => ctx.navigate({ type: ty.type, latmin: b.lo_ns, latmax: b.hi_ns }),
        `${ty.type} latency histogram`))));
  }).catch(e => overview.replaceChildren(notice(`Cannot load ${kind}: ${e.message}`, 'error')));

  if (params.type) showList();

  async function showList() {
    const { type, latmin, latmax } = params;
    const range = latmin || latmax ? ` with latency in [${latmin ? fmtDur(+latmin) : '0'}, ${latmax ? fmtDur(+latmax) : '∞'})` : '';
    list.replaceChildren(h('h2', {}, `${type}${range}`), notice('Loading…'));
    try {
      const r = await api(`/api/traces/${id}/${kind}${qs({ type, latmin, latmax, limit: 1000 })}`);
      const rows = isTasks ? r.tasks : r.slices;
      const shown = r.total > rows.length ? `, slowest ${fmtCount(rows.length)} shown` : '';
      list.replaceChildren(h('h2', {}, `${type}${range}: ${fmtCount(r.total)} ${noun}s${shown}`),
        rows.length ? table(isTasks ? ['Task', 'Latency', 'Start', 'Threads'] : ['Slice', 'Duration', 'Start', 'Thread', 'Task'],
          rows.map(x => isTasks ? taskRow(x) : regionRow(x))) : notice('None.'));
      list.scrollIntoView({ block: 'start' });
    } catch (e) {
      list.replaceChildren(notice(e.message, 'error'));
    }
  }

  function taskRow(k) {
    const m = Math.max((k.e - k.s) * 0.05, 1000);
    const href = hashFor(id, 'timeline', { start: Math.max(0, Math.round(k.s - m)), end: Math.round(k.e + m), task: k.task });
    return h('tr', {}, h('td', {}, h('a', { href }, `#${k.task}`)),
      h('td.num', {}, fmtDur(k.latency_ns), k.unfinished ? ' (did not end)' : ''),
      h('td.num', {}, fmtTime(k.s, 1e6)), h('td', {}, (k.threads || []).map(t => threadName.get(t) ?? t).join(', ')));
  }
  function regionRow(s) {
    const m = Math.max(s.d, 1000);
    const href = hashFor(id, 'timeline', { start: Math.max(0, Math.round(s.s - m)), end: Math.round(s.s + s.d + m), sel: s.i });
    return h('tr', {}, h('td', {}, h('a', { href }, `slice ${s.i}`)), h('td.num', {}, fmtDur(s.d)),
      h('td.num', {}, fmtTime(s.s, 1e6)), h('td', {}, threadName.get(s.thread) ?? String(s.thread)), h('td', {}, s.task ? `#${s.task}` : '-'));
  }
  return { update: () => false };
}

const stat = (k, v) => h('span.stat', {}, h('span.k', {}, k), h('span.v', {}, v));

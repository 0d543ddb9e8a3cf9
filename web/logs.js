// logs.js: the Logs page (#/t/{id}/logs?category=&task=&text=): the trace's log events in a table,
// filterable by category, task and text, paged by 200; each row links to its place on the timeline.
import { h, api, qs, fmtTime, fmtCount, notice, table } from './util.js';
import { hashFor, replaceHash } from './app.js';

const PAGE = 200;

export function renderLogs(root, ctx) {
  const { id, summary, params } = ctx;
  const tid = new Map(summary.threads.map(t => [t.thread, t]));
  const cat = h('select', { 'aria-label': 'category' }, h('option', { value: '' }, 'all categories'),
    (summary.log_categories || []).map(c => h('option', { value: c.category, selected: c.category === params.category },
      `${c.category} (${fmtCount(c.count)})`)));
  const task = h('input', { type: 'text', inputmode: 'numeric', placeholder: 'task id', value: params.task || '', 'aria-label': 'task', size: 8 });
  const text = h('input', { type: 'search', placeholder: 'text', value: params.text || '', 'aria-label': 'text' });
  const out = h('div');
  let offset = 0;
  const apply = () => { offset = 0; load(); };
  root.append(h('h1', {}, 'Logs'),
    h('form.filters', { onsubmit: e => { e.preventDefault(); apply(); } }, cat, task, text,
      h('button', { type: 'submit' }, 'Filter')), out);
  cat.addEventListener('change', apply);

  async function load() {
    const f = { category: cat.value, task: task.value.trim(), text: text.value };
    if (f.task && !/^\d+$/.test(f.task)) { out.replaceChildren(notice('The task must be a number.', 'error')); return; }
    replaceHash(hashFor(id, 'logs', f));
    out.replaceChildren(notice('Loading…'));
    try {
      const r = await api(`/api/traces/${id}/logs${qs({ ...f, offset, limit: PAGE })}`);
      const nav = h('div.pager', {},
        `${fmtCount(r.total)} logs` + (r.total ? `, ${fmtCount(offset + 1)}–${fmtCount(offset + r.logs.length)} shown ` : ''),
        offset > 0 ? h('button', { type: 'button', onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, '← previous') : null,
        offset + r.logs.length < r.total ? h('button', { type: 'button', onclick: () => { offset += PAGE; load(); } }, 'next →') : null);
      out.replaceChildren(nav, r.logs.length ? table(['Time', 'Thread', 'Task', 'Category', 'Message'], r.logs.map(l => {
        const th = tid.get(l.thread);
        const href = hashFor(id, 'timeline', { start: Math.max(0, l.t - 1e6), end: l.t + 1e6, task: undefined });
        return h('tr', {}, h('td.num', {}, h('a', { href }, fmtTime(l.t, 1e6))),
          h('td', {}, th ? `${th.name} (${th.tid})` : String(l.thread)),
          h('td', {}, l.task ? h('a', { href: hashFor(id, 'logs', { task: l.task }) }, `#${l.task}`) : '-'),
          h('td', {}, l.category), h('td.msg', {}, l.message));
      })) : notice('No logs match.'));
    } catch (e) {
      out.replaceChildren(notice(e.message, 'error'));
    }
  }
  load();
  return { update: () => false };
}

// tl-panels.js: the timeline's side panels. Slice details (/slice: name, thread, times, self time,
// flags, task, parent/children, the task's logs), a task's summary, the range table aggregated by
// name (/aggregate) and the search results (/search). Each panel calls back into timeline.js
// through `handlers` (select, focusTask, task, gotoTime, close). The panels of runtime events are
// tl-rt-panels.js's, built with the helpers exported here.
import { h, api, qs, fmtDur, fmtTime, fmtCount, notice, table } from './util.js';

const FLAGS = [[1, 'did not end'], [2, 'end lost in a drop'], [4, 'ended with an outer region']];

export function frame(panel, kind, title, handlers, ...body) {
  panel.hidden = false;
  panel.dataset.kind = kind;
  panel.replaceChildren(
    h('header', {}, h('h2', {}, title),
      h('button.close', { type: 'button', title: 'Close', 'aria-label': 'close', onclick: () => handlers.close(kind) }, '×')),
    ...body);
}

export const kv = rows => h('dl.kv', {}, rows.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
export const link = (text, onclick) => h('a', { href: '#', onclick: e => { e.preventDefault(); onclick(); } }, text);
export const timeLink = (t, handlers) => link(fmtTime(t, 1e6), () => handlers.gotoTime(t));

let sliceSeq = 0;
// Fills the panel with slice i's details; resolves to the /slice answer (or null).
export async function showSlice(panel, id, i, handlers) {
  const seq = ++sliceSeq;
  frame(panel, 'slice', 'Slice', handlers, notice('Loading…'));
  let s;
  try {
    s = await api(`/api/traces/${id}/slice${qs({ i })}`);
  } catch (e) {
    if (seq === sliceSeq) frame(panel, 'slice', 'Slice', handlers, notice(e.message, 'error'));
    return null;
  }
  if (seq !== sliceSeq) return null;
  const flags = FLAGS.filter(([bit]) => s.flags & bit).map(([, text]) => text).join(', ');
  const task = s.task ? h('span', {}, `${s.task_type || 'task'} #${s.task} `,
    h('button', { type: 'button', onclick: () => handlers.focusTask(s.task) }, 'Focus task')) : 'background (task 0)';
  frame(panel, 'slice', s.name, handlers,
    kv([
      ['Name', h('span.slice-name', {}, s.name)],
      ['Duration', h('span.slice-dur', {}, fmtDur(s.d))],
      ['Self time', fmtDur(s.self_ns)],
      ['Start', timeLink(s.s, handlers)],
      ['Thread', `${s.thread} (tid ${s.tid})`],
      ['Depth', String(s.depth)],
      ['Task', task],
      s.task_span && ['Task span', `${fmtDur(s.task_span.e - s.task_span.s)} from ${fmtTime(s.task_span.s, 1e6)}`],
      flags && ['Flags', h('span.warn', {}, flags)],
      s.parent && ['Parent', link(s.parent.name, () => handlers.select(s.parent.i))],
    ]),
    s.children?.length ? h('div', {}, h('h3', {}, `Children (${s.children.length})`),
      h('ul.plain', {}, s.children.slice(0, 200).map(c => h('li', {}, link(c.name, () => handlers.select(c.i, c)), ` ${fmtDur(c.d)}`)))) : null,
    h('h3', {}, s.task ? `Logs of task ${s.task} (${s.logs.length})` : `Logs in this slice (${s.logs.length})`),
    s.logs.length ? logList(s.logs, handlers) : notice('none', 'dim'));
  return s;
}

function logList(logs, handlers) {
  return h('ul.logs', {}, logs.map(l => h('li', {}, timeLink(l.t, handlers), ' ',
    h('span.cat', {}, l.category), ' ', l.message)));
}

// A task clicked in the task lane: what the window answer knows about it.
export function showTask(panel, task, handlers) {
  frame(panel, 'slice', `Task #${task.task}`, handlers, kv([
    task.type && ['Type', task.type],
    task.s !== undefined && ['Latency', fmtDur(task.e - task.s) + (task.unfinished ? ' (did not end)' : '')],
    task.s !== undefined && ['Start', timeLink(task.s, handlers)],
    task.parent ? ['Parent task', `#${task.parent}`] : null,
  ]), h('button', { type: 'button', onclick: () => handlers.focusTask(task.task) }, 'Focus on this task'));
}

let aggSeq = 0;
export async function showAggregate(panel, id, range, threads, handlers) {
  const seq = ++aggSeq;
  const title = `Range ${fmtDur(range.end - range.start)}`;
  frame(panel, 'range', title, handlers, notice('Loading…'));
  try {
    const r = await api(`/api/traces/${id}/aggregate${qs({ start: Math.floor(range.start), end: Math.ceil(range.end), threads })}`);
    if (seq !== aggSeq) return;
    frame(panel, 'range', title, handlers,
      h('p.dim', {}, `${fmtTime(r.start, r.end - r.start)} – ${fmtTime(r.end, r.end - r.start)}, durations clipped to the range`),
      r.rows.length ? table(['Name', 'Count', 'Total', 'Average', 'Max'], r.rows.map(x => h('tr', {},
        h('td', {}, link(x.name, () => handlers.select(x.max_i))),
        h('td.num', {}, fmtCount(x.count)), h('td.num', {}, fmtDur(x.total_ns)),
        h('td.num', {}, fmtDur(x.avg_ns)), h('td.num', {}, fmtDur(x.max_ns))))) : notice('No slices in this range.'));
  } catch (e) {
    if (seq === aggSeq) frame(panel, 'range', title, handlers, notice(e.message, 'error'));
  }
}

let searchSeq = 0;
// Resolves to the /search answer (or null) after listing it in the panel.
export async function showSearch(panel, id, q, handlers) {
  const seq = ++searchSeq;
  frame(panel, 'search', `Search “${q}”`, handlers, notice('Searching…'));
  let r;
  try {
    r = await api(`/api/traces/${id}/search${qs({ q, limit: 1000 })}`);
  } catch (e) {
    if (seq === searchSeq) frame(panel, 'search', `Search “${q}”`, handlers, notice(e.message, 'error'));
    return null;
  }
  if (seq !== searchSeq) return null;
  const more = (shown, total) => (total > shown ? ` (first ${fmtCount(shown)})` : '');
  frame(panel, 'search', `Search “${q}”`, handlers,
    h('h3', {}, `${fmtCount(r.total_slices)} slices${more(r.slices.length, r.total_slices)}`),
    h('ul.plain.results', {}, r.slices.slice(0, 300).map(s => h('li', {},
      link(s.name, () => handlers.select(s.i, s)), ` ${fmtDur(s.d)} at ${fmtTime(s.s, 1e6)}`))),
    h('h3', {}, `${fmtCount(r.total_logs)} logs${more(r.logs.length, r.total_logs)}`),
    h('ul.plain.results', {}, r.logs.slice(0, 300).map(l => h('li', {},
      timeLink(l.t, handlers), ' ', l.message))));
  return r;
}

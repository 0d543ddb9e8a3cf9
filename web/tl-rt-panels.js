// tl-rt-panels.js: the details panels of the runtime rows. A state span (state, reason, duration,
// CPU) and a CPU span come from the /window answer itself; a wait, pause or uv phase is fetched
// from /wait for its symbolized call site, the threads' names and, for a lock wait, where its
// holder was when it released the lock. They share the slice panel (one selection at a time).
import { h, api, qs, fmtDur, fmtBytes, notice } from './util.js';
import { frame, kv, link, timeLink } from './tl-panels.js';
import { stateKey, stateLabel, itemTitle } from './tl-rt.js';

const threadText = r => (r ? `${r.name || `thread ${r.thread}`} (tid ${r.tid})` : 'unknown');

export function showState(panel, span, thread, handlers) {
  const why = { preempted: 'preempted: still runnable, waiting for a CPU', starting: 'created, not started yet' };
  frame(panel, 'slice', stateLabel(stateKey(span)), handlers, kv([
    ['State', h('span.state-name', {}, span.state)],
    span.reason && ['Reason', h('span.state-reason', {}, span.reason === 'blocked' ? 'not in a recorded wait' : span.reason)],
    span.why && ['Why', why[span.why] || span.why],
    ['Duration', h('span.slice-dur', {}, fmtDur(span.d) + (span.open ? ' (still going at the end)' : ''))],
    ['Start', timeLink(span.s, handlers)],
    span.cpu !== undefined && [span.state === 'running' ? 'CPU' : 'Left CPU', h('span.state-cpu', {}, String(span.cpu))],
    ['Thread', threadText(thread)],
  ]));
}

export function showCpuSpan(panel, span, cpu, summary, handlers) {
  const th = summary.threads.find(t => t.thread === span.thread);
  frame(panel, 'slice', `CPU ${cpu}`, handlers, kv([
    ['Thread', threadText(th)],
    ['Duration', h('span.slice-dur', {}, fmtDur(span.d) + (span.open ? ' (still going at the end)' : ''))],
    ['Start', timeLink(span.s, handlers)],
  ]));
}

let seq = 0;
// Fills the panel with item i's details; resolves to the /wait answer (or null).
export async function showWait(panel, id, i, handlers) {
  const mine = ++seq;
  frame(panel, 'slice', 'Wait', handlers, notice('Loading…'));
  let w;
  try {
    w = await api(`/api/traces/${id}/wait${qs({ i })}`);
  } catch (e) {
    if (mine === seq) frame(panel, 'slice', 'Wait', handlers, notice(e.message, 'error'));
    return null;
  }
  if (mine !== seq) return null;
  const holder = w.kind === 'lock' && (w.holder_ref
    ? h('span.wait-holder', {}, threadText(w.holder_ref), w.release_ns !== undefined
      ? [' · ', link('select its release', () => handlers.showRelease(w.holder, w.release_ns))] : null)
    : h('span.wait-holder', {}, 'unknown'));
  frame(panel, 'slice', itemTitle(w), handlers,
    kv([
      ['Kind', h('span.wait-kind', {}, w.kind)],
      ['Call', h('span.wait-name', {}, w.name)],
      ['Duration', h('span.slice-dur', {}, fmtDur(w.d) + (w.open ? ' (did not end)' : ''))],
      ['Start', timeLink(w.s, handlers)],
      ['Thread', threadText(w.thread_ref)],
      w.lock && ['Lock', h('code.wait-lock', {}, w.lock)],
      holder && ['Holder', holder],
      w.release_ns !== undefined && ['Released at', timeLink(w.release_ns, handlers)],
      w.holder_slice && ['Holder was in', link(w.holder_slice.name, () => handlers.select(w.holder_slice.i, w.holder_slice))],
      w.fd !== undefined && ['fd', String(w.fd)],
      w.kind === 'io' && ['Result', w.bytes !== undefined ? `${fmtBytes(w.bytes)} (${w.result})` : String(w.result)],
      w.size !== undefined && ['Size', fmtBytes(w.size)],
      w.loop && ['Loop', h('code', {}, w.loop)],
      w.site && ['Site', h('span.wait-site', { title: w.site_addr }, w.site)],
      w.full_d !== undefined && ['Drawn', 'from when its lane was free (all lanes busy at its start)'],
    ]));
  return w;
}

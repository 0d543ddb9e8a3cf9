// traces.js: the list of traces (#/). Shows each trace's name, program, recording time, duration,
// events, size, drops and status, and uploads a .weft file dropped on the page (or chosen with the
// button) with POST /api/traces; the size is checked here first (the server checks it too).
import { h, api, fmtDur, fmtBytes, fmtCount, notice, table } from './util.js';

export const MAX_UPLOAD = 256 * 1024 * 1024; // the server's default --max-upload

export function renderTraces(root) {
  const status = h('p.upload-status', { 'aria-live': 'polite' });
  const body = h('div', {}, notice('Loading traces…'));
  const input = h('input', { type: 'file', accept: '.weft', hidden: true, onchange: () => { if (input.files[0]) upload(input.files[0]); } });
  root.append(
    h('section.traces', {},
      h('div.row', {}, h('h1', {}, 'Traces'),
        h('button', { type: 'button', onclick: () => input.click() }, 'Open a .weft file…'), input),
      h('p.hint', {}, 'Drop a .weft file anywhere on this page to add it.'),
      status, body));

  let traces = [];
  let fresh = null;
  const draw = () => {
    if (!traces.length) { body.replaceChildren(notice('No traces yet: drop a .weft file here.')); return; }
    body.replaceChildren(table(
      ['Name', 'Program', 'Recorded at', 'Duration', 'Events', 'Size', 'Dropped', 'Status'],
      traces.map(t => h('tr', { class: t.id === fresh ? 'fresh' : '', 'data-id': t.id },
        h('td', {}, h('a', { href: `#/t/${t.id}/timeline` }, t.name)),
        h('td', {}, t.program, t.pid ? h('span.dim', {}, ` (pid ${t.pid})`) : ''),
        h('td', {}, fmtRecorded(t.recorded_at)),
        h('td.num', {}, fmtDur(t.duration_ns)),
        h('td.num', {}, fmtCount(t.events)),
        h('td.num', {}, fmtBytes(t.size_bytes)),
        h('td.num', { class: t.dropped ? 'num warn' : 'num' }, fmtCount(t.dropped)),
        h('td', { class: `status-${t.status}`, title: t.message || '' },
          t.status, t.complete ? '' : ' (incomplete)', t.message ? h('span.dim', {}, ` ${t.message}`) : '')))));
  };

  api('/api/traces').then(r => { traces = r.traces; draw(); })
    .catch(e => body.replaceChildren(notice(`Cannot list traces: ${e.message}`, 'error')));

  async function upload(file) {
    if (file.size > MAX_UPLOAD) {
      status.className = 'upload-status error';
      status.textContent = `${file.name} is ${fmtBytes(file.size)}: larger than the ${fmtBytes(MAX_UPLOAD)} upload limit. `
        + 'Start weft serve with that file on its command line instead.';
      return;
    }
    status.className = 'upload-status';
    status.textContent = `Uploading ${file.name} (${fmtBytes(file.size)})…`;
    try {
      const t = await api('/api/traces', {
        method: 'POST', body: file,
        headers: { 'Content-Type': 'application/octet-stream', 'X-Weft-Name': /^[\x20-\x7e]*$/.test(file.name) ? file.name : encodeURIComponent(file.name) },
      });
      traces = traces.filter(x => x.id !== t.id).concat([t]);
      fresh = t.id;
      status.textContent = `Added ${t.name}.`;
      draw();
    } catch (e) {
      status.className = 'upload-status error';
      status.textContent = `Upload of ${file.name} failed: ${e.message}`;
    }
  }

  const over = e => { e.preventDefault(); document.body.classList.add('dragging'); };
  const leave = () => document.body.classList.remove('dragging');
  const drop = e => { e.preventDefault(); leave(); const f = e.dataTransfer?.files?.[0]; if (f) upload(f); };
  window.addEventListener('dragover', over);
  window.addEventListener('dragleave', leave);
  window.addEventListener('drop', drop);
  return {
    dispose() {
      window.removeEventListener('dragover', over);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
      leave();
    },
  };
}

function fmtRecorded(iso) {
  if (!iso) return '-';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

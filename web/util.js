// util.js: small helpers shared by every view: DOM building (h), number/time/size formatting,
// the JSON API client (api) and colours derived from names.

// h('div.cls', {attr: v, onclick: f}, child...) builds an element; strings become text nodes.
export function h(tag, attrs, ...kids) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k in el && k !== 'list' && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

// Durations in ns: "812 ns", "12.3 µs", "4.56 ms", "1.234 s".
export function fmtDur(ns) {
  if (ns === null || ns === undefined || !isFinite(ns)) return '-';
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)} ns`;
  if (a < 1e6) return `${prec(ns / 1e3)} µs`;
  if (a < 1e9) return `${prec(ns / 1e6)} ms`;
  return `${(ns / 1e9).toFixed(a < 1e10 ? 3 : 2)} s`;
}
function prec(v) { const a = Math.abs(v); return v.toFixed(a < 10 ? 2 : a < 100 ? 1 : 0); }

// A point in time (ns since the recording started), precise enough for the zoom level `span`.
export function fmtTime(ns, span) {
  if (span === undefined || span >= 1e8) return `${(ns / 1e9).toFixed(3)} s`;
  if (span >= 1e5) return `${(ns / 1e6).toFixed(span >= 1e7 ? 1 : 3)} ms`;
  return `${(ns / 1e6).toFixed(6)} ms`;
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export const fmtCount = n => (n ?? 0).toLocaleString('en-US');

export class ApiError extends Error {}

// GET (or other method) a JSON endpoint; throws ApiError with the server's one-line message.
export async function api(path, opts = {}) {
  const r = await fetch(path, opts);
  let body = null;
  try { body = await r.json(); } catch { /* a non-JSON answer is reported below */ }
  if (!r.ok) throw new ApiError(body?.error || `${r.status} ${r.statusText}`);
  if (body === null) throw new ApiError(`${path}: answer is not JSON`);
  return body;
}

// Query string from an object, skipping empty values.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : '';
}

// Stable colour of a name: one of a fixed palette, so canvases can batch fills by colour.
export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1',
  '#ff9da7', '#9c755f', '#7f9fd1', '#d37295', '#8cd17d', '#b6992d', '#499894', '#e49444', '#86bcb6'];
const colourCache = new Map();
export function colourIndex(name) {
  let c = colourCache.get(name);
  if (c === undefined) {
    let x = 2166136261;
    for (let i = 0; i < name.length; i++) x = Math.imul(x ^ name.charCodeAt(i), 16777619);
    c = (x >>> 0) % PALETTE.length;
    colourCache.set(name, c);
  }
  return c;
}
export const colourOf = name => PALETTE[colourIndex(name)];

// Error or empty-state line shown in place of a view.
export const notice = (text, cls = 'notice') => h(`p.${cls}`, {}, text);

export function table(headers, rows) {
  return h('table', {}, h('thead', {}, h('tr', {}, headers.map(x => h('th', {}, x)))), h('tbody', {}, rows));
}

// A canvas of w x h CSS pixels drawn at the device's pixel ratio; returns it and its context.
export function sharpCanvas(tag, attrs, w, hgt) {
  const canvas = h(tag, attrs);
  const dpr = window.devicePixelRatio || 1;
  canvas.width = w * dpr; canvas.height = hgt * dpr;
  canvas.style.width = `${w}px`; canvas.style.height = `${hgt}px`;
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { canvas, g };
}

// The signalbus web console: one stream of snapshots from the gateway (GET /v1/console/stream),
// drawn with the DOM and hand-made SVG. No dependencies, no build step. Data is only ever put in
// the page as text (textContent), never as markup.

const TOKEN_KEY = 'signalbus.console.token';
const RETRY_MS = 2000;
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
let latest = null;
let latestAt = 0;
let stream = null;

/** A JWT (three dot-separated parts) goes as a bearer token, anything else as an API key. */
const authHeaders = () => (!token ? {} : token.split('.').length === 3 ? { authorization: `Bearer ${token}` } : { 'x-api-key': token });

function setStatus(text, kind) {
  const s = $('status');
  s.textContent = text;
  s.className = `status ${kind ?? ''}`;
}

/** Asks the gateway whether our credentials pass, then streams or shows the token form. */
async function start() {
  let session;
  try {
    const res = await fetch('/v1/console/session', { headers: authHeaders(), cache: 'no-store' });
    session = await res.json();
    if (!res.ok) throw new Error(session.detail ?? `HTTP ${res.status}`);
  } catch (err) {
    setStatus(`gateway unreachable (${err.message}), retrying`, 'down');
    setTimeout(start, RETRY_MS);
    return;
  }
  if (!session.authenticated) { askForToken(token ? session.detail : ''); return; }
  $('token-form').hidden = true;
  $('console').hidden = false;
  $('sign-out').hidden = !token;
  const tenant = $('tenant');
  tenant.hidden = session.tenant === null;
  tenant.textContent = session.tenant === null ? '' : `tenant ${session.tenant}`;
  connect();
}

function askForToken(problem) {
  stream?.abort();
  $('console').hidden = true;
  $('token-form').hidden = false;
  $('token-problem').textContent = problem ?? '';
  setStatus('needs a token', 'down');
  $('token').focus();
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $('token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
});
$('sign-out').addEventListener('click', () => {
  token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  askForToken('');
});

/** Reads the console stream with fetch (an EventSource cannot send the Authorization header). */
async function connect() {
  stream?.abort();
  const abort = new AbortController();
  stream = abort;
  try {
    const res = await fetch('/v1/console/stream', { headers: authHeaders(), signal: abort.signal, cache: 'no-store' });
    if (res.status === 401 || res.status === 403) { askForToken((await res.json()).detail); return; }
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    setStatus('live', 'live');
    await readEvents(res.body, (event, data) => { if (event === 'snapshot') render(JSON.parse(data)); });
    throw new Error('stream ended');
  } catch (err) {
    if (abort.signal.aborted) return;
    setStatus(`disconnected (${err.message}), reconnecting`, 'down');
    setTimeout(() => { if (stream === abort) start(); }, RETRY_MS);
  }
}

/**
 * Server-Sent Events from a byte stream: `event:`, `data:` (joined by newlines) and `id:` lines,
 * a blank line ends an event. The gateway's older frames named the subject in a `subject:` line
 * instead of `event:`; both are read.
 */
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      let event = 'message';
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event' || field === 'subject') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) onEvent(event, data.join('\n'));
    }
  }
}

// ------------------------------------------------------------------ drawing

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function fillRows(tbody, rows, cells) {
  const frag = document.createDocumentFragment();
  for (const row of rows) {
    const tr = el('tr');
    for (const c of cells(row)) tr.append(c instanceof Node ? c : el('td', c));
    frag.append(tr);
  }
  tbody.replaceChildren(frag);
}

const rate = (n) => (n >= 100 ? Math.round(n).toLocaleString() : n.toFixed(1));
const clock = (ms) => new Date(ms).toLocaleTimeString();
function ago(ms, now) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s ago` : clock(ms);
}

function render(snap) {
  latest = snap;
  latestAt = Date.now();
  $('pipeline-name').textContent = snap.pipeline?.name ?? '';
  renderPipeline(snap.pipeline);
  renderCharts(snap.throughput, snap.now);
  renderAlerts(snap.alerts, snap.now);
  renderDeadLetters(snap.deadLetters);
  renderFields();
  renderOwnership(snap.ownership);
}

function renderAlerts(alerts, now) {
  $('alerts-count').textContent = `${alerts.activeTotal} active`;
  fillRows($('alerts-active').tBodies[0], alerts.active, (a) => [
    a.device, a.rule, el('td', a.severity, `severity-${a.severity}`), el('td', Number.isFinite(a.value) ? a.value.toFixed(1) : '', 'num'),
    el('td', ago(a.since, now)),
  ]);
  fillRows($('alerts-resolved').tBodies[0], alerts.resolved, (a) => [
    a.device, a.rule, el('td', Number.isFinite(a.value) ? a.value.toFixed(1) : '', 'num'), clock(a.since), clock(a.resolvedAt),
  ]);
}

function renderDeadLetters(dead) {
  $('dead-count').textContent = `${dead.total} since the console started`;
  const reasons = Object.entries(dead.byReason).sort((a, b) => b[1] - a[1]);
  $('dead-reasons').replaceChildren(...reasons.map(([reason, n]) => el('li', `${reason} ${n}`)));
  fillRows($('dead-recent').tBodies[0], dead.recent, (d) => [clock(d.at), d.subject, el('td', d.reason, 'reason'), el('td', d.message, 'message')]);
}

function renderFields() {
  if (!latest) return;
  const select = $('fields-service');
  const services = [...new Set(latest.fields.map((f) => f.service))].sort();
  const known = [...select.options].slice(1).map((o) => o.value);
  if (services.join('\n') !== known.join('\n')) {
    const chosen = select.value;
    select.replaceChildren(el('option', 'all'), ...services.map((s) => el('option', s)));
    select.options[0].value = '';
    select.value = services.includes(chosen) ? chosen : '';
  }
  const service = select.value;
  const words = $('fields-search').value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const rows = latest.fields.filter((f) => {
    if (service && f.service !== service) return false;
    if (words.length === 0) return true;
    const text = `${f.service}@${f.container} ${f.context} ${f.query} ${f.event} ${f.action}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
  const shown = latest.fieldsTotal > latest.fields.length ? ` (busiest ${latest.fields.length} of ${latest.fieldsTotal})` : '';
  $('fields-count').textContent = `${rows.length} shown${shown}`;
  fillRows($('fields-table').tBodies[0], rows, (f) => [
    el('td', f.container ? `${f.service}@${f.container}` : f.service, 'service'), f.context, f.query, f.event, f.action,
    el('td', f.count.toLocaleString(), 'num'), el('td', rate(f.rate), 'num'),
  ]);
}
$('fields-service').addEventListener('change', renderFields);
// "since" keeps counting while nothing changes (no snapshot is sent then).
setInterval(() => { if (latest) renderAlerts(latest.alerts, latest.now + Date.now() - latestAt); }, 5000);
$('fields-search').addEventListener('input', renderFields);

function renderCharts(throughput, now) {
  const box = $('charts');
  // The last 5 minutes, or since the first point when there is less: a new chart is not a dot at the edge.
  const end = Math.floor(now / 1000);
  const first = Math.min(end - 10, ...Object.values(throughput).map((points) => points[0]?.[0] ?? end));
  const from = Math.max(end - 300, first);
  const span = 300;
  const x = (t) => (((t - from) / (end - from)) * span).toFixed(1);
  const charts = Object.keys(throughput).sort().map((service) => {
    const points = throughput[service];
    const max = Math.max(1, ...points.map((p) => p[1]));
    const chart = el('figure', undefined, 'chart');
    chart.dataset.service = service;
    const head = el('header');
    head.append(el('span', service), el('span', `${rate(points.at(-1)?.[1] ?? 0)}/s`));
    const s = svg('svg', { viewBox: `0 0 ${span} 50`, preserveAspectRatio: 'none' });
    const coords = points.map(([t, v]) => `${x(t)},${(48 - (v / max) * 46).toFixed(1)}`);
    s.append(svg('polyline', { points: coords.join(' '), 'vector-effect': 'non-scaling-stroke' }), svg('title', {}, `peak ${rate(max)}/s`));
    chart.append(head, s);
    return chart;
  });
  box.replaceChildren(...charts);
  if (charts.length === 0) box.append(el('p', latest?.tenant === null ? 'no metric batches yet' : 'metric batches carry no tenant: operators see them, tenants do not', 'empty'));
}

/** Services in columns by their distance from the sources; subjects at the ends. */
function renderPipeline(pipeline) {
  const graph = $('pipeline-graph');
  $('pipeline').hidden = !pipeline;
  if (!pipeline) return;
  const names = new Set();
  for (const e of pipeline.edges) { names.add(e.from); names.add(e.to); }
  for (const s of pipeline.services) names.add(s.name);
  const depth = new Map([...names].map((n) => [n, 0]));
  for (let round = 0; round < names.size; round++) {
    let changed = false;
    for (const e of pipeline.edges) {
      if (depth.get(e.to) <= depth.get(e.from)) { depth.set(e.to, depth.get(e.from) + 1); changed = true; }
    }
    if (!changed) break;
  }
  const columns = [];
  for (const n of names) (columns[depth.get(n)] ??= []).push(n);
  const W = 170, H = 34, GAP_X = 80, GAP_Y = 26;
  const pos = new Map();
  columns.forEach((col, c) => col.forEach((n, r) => pos.set(n, { x: 10 + c * (W + GAP_X), y: 10 + r * (H + GAP_Y) })));
  const width = 20 + columns.length * (W + GAP_X) - GAP_X;
  const height = 20 + Math.max(...columns.map((c) => c.length)) * (H + GAP_Y) - GAP_Y;
  graph.setAttribute('viewBox', `0 0 ${width} ${height}`);
  graph.style.height = `${height}px`;
  graph.style.maxWidth = `${width}px`;
  const defs = svg('defs');
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#6a737d' }));
  defs.append(marker);
  const kinds = new Map(pipeline.services.map((s) => [s.name, s]));
  const edges = pipeline.edges.map((e) => {
    const a = pos.get(e.from), b = pos.get(e.to);
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    const g = svg('g', { class: 'edge' });
    g.dataset.from = e.from; g.dataset.to = e.to;
    g.append(svg('path', { d: `M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}` }));
    const mid = { x: (x1 + x2) / 2, y: (y1 + y2) / 2 };
    g.append(svg('text', { x: mid.x, y: mid.y - 4, 'text-anchor': 'middle', class: 'rate' }, `${rate(e.rate)}/s`));
    g.append(svg('title', {}, `${e.subject}: ${rate(e.rate)} messages/s`));
    return g;
  });
  const nodes = [...names].map((n) => {
    const { x, y } = pos.get(n);
    const service = kinds.get(n);
    const g = svg('g', { class: service ? 'service' : 'subject', transform: `translate(${x},${y})` });
    g.append(svg('rect', { width: W, height: H, rx: service ? 4 : 14 }));
    const label = service ? `${n}${service.instances > 1 ? ` ×${service.instances}` : ''}` : n.replace(/^subject:/, '');
    g.append(svg('text', { x: W / 2, y: H / 2 + 4, 'text-anchor': 'middle' }, label.length > 26 ? `${label.slice(0, 25)}…` : label));
    g.append(svg('title', {}, service ? `${n} (${service.kind})` : label));
    return g;
  });
  graph.replaceChildren(defs, ...edges, ...nodes);
}

function renderOwnership(ownership) {
  $('ownership').hidden = !ownership;
  if (!ownership) return;
  fillRows($('ownership-table').tBodies[0], Object.entries(ownership).sort(), ([member, parts]) => [member, parts.join(', ') || '—']);
}

start();

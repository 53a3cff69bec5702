// netspan's web UI: Preact + htm as plain ES modules (no build step), served by the `ui` exporter.
// Views (hash routes): #/ traces, #/trace/<id>, #/evidence/<flows|ioam|http>?filters, #/devices, #/device/<name>.
/* global document, location, sessionStorage, URLSearchParams, addEventListener, removeEventListener */
import { h, render } from './vendor/preact.mjs';
import { useEffect, useState } from './vendor/hooks.mjs';
import htm from './vendor/htm.mjs';
import { LineChart } from './charts.js';

const html = htm.bind(h);

// ---- API ----

const TOKEN_KEY = 'netspan.token';
class Unauthorized extends Error {}

async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (res.status === 401) throw new Unauthorized('this UI needs the bearer token (auth.token)');
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

function useApi(path) {
  const [state, setState] = useState({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api(path).then(
      (data) => live && setState({ data }),
      (error) => live && setState({ error }),
    );
    return () => (live = false);
  }, [path, tick]);
  return [state, () => setTick((t) => t + 1)];
}

// ---- routing ----

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

function useRoute() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

const go = (hash) => (location.hash = hash);

// ---- formatting ----

const ms = (v) => (v === null || v === undefined ? '–' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 2 : 1)} ms`);
const pct = (r) => (r === null || r === undefined ? '–' : `${Math.round(r * 100)}%`);
const time = (msTime) =>
  new Date(msTime).toLocaleTimeString(undefined, { hour12: false }) + `.${String(Math.floor(msTime % 1000)).padStart(3, '0')}`;
const nsTime = (ns) => (ns ? time(Number(BigInt(ns) / 1000n) / 1000) : '–');
const value = (v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

const ROLE_LABEL = {
  app: 'application',
  network_summary: 'network summary',
  flow_device: 'device (flows)',
  ioam_hop: 'IOAM hop',
  observation_point: 'observation point',
};

// ---- shell ----

function Nav({ route }) {
  const at = route.parts[0] ?? '';
  const link = (hash, label, active) =>
    html`<li><a href=${hash} aria-current=${active ? 'page' : undefined} class=${active ? 'active' : ''}>${label}</a></li>`;
  return html`<header class="top">
    <a class="brand" href="#/">netspan</a>
    <nav aria-label="main">
      <ul>
        ${link('#/', 'Traces', at === '' || at === 'trace')} ${link('#/evidence/flows', 'Evidence', at === 'evidence')}
        ${link('#/devices', 'Devices', at === 'devices' || at === 'device')}
      </ul>
    </nav>
  </header>`;
}

function TokenForm() {
  const [token, setToken] = useState('');
  return html`<form
    class="token"
    data-testid="token-form"
    onSubmit=${(e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, token);
      location.reload();
    }}
  >
    <p>This collector's UI API asks for a bearer token (the <code>ui</code> exporter's <code>auth.token</code>).</p>
    <label>Token <input type="password" value=${token} onInput=${(e) => setToken(e.target.value)} autocomplete="off" /></label>
    <button type="submit">Use token</button>
  </form>`;
}

function Problem({ error }) {
  if (error instanceof Unauthorized) return html`<${TokenForm} />`;
  return html`<p class="error" role="alert">${String(error.message ?? error)}</p>`;
}

// ---- trace list ----

function TraceList({ query }) {
  const params = new URLSearchParams(query);
  if (!params.has('sort')) params.set('sort', '-start');
  const [state, reload] = useApi(`/api/traces?${params}`);
  const [form, setForm] = useState({
    service: query.get('service') ?? '',
    min: query.get('min_duration_ms') ?? '',
    verdict: query.get('has_verdict') ?? '',
    attribute: query.get('attribute') ?? '',
    sort: query.get('sort') ?? '-start',
  });
  const submit = (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (form.service) q.set('service', form.service);
    if (form.min) q.set('min_duration_ms', form.min);
    if (form.verdict) q.set('has_verdict', form.verdict);
    if (form.attribute) q.set('attribute', form.attribute);
    q.set('sort', form.sort);
    go(`#/?${q}`);
  };
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const data = state.data;
  const maxDuration = data ? Math.max(1, ...data.items.map((t) => t.durationMs)) : 1;
  return html`<main data-testid="trace-list">
    <h1>Traces</h1>
    <form class="filters" onSubmit=${submit} aria-label="trace filters">
      <label>Service <input data-testid="filter-service" value=${form.service} onInput=${set('service')} placeholder="any" /></label>
      <label
        >Min duration (ms) <input data-testid="filter-min-duration" type="number" min="0" value=${form.min} onInput=${set('min')}
      /></label>
      <label
        >Attribute <input data-testid="filter-attribute" value=${form.attribute} onInput=${set('attribute')} placeholder="key:value"
      /></label>
      <label
        >Verdict
        <select data-testid="filter-has-verdict" value=${form.verdict} onChange=${set('verdict')}>
          <option value="">any</option>
          <option value="true">has a verdict</option>
          <option value="false">no verdict</option>
        </select></label
      >
      <label
        >Sort
        <select data-testid="sort-select" value=${form.sort} onChange=${set('sort')}>
          <option value="-start">newest first</option>
          <option value="-duration">slowest first</option>
          <option value="-network_share">most network time first</option>
          <option value="-network_share_ratio">largest network share first</option>
        </select></label
      >
      <button type="submit" data-testid="apply-filters">Apply</button>
      <button type="button" onClick=${reload}>Refresh</button>
    </form>
    ${state.error && html`<${Problem} error=${state.error} />`}
    ${
      data &&
      html`<p class="muted" aria-live="polite">${data.total} trace${data.total === 1 ? '' : 's'}</p>
        <table class="traces">
          <thead>
            <tr>
              <th scope="col">Start</th>
              <th scope="col">Root</th>
              <th scope="col">Duration</th>
              <th scope="col">Network</th>
              <th scope="col">Spans</th>
              <th scope="col">Verdict</th>
            </tr>
          </thead>
          <tbody>
            ${data.items.map(
              (t) =>
                html`<tr data-testid="trace-row" data-trace-id=${t.traceId} class=${t.verdict ? 'has-verdict' : ''}>
                  <td>${time(t.startMs)}</td>
                  <td>
                    <a href=${`#/trace/${t.traceId}`}><span class="service">${t.rootService}</span> ${t.rootName}</a>
                  </td>
                  <td class="num">
                    <span class="bar" aria-hidden="true"><span style=${{ width: `${(t.durationMs / maxDuration) * 100}%` }}></span></span>
                    ${ms(t.durationMs)}
                  </td>
                  <td class="num">${ms(t.networkShareMs)} <span class="muted">${pct(t.networkShareRatio)}</span></td>
                  <td class="num">${t.spanCount}</td>
                  <td>${t.verdict ? html`<span class="verdict-chip" title=${t.verdict.text}>${t.verdict.text}</span>` : ''}</td>
                </tr>`,
            )}
          </tbody>
        </table>
        ${
          (data.offset > 0 || data.next_cursor) &&
          html`<nav class="pager" aria-label="pages">
            ${
              data.offset > 0 &&
              html`<a href=${`#/?${withParam(query, 'offset', String(Math.max(0, data.offset - data.limit)))}`}>← newer</a>`
            }
            ${data.next_cursor && html`<a href=${`#/?${withParam(query, 'offset', String(data.offset + data.limit))}`}>older →</a>`}
          </nav>`
        }`
    }
  </main>`;
}

function withParam(query, k, v) {
  const q = new URLSearchParams(query);
  q.set(k, v);
  q.delete('cursor');
  return q;
}

// ---- trace view ----

function TraceView({ id }) {
  const [state] = useApi(`/api/traces/${id}`);
  const [selected, setSelected] = useState(null);
  if (state.error) return html`<main><${Problem} error=${state.error} /></main>`;
  if (!state.data) return html`<main><p class="loading">Loading trace…</p></main>`;
  const t = state.data;
  const s = t.summary;
  const verdicts = t.connections.filter((c) => c.verdict);
  const slow = t.connections.filter((c) => c.slowestHop).sort((a, b) => b.slowestHop.transitMs - a.slowestHop.transitMs)[0];
  const sel = selected && t.spans.find((x) => x.spanId === selected);
  return html`<main data-testid="trace-view">
    <p><a href="#/">← traces</a></p>
    <h1>${s.rootService}: ${s.rootName}</h1>
    <dl class="facts">
      <div>
        <dt>Trace</dt>
        <dd><code>${s.traceId}</code></dd>
      </div>
      <div>
        <dt>Duration</dt>
        <dd data-testid="trace-duration">${ms(s.durationMs)}</dd>
      </div>
      <div class="share">
        <dt>Network share</dt>
        <dd data-testid="network-share">${ms(s.networkShareMs)} <span class="muted">(${pct(s.networkShareRatio)} of the trace)</span></dd>
      </div>
      <div>
        <dt>Connections</dt>
        <dd>${s.connections}</dd>
      </div>
      <div>
        <dt>Services</dt>
        <dd>${s.services.join(', ')}</dd>
      </div>
    </dl>
    <section class="verdict-box" data-testid="verdict" aria-label="verdict">
      ${
        verdicts.length > 0
          ? verdicts.map(
              (c) =>
                html`<div class="verdict">
                  <h2>Verdict</h2>
                  <p class="verdict-text" data-testid="verdict-text">${c.verdict.text}</p>
                  <p class="muted">
                    ${c.source} → ${c.destination} ${c.verdict.device && html` · device <strong>${c.verdict.device}</strong>`}
                    ${c.verdict.interface && html` · interface <strong>${c.verdict.interface}</strong>`}
                    ${c.verdict.cause && html` · cause ${c.verdict.cause}`}
                    ${c.verdict.addedMs !== undefined && html` · +${ms(c.verdict.addedMs)}`}
                    ${c.verdict.rule && html` · rule ${c.verdict.rule}`}
                  </p>
                </div>`,
            )
          : html`<div class="verdict none">
              <h2>Verdict</h2>
              <p>No verdict on this trace${s.connections === 0 ? ' (no network connection found)' : ''}.</p>
              ${
                slow &&
                html`<p data-testid="slowest-hop">
                  Largest hop transit: <strong>${slow.slowestHop.device}</strong> ${ms(slow.slowestHop.transitMs)}
                  <span class="muted note">(${slow.source} → ${slow.destination}; measured by IOAM, not a verdict)</span>
                </p>`
              }
            </div>`
      }
    </section>
    <div class="trace-body">
      <${Waterfall} detail=${t} selected=${selected} onSelect=${setSelected} />
      ${sel && html`<${SpanDetail} span=${sel} detail=${t} onClose=${() => setSelected(null)} />`}
    </div>
  </main>`;
}

function treeOrder(spans) {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map();
  for (const s of spans) {
    const p = ids.has(s.parentSpanId) ? s.parentSpanId : '';
    if (!children.has(p)) children.set(p, []);
    children.get(p).push(s);
  }
  const out = [];
  const walk = (parent, depth) => {
    for (const s of (children.get(parent) ?? []).sort((a, b) => a.startMs - b.startMs)) {
      out.push({ span: s, depth });
      walk(s.spanId, depth + 1);
    }
  };
  walk('', 0);
  return out;
}

function Waterfall({ detail, selected, onSelect }) {
  const rows = treeOrder(detail.spans);
  const t0 = detail.summary.startMs;
  const total = Math.max(detail.summary.durationMs, 0.001);
  return html`<section class="waterfall" data-testid="waterfall" aria-label="spans">
    <h2>Spans</h2>
    <p class="legend">
      <span class="key app">application</span> <span class="key network_summary">network summary</span>
      <span class="key flow_device">device (flows)</span> <span class="key ioam_hop">IOAM hop</span>
      <span class="key observation_point">observation point</span>
    </p>
    <ol class="rows">
      ${rows.map(({ span, depth }) => {
        const left = ((span.startMs - t0) / total) * 100;
        const width = Math.max((span.durationMs / total) * 100, 0.3);
        const network = span.role !== 'app';
        return html`<li
          data-testid="span-row"
          data-role=${span.role}
          data-span-id=${span.spanId}
          class=${`row ${span.role} ${selected === span.spanId ? 'selected' : ''}`}
        >
          <button
            type="button"
            class="label"
            style=${{ paddingLeft: `${depth * 14 + 4}px` }}
            onClick=${() => onSelect(span.spanId)}
            aria-pressed=${selected === span.spanId}
            title=${`${span.service} ${span.name} (${ROLE_LABEL[span.role]})`}
          >
            ${network && html`<span class="badge" aria-hidden="true">${span.role === 'network_summary' ? 'NET' : span.role === 'ioam_hop' ? 'IOAM' : span.role === 'observation_point' ? 'OBS' : 'DEV'}</span>`}
            <span class="service">${span.service}</span> ${span.name}
          </button>
          <span class="track" aria-hidden="true"
            ><span class="bar" style=${{ left: `${left}%`, width: `${Math.min(width, 100 - left)}%` }}></span
          ></span>
          <span class="dur">${ms(span.durationMs)}</span>
        </li>`;
      })}
    </ol>
  </section>`;
}

function quartetQuery(summary) {
  const a = summary.attributes;
  const q = new URLSearchParams();
  if (a['source.address'] !== undefined) q.set('source.address', a['source.address']);
  if (a['source.port'] !== undefined) q.set('source.port', a['source.port']);
  if (a['destination.address'] !== undefined) q.set('destination.address', a['destination.address']);
  if (a['destination.port'] !== undefined) q.set('destination.port', a['destination.port']);
  return q;
}

/** What this span itself rests on, in words. */
function hopEvidence(span) {
  const a = span.attributes;
  const n = (v, one, many) => `${v} ${v === 1 ? one : many}`;
  switch (span.role) {
    case 'flow_device':
      return `${n(a['netspan.flow.count'] ?? 0, 'flow', 'flows')} (${a['flow.type'] ?? 'flow'}) exported by ${a['netspan.device.address'] ?? '?'}${
        a['flow.time_resolution_ns'] ? `, times to ${a['flow.time_resolution_ns'] / 1e6} ms` : ''
      }${a['flow.sampling_rate'] > 1 ? `, sampled 1 in ${a['flow.sampling_rate']}` : ''}`;
    case 'ioam_hop':
      return `IOAM node ${a['ioam.node_id'] ?? '?'} (namespace ${a['ioam.namespace_id']}), ${n(a['netspan.ioam.packets'] ?? 1, 'packet', 'packets')}${
        a['netspan.ioam.queue_depth_max'] !== undefined ? `, queue depth up to ${a['netspan.ioam.queue_depth_max']}` : ''
      }, from ${a['ioam.source'] ?? 'IOAM'}`;
    case 'observation_point':
      return `${n(a['netspan.observation.count'] ?? 0, 'sighting', 'sightings')} of the request by ${a['netspan.observer.name'] ?? 'an agent'}${
        a['netspan.device.time_in_ms'] !== undefined ? `, ${a['netspan.device.time_in_ms']} ms inside the device` : ''
      }`;
    default:
      return '';
  }
}

function SpanDetail({ span, detail, onClose }) {
  const connection = detail.connections.find((c) => c.summary.spanId === span.spanId || c.hops.some((x) => x.spanId === span.spanId));
  const a = span.attributes;
  const accuracy = a['netspan.timing.accuracy'] ?? connection?.timingAccuracy;
  const device = a['netspan.device.name'] ?? a['netspan.device.address'];
  const quartet = connection ? quartetQuery(connection.summary) : null;
  return html`<aside class="detail" data-testid="hop-detail" aria-label="span detail">
    <header>
      <h2>${span.name}</h2>
      <button type="button" onClick=${onClose} aria-label="close detail">×</button>
    </header>
    <dl class="facts small">
      <div>
        <dt>Kind</dt>
        <dd>${ROLE_LABEL[span.role]} · ${span.kind}</dd>
      </div>
      <div>
        <dt>Service</dt>
        <dd>${span.service}</dd>
      </div>
      <div>
        <dt>Duration</dt>
        <dd>${ms(span.durationMs)}</dd>
      </div>
      <div>
        <dt>Start</dt>
        <dd>${nsTime(span.startTimeUnixNano)}</dd>
      </div>
      ${
        accuracy &&
        html`<div>
          <dt>Timing accuracy</dt>
          <dd data-testid="timing-accuracy" class=${`accuracy ${accuracy}`}>${accuracy}</dd>
        </div>`
      }
      ${
        a['netspan.hop.transit_ms'] !== undefined &&
        html`<div>
          <dt>Hop transit</dt>
          <dd>${ms(a['netspan.hop.transit_ms'])} (max ${ms(a['netspan.hop.transit_max_ms'])})</dd>
        </div>`
      }
    </dl>
    ${
      connection &&
      html`<section data-testid="evidence-used">
        <h3>Evidence used</h3>
        ${hopEvidence(span) && html`<p data-testid="hop-evidence">${hopEvidence(span)}</p>`}
        <p>Connection: ${connection.evidence.length ? connection.evidence.join(', ') : 'none'}</p>
        <ul class="links">
          <li>
            <a data-testid="evidence-link-flows" href=${`#/evidence/flows?${quartet}`}
              >Flows of ${connection.source} → ${connection.destination}</a
            >
          </li>
          <li><a data-testid="evidence-link-ioam" href=${`#/evidence/ioam?${quartet}`}>IOAM traces of this connection</a></li>
          <li><a href=${`#/evidence/http?${quartet}`}>HTTP observations of this connection</a></li>
        </ul>
      </section>`
    }
    ${device && span.role !== 'app' && span.role !== 'network_summary' && html`<${DeviceState} device=${device} span=${span} />`}
    ${
      span.events.length > 0 &&
      html`<section>
        <h3>Events</h3>
        <ul>
          ${span.events.map((e) => html`<li>${nsTime(e.timeUnixNano)} ${e.name} <span class="muted">${value(e.attributes)}</span></li>`)}
        </ul>
      </section>`
    }
    <section>
      <h3>Attributes</h3>
      <table class="attrs" data-testid="hop-attributes">
        <tbody>
          ${Object.entries(a)
            .sort(([x], [y]) => x.localeCompare(y))
            .map(
              ([k, v]) =>
                html`<tr>
                  <th scope="row">${k}</th>
                  <td>${value(v)}</td>
                </tr>`,
            )}
        </tbody>
      </table>
    </section>
  </aside>`;
}

/** A device's state around a span: utilisation, errors, IOAM queue depth, as small charts. */
function DeviceState({ device, span }) {
  const from = span.startMs - 10 * 60_000;
  const to = span.startMs + span.durationMs + 60_000;
  const [state] = useApi(`/api/devices/${encodeURIComponent(device)}?from=${Math.floor(from)}&to=${Math.ceil(to)}`);
  if (state.error)
    return html`<section data-testid="device-state">
      <h3>Device state</h3>
      <p class="muted">${state.error.message}</p>
    </section>`;
  if (!state.data)
    return html`<section data-testid="device-state">
      <h3>Device state</h3>
      <p class="loading">…</p>
    </section>`;
  const marker = [span.startMs, span.startMs + Math.max(span.durationMs, 1)];
  return html`<section data-testid="device-state">
    <h3>Device state: <a href=${`#/device/${encodeURIComponent(device)}`}>${device}</a></h3>
    <${DeviceCharts} series=${state.data} marker=${marker} compact=${true} />
  </section>`;
}

const tms = (ns) => Number(BigInt(ns) / 1000n) / 1000;

function DeviceCharts({ series, marker, compact }) {
  const width = compact ? 300 : 420;
  const util = series.interfaces
    .flatMap((i) => [
      {
        label: `${i.name ?? i.ifIndex} in`,
        points: i.points.filter((p) => p.inUtilisation !== undefined).map((p) => [tms(p.timeUnixNano), p.inUtilisation * 100]),
      },
      {
        label: `${i.name ?? i.ifIndex} out`,
        points: i.points.filter((p) => p.outUtilisation !== undefined).map((p) => [tms(p.timeUnixNano), p.outUtilisation * 100]),
      },
    ])
    .filter((s) => s.points.length > 0);
  const errors = series.interfaces
    .map((i) => ({
      label: `${i.name ?? i.ifIndex}`,
      points: i.points
        .filter((p) => p.inErrorsPerSecond !== undefined)
        .map((p) => [
          tms(p.timeUnixNano),
          (p.inErrorsPerSecond ?? 0) + (p.outErrorsPerSecond ?? 0) + (p.inDiscardsPerSecond ?? 0) + (p.outDiscardsPerSecond ?? 0),
        ]),
    }))
    .filter((s) => s.points.length > 0);
  const queue = [
    { label: 'queue depth', points: series.ioam.filter((p) => p.queueDepth !== undefined).map((p) => [tms(p.timeUnixNano), p.queueDepth]) },
  ];
  const cpu = [
    { label: 'cpu', points: series.devicePoints.filter((p) => p.cpuAverage !== undefined).map((p) => [tms(p.timeUnixNano), p.cpuAverage]) },
  ];
  return html`<div class="charts">
    <${LineChart} testid="chart-utilisation" title="Utilisation" unit="%" series=${util.slice(0, 4)} marker=${marker} width=${width} />
    <${LineChart} testid="chart-errors" title="Errors + discards" unit="/s" series=${errors.slice(0, 4)} marker=${marker} width=${width} />
    <${LineChart} testid="chart-queue" title="IOAM queue depth" series=${queue} marker=${marker} width=${width} />
    ${!compact && html`<${LineChart} testid="chart-cpu" title="CPU" unit="%" series=${cpu} marker=${marker} width=${width} />`}
  </div>`;
}

// ---- evidence explorer ----

const EVIDENCE_COLUMNS = {
  flows: [
    'flow.start',
    'flow.sampler_address',
    'source.address',
    'source.port',
    'destination.address',
    'destination.port',
    'network.transport',
    'flow.in_if',
    'flow.out_if',
    'flow.io.bytes',
    'flow.io.packets',
    'flow.duration_ms',
    'flow.type',
  ],
  ioam: [
    'observation.time',
    'observer.name',
    'source.address',
    'source.port',
    'destination.address',
    'destination.port',
    'ioam.namespace_id',
    'ioam.node_ids',
    'ioam.queue_depth_max',
    'ioam.transit_ms',
    'ioam.trace_id',
  ],
  http: [
    'observation.time',
    'observer.name',
    'network.interface.name',
    'observation.direction',
    'source.address',
    'source.port',
    'destination.address',
    'destination.port',
    'http.message',
    'http.request.method',
    'url.path',
    'http.traceparent',
  ],
};
const FILTER_FIELDS = ['source.address', 'source.port', 'destination.address', 'destination.port'];
const TIME_COLUMNS = new Set(['flow.start', 'observation.time']);

const evidenceCount = (d) =>
  `${d.total} record${d.total === 1 ? '' : 's'}${d.truncated ? ' (only the newest were searched)' : ''}${d.available ? '' : ' (this collector keeps none)'}`;

function EvidenceExplorer({ kind, query }) {
  const [state] = useApi(`/api/evidence/${kind}?${query}`);
  const [form, setForm] = useState(() => Object.fromEntries(FILTER_FIELDS.map((f) => [f, query.get(f) ?? ''])));
  const [extra, setExtra] = useState(() =>
    [...query.entries()]
      .filter(([k]) => !FILTER_FIELDS.includes(k))
      .map(([k, v]) => `${k}=${v}`)
      .join('&'),
  );
  const submit = (e) => {
    e.preventDefault();
    const q = new URLSearchParams(extra);
    for (const f of FILTER_FIELDS) if (form[f]) q.set(f, form[f]);
    go(`#/evidence/${kind}?${q}`);
  };
  const columns = EVIDENCE_COLUMNS[kind];
  return html`<main data-testid="evidence-explorer">
    <h1>Evidence</h1>
    <nav class="tabs" aria-label="evidence kind">
      ${['flows', 'ioam', 'http'].map(
        (k) =>
          html`<a
            href=${`#/evidence/${k}?${query}`}
            data-testid=${`evidence-tab-${k}`}
            aria-current=${k === kind ? 'page' : undefined}
            class=${k === kind ? 'active' : ''}
            >${{ flows: 'Flows', ioam: 'IOAM traces', http: 'HTTP observations' }[k]}</a
          >`,
      )}
    </nav>
    <form class="filters" onSubmit=${submit} aria-label="evidence filters">
      ${FILTER_FIELDS.map(
        (f) =>
          html`<label
            >${f} <input data-testid=${`evidence-filter-${f}`} value=${form[f]} onInput=${(e) => setForm({ ...form, [f]: e.target.value })}
          /></label>`,
      )}
      <label class="wide"
        >More filters
        <input
          data-testid="evidence-filter-extra"
          value=${extra}
          onInput=${(e) => setExtra(e.target.value)}
          placeholder="flow.io.bytes_gt=1000&sort=-flow.io.bytes"
      /></label>
      <button type="submit" data-testid="evidence-apply">Filter</button>
    </form>
    ${state.error && html`<${Problem} error=${state.error} />`}
    ${
      state.data &&
      html`<p class="muted" aria-live="polite" data-testid="evidence-count">${evidenceCount(state.data)}</p>
        <div class="scroll">
          <table class="evidence" data-testid="evidence-table">
            <thead>
              <tr>
                ${columns.map((c) => html`<th scope="col">${c}</th>`)}
              </tr>
            </thead>
            <tbody>
              ${state.data.items.map(
                (r) =>
                  html`<tr data-testid="evidence-row">
                    ${columns.map((c) => html`<td>${TIME_COLUMNS.has(c) ? nsTime(r[c]) : value(r[c])}</td>`)}
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>
        ${state.data.next_cursor && html`<p><a href=${`#/evidence/${kind}?${withParam(query, 'offset', String(state.data.offset + state.data.limit))}`}>next page →</a></p>`}`
    }
  </main>`;
}

// ---- devices ----

function DeviceList() {
  const [state] = useApi('/api/devices');
  return html`<main data-testid="device-list">
    <h1>Devices</h1>
    ${state.error && html`<${Problem} error=${state.error} />`}
    ${state.data && !state.data.available && html`<p>This collector keeps no device state.</p>`}
    ${
      state.data &&
      html`<table>
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Interfaces</th>
            <th scope="col">Latest point</th>
          </tr>
        </thead>
        <tbody>
          ${state.data.items.map(
            (d) =>
              html`<tr data-testid="device-row">
                <td><a href=${`#/device/${encodeURIComponent(d.device)}`}>${d.device}</a></td>
                <td>${d.interfaces.map((i) => i.name ?? i.ifIndex).join(', ')}</td>
                <td>${nsTime(d.newestUnixNano)}</td>
              </tr>`,
          )}
        </tbody>
      </table>`
    }
  </main>`;
}

/** Anomalies by kind and interface: how many, first and last time, the latest detail. */
function groupAnomalies(list) {
  const groups = new Map();
  for (const a of list) {
    const where = a.interfaceName ?? (a.ifIndex !== undefined ? `if ${a.ifIndex}` : 'device');
    const key = `${a.kind}|${where}`;
    const g = groups.get(key) ?? { kind: a.kind, where, count: 0, first: a.timeUnixNano, last: a.timeUnixNano, detail: a.detail };
    g.count++;
    if (BigInt(a.timeUnixNano) < BigInt(g.first)) g.first = a.timeUnixNano;
    if (BigInt(a.timeUnixNano) >= BigInt(g.last)) {
      g.last = a.timeUnixNano;
      g.detail = a.detail;
    }
    groups.set(key, g);
  }
  return [...groups.values()];
}

function DevicePage({ name }) {
  const [state] = useApi(`/api/devices/${encodeURIComponent(name)}`);
  return html`<main data-testid="device-page">
    <p><a href="#/devices">← devices</a></p>
    <h1>${name}</h1>
    ${state.error && html`<${Problem} error=${state.error} />`}
    ${
      state.data &&
      html`<${DeviceCharts} series=${state.data} />
        <section>
          <h2>Anomalies</h2>
          ${
            state.data.anomalies.length === 0
              ? html`<p class="muted">none in the last hour</p>`
              : html`<ul data-testid="anomalies">
                  ${groupAnomalies(state.data.anomalies).map(
                    (g) =>
                      html`<li>
                        <strong>${g.kind}</strong> ${g.where}: ${`${g.count}× from ${nsTime(g.first)} to ${nsTime(g.last)}`}
                        <span class="muted note">(latest: ${g.detail})</span>
                      </li>`,
                  )}
                </ul>`
          }
        </section>`
    }
  </main>`;
}

// ---- app ----

function App() {
  const route = useRoute();
  const [a, b] = route.parts;
  let view;
  if (a === 'trace' && b) view = html`<${TraceView} id=${b} key=${b} />`;
  else if (a === 'evidence')
    view = html`<${EvidenceExplorer}
      kind=${['flows', 'ioam', 'http'].includes(b) ? b : 'flows'}
      query=${route.query}
      key=${`${b}?${route.query}`}
    />`;
  else if (a === 'devices') view = html`<${DeviceList} />`;
  else if (a === 'device' && b) view = html`<${DevicePage} name=${b} key=${b} />`;
  else view = html`<${TraceList} query=${route.query} key=${String(route.query)} />`;
  return html`<${Nav} route=${route} />${view}`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);

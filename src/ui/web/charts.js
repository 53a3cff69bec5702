// Small inline SVG charts (no library): a line chart of one or more series over time.
import { h } from './vendor/preact.mjs';
import htm from './vendor/htm.mjs';

const html = htm.bind(h);

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'];

function niceNumber(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (a < 1) return v.toFixed(2);
  return v.toFixed(a < 10 ? 1 : 0);
}

/**
 * series: [{ label, points: [[timeMs, value], ...] }]; marker: optional [fromMs, toMs] shaded
 * (the span's time). Renders an accessible <figure> with a title and a text summary.
 */
export function LineChart({ title, series, unit = '', marker, width = 320, height = 110, testid }) {
  const pad = { l: 40, r: 8, t: 8, b: 18 };
  const all = series.flatMap((s) => s.points);
  if (all.length === 0)
    return html`<figure class="chart empty" data-testid=${testid}>
      <figcaption>${title}</figcaption>
      <p class="muted">no data</p>
    </figure>`;
  let t0 = Math.min(...all.map((p) => p[0]));
  let t1 = Math.max(...all.map((p) => p[0]));
  if (marker) {
    t0 = Math.min(t0, marker[0]);
    t1 = Math.max(t1, marker[1]);
  }
  if (t1 === t0) t1 = t0 + 1;
  const vmax = Math.max(...all.map((p) => p[1]), 0) || 1;
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - (v / vmax) * (height - pad.t - pad.b);
  const latest = series.map((s) => `${s.label} ${s.points.length ? niceNumber(s.points[s.points.length - 1][1]) : '-'}${unit}`).join(', ');
  return html`<figure class="chart" data-testid=${testid}>
    <figcaption>${title} <span class="muted">(max ${niceNumber(vmax)}${unit}; latest ${latest})</span></figcaption>
    <svg viewBox="0 0 ${width} ${height}" width=${width} height=${height} role="img" aria-label=${`${title}: ${latest}`}>
      ${
        marker &&
        html`<rect
          class="marker"
          x=${x(marker[0])}
          y=${pad.t}
          width=${Math.max(2, x(marker[1]) - x(marker[0]))}
          height=${height - pad.t - pad.b}
        />`
      }
      <line class="axis" x1=${pad.l} y1=${height - pad.b} x2=${width - pad.r} y2=${height - pad.b} />
      <line class="axis" x1=${pad.l} y1=${pad.t} x2=${pad.l} y2=${height - pad.b} />
      <text class="tick" x=${pad.l - 4} y=${pad.t + 8} text-anchor="end">${niceNumber(vmax)}</text>
      <text class="tick" x=${pad.l - 4} y=${height - pad.b} text-anchor="end">0</text>
      <text class="tick" x=${pad.l} y=${height - 4}>${new Date(t0).toLocaleTimeString()}</text>
      <text class="tick" x=${width - pad.r} y=${height - 4} text-anchor="end">${new Date(t1).toLocaleTimeString()}</text>
      ${series.map(
        (s, i) =>
          html`<polyline
              fill="none"
              stroke=${COLORS[i % COLORS.length]}
              stroke-width="1.5"
              points=${s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}
            />
            ${s.points.length === 1 && html`<circle cx=${x(s.points[0][0])} cy=${y(s.points[0][1])} r="2.5" fill=${COLORS[i % COLORS.length]} />`}`,
      )}
    </svg>
    ${
      series.length > 1 &&
      html`<ul class="legend">
        ${series.map((s, i) => html`<li><span class="swatch" style=${`background:${COLORS[i % COLORS.length]}`}></span>${s.label}</li>`)}
      </ul>`
    }
  </figure>`;
}

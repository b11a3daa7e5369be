// Foreshock page: risk board, recent anomalies and a chart of the chosen series (recent values,
// expected band, anomaly markers, forecast cone, threshold). Plain JS + SVG; data from /api/v1.
'use strict';
(function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const REFRESH_MS = 10000;
  const state = { series: new URLSearchParams(location.search).get('series'), token: sessionStorage.getItem('foreshock-token') || '' };
  const $ = (id) => document.getElementById(id);

  async function api(path) {
    const headers = state.token ? { Authorization: 'Bearer ' + state.token } : {};
    const r = await fetch(path, { headers });
    if (r.status === 401 || r.status === 403) {
      $('token-form').hidden = false;
      throw new Error('a read token is needed');
    }
    if (!r.ok) throw new Error(path.split('?')[0] + ': HTTP ' + r.status);
    return r.json();
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function fmtNum(x) {
    if (x === null || x === undefined || !isFinite(x)) return '–';
    const a = Math.abs(x);
    if (a !== 0 && (a < 0.001 || a >= 1e6)) return x.toExponential(2);
    return String(Math.round(x * 1000) / 1000);
  }
  function fmtIn(ms) {
    if (!isFinite(ms)) return '–';
    if (ms <= 0) return 'now';
    const m = ms / 60000;
    if (m < 60) return Math.round(m) + ' min';
    const h = m / 60;
    if (h < 48) return (Math.round(h * 10) / 10) + ' h';
    return (Math.round(h / 24 * 10) / 10) + ' d';
  }
  function fmtTime(ts) {
    return new Date(ts).toISOString().replace('T', ' ').slice(0, 19);
  }

  function select(key) {
    state.series = key;
    const u = new URL(location.href);
    u.searchParams.set('series', key);
    history.replaceState(null, '', u);
    for (const tr of document.querySelectorAll('tr[data-series]')) tr.classList.toggle('selected', tr.dataset.series === key);
    drawChart().catch(showError);
  }

  async function loadRisks() {
    const data = await api('/api/v1/risks?limit=25');
    const tbody = $('risks').tBodies[0];
    tbody.textContent = '';
    const now = Date.now();
    for (const r of data.risks) {
      const tr = el('tr');
      tr.dataset.series = r.key;
      if (r.key === state.series) tr.className = 'selected';
      tr.appendChild(el('td', r.key));
      tr.appendChild(el('td', r.host));
      tr.appendChild(el('td', (r.crossing.direction === 'below' ? '≤ ' : '≥ ') + fmtNum(r.crossing.threshold)));
      tr.appendChild(el('td', fmtIn(r.crossing.at - now)));
      tr.appendChild(el('td', fmtIn(r.crossing.earliest - now) + ' – ' + (r.crossing.latest === null ? '>7 d' : fmtIn(r.crossing.latest - now))));
      tr.addEventListener('click', () => select(r.key));
      tbody.appendChild(tr);
    }
    $('risks-empty').hidden = data.risks.length > 0;
    return data;
  }

  async function loadAnomalies() {
    const data = await api('/api/v1/anomalies?limit=30');
    const tbody = $('anomalies').tBodies[0];
    tbody.textContent = '';
    for (const e of data.anomalies) {
      const tr = el('tr');
      tr.dataset.series = e.seriesKey;
      tr.dataset.kind = e.kind;
      if (e.seriesKey === state.series) tr.className = 'selected';
      tr.appendChild(el('td', fmtTime(e.ts)));
      tr.appendChild(el('td', e.kind.replace('_', ' '), 'kind-' + e.kind));
      tr.appendChild(el('td', e.seriesKey));
      tr.appendChild(el('td', e.explanation && e.explanation.summary));
      tr.addEventListener('click', () => select(e.seriesKey));
      tbody.appendChild(tr);
    }
    $('anomalies-empty').hidden = data.anomalies.length > 0;
    return data;
  }

  async function drawChart() {
    const key = state.series;
    const box = $('chart');
    if (!key) return;
    $('chart-title').textContent = key;
    const enc = encodeURIComponent(key);
    const [values, fc, events] = await Promise.all([
      api('/api/v1/series/values?series=' + enc + '&window=1h'),
      api('/api/v1/forecast?series=' + enc + '&horizon=30m&steps=30'),
      api('/api/v1/anomalies?series=' + enc + '&limit=200'),
    ]);
    const f = fc.forecasts[0];
    const pts = values.points.filter((p) => p.value !== null);
    const cone = f.points.filter((p) => p.mean !== null);
    const thr = f.crossings.length > 0 ? f.crossings[0] : null;
    const s = f.series;
    const t0 = pts.length ? pts[0].ts : s.lastTs - 3600000;
    const t1 = cone.length ? cone[cone.length - 1].ts : s.lastTs;
    let lo = Infinity, hi = -Infinity;
    const see = (v) => { if (v !== null && isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } };
    for (const p of pts) { see(p.value); see(p.lower); see(p.upper); }
    for (const p of cone) { see(p.lower); see(p.upper); }
    if (thr) see(thr.threshold);
    see(s.value);
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
    const pad = (hi - lo) * 0.08; lo -= pad; hi += pad;
    const W = 900, H = 320, L = 56, R = 12, T = 10, B = 24;
    const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - R);
    const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    const root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'chart of ' + key });
    root.appendChild(svg('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }));
    root.appendChild(svg('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      const t = svg('text', { class: 'tick', x: 4, y: y(v) + 3 }); t.textContent = fmtNum(v); root.appendChild(t);
      const tt = t0 + ((t1 - t0) * i) / 4;
      const tx = svg('text', { class: 'tick', x: Math.min(x(tt), W - 60), y: H - 6 }); tx.textContent = new Date(tt).toISOString().slice(11, 16); root.appendChild(tx);
    }
    const banded = pts.filter((p) => p.lower !== null && p.upper !== null);
    if (banded.length > 1) {
      const d = banded.map((p, i) => (i ? 'L' : 'M') + x(p.ts).toFixed(1) + ' ' + y(p.upper).toFixed(1)).join(' ') + ' ' +
        banded.slice().reverse().map((p) => 'L' + x(p.ts).toFixed(1) + ' ' + y(p.lower).toFixed(1)).join(' ') + ' Z';
      root.appendChild(svg('path', { class: 'band', d }));
      root.appendChild(svg('path', { class: 'expected', d: banded.map((p, i) => (i ? 'L' : 'M') + x(p.ts).toFixed(1) + ' ' + y(p.expected).toFixed(1)).join(' ') }));
    }
    if (cone.length > 1) {
      const d = cone.map((p, i) => (i ? 'L' : 'M') + x(p.ts).toFixed(1) + ' ' + y(p.upper).toFixed(1)).join(' ') + ' ' +
        cone.slice().reverse().map((p) => 'L' + x(p.ts).toFixed(1) + ' ' + y(p.lower).toFixed(1)).join(' ') + ' Z';
      root.appendChild(svg('path', { class: 'cone', d }));
      root.appendChild(svg('path', { class: 'forecast-mean', d: cone.map((p, i) => (i ? 'L' : 'M') + x(p.ts).toFixed(1) + ' ' + y(p.mean).toFixed(1)).join(' ') }));
    }
    root.appendChild(svg('line', { class: 'now', x1: x(s.lastTs), y1: T, x2: x(s.lastTs), y2: H - B }));
    if (thr) {
      root.appendChild(svg('line', { class: 'threshold', x1: L, y1: y(thr.threshold), x2: W - R, y2: y(thr.threshold) }));
      const lab = svg('text', { class: 'threshold-label', x: L + 4, y: y(thr.threshold) - 4 });
      lab.textContent = thr.name + ' ' + (thr.direction === 'below' ? '≤ ' : '≥ ') + fmtNum(thr.threshold) + ' · crossing expected ' + fmtIn(thr.at - s.lastTs) + ' after the last sample';
      root.appendChild(lab);
    }
    if (pts.length > 1) {
      root.appendChild(svg('path', { class: 'values', d: pts.map((p, i) => (i ? 'L' : 'M') + x(p.ts).toFixed(1) + ' ' + y(p.value).toFixed(1)).join(' ') }));
    }
    const byTs = new Map(pts.map((p) => [p.ts, p.value]));
    for (const e of events.anomalies) {
      if (e.kind === 'anomaly_resolved' || e.ts < t0 || e.ts > t1) continue;
      const v = byTs.has(e.ts) ? byTs.get(e.ts) : e.explanation.value;
      const c = svg('circle', { class: 'anomaly-marker', cx: x(e.ts).toFixed(1), cy: y(v).toFixed(1), r: 5 });
      const title = svg('title', {}); title.textContent = e.kind + ' ' + fmtTime(e.ts) + ': ' + (e.explanation.summary || '');
      c.appendChild(title);
      root.appendChild(c);
    }
    box.textContent = '';
    box.appendChild(root);
    $('chart-explain').textContent = s.state + ' · value ' + fmtNum(s.value) + ' (expected ' + fmtNum(s.expected) + ', band ' + fmtNum(s.lower) + ' – ' + fmtNum(s.upper) + ') · score ' + fmtNum(s.score) + ' · trend ' + fmtNum(s.trendPerS) + '/s' + (!values.available ? ' · recent values not readable from this metric sink' : pts.length === 0 ? ' · no recent values in the metric sink' : '');
    box.dataset.points = String(pts.length);
    box.dataset.anomalies = String(root.querySelectorAll('.anomaly-marker').length);
  }

  function showError(err) {
    $('status').textContent = err.message;
  }

  async function refresh() {
    try {
      const [risks, anomalies] = await Promise.all([loadRisks(), loadAnomalies()]);
      if (!state.series) {
        const first = risks.risks[0] ? risks.risks[0].key : anomalies.anomalies[0] ? anomalies.anomalies[0].seriesKey : null;
        if (first) state.series = first;
      }
      if (state.series) await drawChart();
      $('status').textContent = risks.series + ' series · ' + risks.breaching + ' predicted to breach · updated ' + new Date().toISOString().slice(11, 19);
      document.body.dataset.loaded = 'true';
    } catch (err) {
      showError(err);
    }
  }

  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = $('token').value.trim();
    sessionStorage.setItem('foreshock-token', state.token);
    $('token-form').hidden = true;
    refresh();
  });
  refresh();
  setInterval(refresh, REFRESH_MS);
})();

// The mask explorer's page script, after the views: awd_fastai.explorer inlines it into every page (nbs/10_explorer.ipynb).
// The page: decode the embedded recordings, build the controls, draw the chosen mask.
const $ = id => document.getElementById(id);
const el = (tag, attrs = {}, text) => { const e = document.createElement(tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
                                        if (text !== undefined) e.textContent = text; return e; };
function bytesOf(id) {                          // base64 text of a <script> block -> bytes
  const s = atob($(id).textContent.trim()), a = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
  return a;
}
const DATA = JSON.parse($('awd-index').textContent);
const COLORS = {1: DATA.colors.kept, 0: DATA.colors.dropped, '-1': DATA.colors.none};   // [r, g, b]: kept light, dropped dark, no element grey
const RECS = DATA.records.map((r, k) => {
  const bytes = bytesOf(`awd-masks-${k}`), tb = bytesOf(`awd-tokens-${k}`);
  const tokens = r.tokdtype === 'u2' ? new Uint16Array(tb.buffer, 0, tb.length >> 1) : new Int32Array(tb.buffer, 0, tb.length >> 2);
  return Object.assign({}, r, {bytes, tokens});
});
const S = {rec: 0, site: 0, pos: 0, call: 0, example: 0, step: 0};
let timer = null;

function maskOf(r, batch, site, call) {         // the mask of `site` in forward call `call` of a recorded iteration
  const ms = batch[2].filter(m => m[0] === site);
  if (!ms.length) return null;
  const [, c, tok, off, shape, p, rate] = ms[clamp(call, ms.length)];
  const bytes = r.bytes, bit = i => (bytes[off + (i >> 3)] >> (7 - (i & 7))) & 1;   // numpy's packbits order
  let tokens = null;
  if (tok >= 0 && batch[3][tok]) {
    const [toff, ts] = batch[3][tok];
    tokens = {shape: ts, at: (e, t) => r.tokens[toff + e * ts[1] + t]};
  }
  return {call: c, n: ms.length, shape, p, rate, bit, tokens};
}

function draw(p, k) {                           // one panel: a canvas of rows x cols cells, 1 pixel per cell, scaled by CSS
  const fig = el('figure', {class: 'panel'}), cap = el('figcaption', {id: `caption-${k}`}, p.title);
  const cv = el('canvas', {id: `panel-${k}`, width: p.cols, height: p.rows, role: 'img', tabindex: '0',
                           'aria-labelledby': `caption-${k}`, 'aria-describedby': 'hover'});
  const img = cv.getContext('2d').createImageData(p.cols, p.rows), d = img.data;
  for (let i = 0, o = 0; i < p.rows; i++) for (let j = 0; j < p.cols; j++, o += 4) {
    const c = COLORS[p.val(i, j)]; d[o] = c[0]; d[o + 1] = c[1]; d[o + 2] = c[2]; d[o + 3] = 255;
  }
  cv.getContext('2d').putImageData(img, 0, 0);
  let sc = Math.min(560 / p.cols, 680 / p.rows, 16);
  if (sc >= 2) sc = Math.floor(sc);               // whole pixels per cell when cells are large; small masks fill the space
  cv.style.width = `${p.cols * sc}px`; cv.style.height = `${p.rows * sc}px`;
  const wrap = el('div', {class: (p.blocks || []).length ? 'wrap blocks' : 'wrap'});
  wrap.append(cv);
  for (const b of p.blocks || []) {              // labelled blocks of rows (gates)
    const top = `${b.row * sc}px`;
    if (b.row) { const line = el('div', {class: 'block'}); line.style.top = top; wrap.append(line); }
    const lab = el('div', {class: 'blabel'}, b.label); lab.style.top = top; wrap.append(lab);
  }
  if (p.mark !== undefined) { const mk = el('div', {class: 'mark'}); mk.style.left = `${p.mark * sc}px`; mk.style.width = `${Math.max(sc, 2)}px`; wrap.append(mk); }
  const cell = ev => { const b = cv.getBoundingClientRect();
    return [Math.floor((ev.clientY - b.top) * p.rows / b.height), Math.floor((ev.clientX - b.left) * p.cols / b.width)]; };
  cv.addEventListener('mousemove', ev => { const [i, j] = cell(ev);
    if (i >= 0 && j >= 0 && i < p.rows && j < p.cols) $('hover').textContent = p.desc(i, j) || ''; });
  cv.addEventListener('mouseleave', () => { $('hover').textContent = HOVER_HINT; });
  const plot = el('div', {class: 'plot'});
  plot.append(el('div', {class: 'ylab'}, p.ylabel || ''), wrap, el('div', {class: 'xlab'}, p.xlabel || ''));
  fig.append(cap, plot);
  return fig;
}

function embeddingText(r, v, S) {               // the batch's text, every occurrence of a dropped word marked dark
  const {m, V} = v, [bs, sl] = m.tokens.shape, box = el('div', {id: 'text', tabindex: '0', 'aria-label': 'the batch text'});
  let drop = 0, na = 0; const seen = new Map();
  for (let e = 0; e < bs; e++) {
    const para = el('p');
    for (let t = 0; t < sl; t++) {
      const id = m.tokens.at(e, t), b = id < V ? m.bit(id) : -1, w = el('span', {class: `w ${b < 0 ? 'na' : b ? 'kept' : 'dropped'}`}, wordOf(r, id));
      w.dataset.e = e; w.dataset.t = t; w.dataset.id = id; para.append(w, ' ');
      seen.set(id, b); if (b === 0) drop++; if (b < 0) na++;
    }
    box.append(para);
  }
  box.addEventListener('mouseover', ev => { const w = ev.target.closest('.w'); if (!w) return;
    const id = +w.dataset.id, b = id < V ? m.bit(id) : -1;
    $('hover').textContent = `example ${w.dataset.e}, time step ${w.dataset.t}: word ${q(wordOf(r, id))} (id ${id}): ${kd(b)}` +
                             (b === 0 ? ' (at every position of the batch)' : b < 0 ? ' (outside the recorded crop)' : ''); });
  const nd = [...seen.values()].filter(b => b === 0).length;
  const fig = el('figure', {class: 'panel'});
  fig.append(el('figcaption', {}, `The batch's text (call ${S.call + 1}): ${nd} of its ${seen.size} distinct words dropped, ` +
                `${drop} of ${bs * sl} tokens${na ? `; ${na} tokens are words outside the recorded crop (grey)` : ''}.`), box);
  return fig;
}

function spark(hist, it, p) {                   // drop rate over training (solid), p (dashed), this iteration (dot)
  const W = 260, H = 44, svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('width', W); svg.setAttribute('height', H); svg.setAttribute('id', 'spark'); svg.setAttribute('role', 'img');
  if (!hist.length) return svg;
  const xs = hist.map(h => h[0]), ys = hist.map(h => h[1]).concat(hist.map(h => h[2]));
  const x0 = xs[0], x1 = Math.max(xs[xs.length - 1], x0 + 1), y0 = Math.min(...ys), y1 = Math.max(...ys, y0 + 1e-3);
  const X = x => 3 + (W - 6) * (x - x0) / (x1 - x0), Y = y => H - 3 - (H - 6) * (y - y0) / (y1 - y0);
  const line = (pts, attrs) => { const l = document.createElementNS(svg.namespaceURI, 'polyline');
    l.setAttribute('points', pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' '));
    for (const [k, v] of Object.entries(attrs)) l.setAttribute(k, v); svg.append(l); };
  line(hist.map(h => [h[0], h[2]]), {fill: 'none', stroke: '#888', 'stroke-dasharray': '3 2'});
  line(hist.map(h => [h[0], h[1]]), {fill: 'none', stroke: `rgb(${COLORS[0].join(',')})`, 'stroke-width': 1});
  const near = hist.reduce((a, h) => Math.abs(h[0] - it) < Math.abs(a[0] - it) ? h : a, hist[0]);
  const c = document.createElementNS(svg.namespaceURI, 'circle');
  c.setAttribute('cx', X(near[0])); c.setAttribute('cy', Y(near[1])); c.setAttribute('r', 3); c.setAttribute('fill', '#d9480f'); svg.append(c);
  const t = document.createElementNS(svg.namespaceURI, 'title');
  t.textContent = `drop rate over training: from ${Math.min(...hist.map(h => h[1])).toFixed(3)} to ${Math.max(...hist.map(h => h[1])).toFixed(3)}; p dashed`;
  svg.append(t);
  return svg;
}

const HOVER_HINT = 'Point at a cell to see what it is.';
function show(ctl, n) { $(`${ctl}-ctl`).hidden = !(n > 1); const i = $(ctl); i.max = Math.max(0, n - 1); }

function render() {
  const r = RECS[S.rec], site = r.sites[S.site];
  S.pos = clamp(S.pos, r.its.length);
  const batch = r.its[S.pos];
  $('it').value = S.pos;
  $('it-out').textContent = `training iteration ${batch[0]} (epoch ${batch[1] + 1}), ${S.pos + 1} of ${r.its.length} shown`;
  const m = maskOf(r, batch, S.site, S.call);
  const ncalls = batch[2].filter(x => x[0] === S.site).length;
  show('call', ncalls); S.call = clamp(S.call, Math.max(ncalls, 1)); $('call').value = S.call;
  $('call-out').textContent = `${S.call} of 0\u2013${ncalls - 1}`;
  const panels = $('panels'); panels.replaceChildren();
  $('hover').textContent = HOVER_HINT;
  if (!m) { panels.append(el('p', {}, `${site.label} drew no mask in this iteration.`)); $('rate').textContent = ''; show('example', 0); show('step', 0); return; }
  const v = (VIEWS[site.view] && VIEWS[site.view](site, m, S, r)) || VIEWS.generic(site, m, S, r);
  show('example', v.needs.example || 0); show('step', v.needs.step || 0);
  S.example = clamp(S.example, v.needs.example || 1); S.step = clamp(S.step, v.needs.step || 1);
  $('example').value = S.example; $('step').value = S.step;
  $('example-out').textContent = `${S.example} of 0\u2013${(v.needs.example || 1) - 1}`; $('step-out').textContent = `${S.step} of 0\u2013${(v.needs.step || 1) - 1}`;
  if (v.text) panels.append(embeddingText(r, v.text, S));
  v.panels.forEach((p, k) => panels.append(draw(p, k)));
  $('rate').textContent = `${site.label}: ${site.drops}. This mask (${m.shape.join(' \u00d7 ')}): drop rate ${m.rate.toFixed(3)}, p = ${+m.p.toFixed(4)}.`;
  $('spark-box').replaceChildren(spark(r.history[S.site] || [], batch[0], m.p));
}

function setRecord(k) {
  S.rec = k; const r = RECS[k], sel = $('site');
  sel.replaceChildren(...r.sites.map((s, i) => el('option', {value: i}, `${s.label} (${s.name}, ${s.kind})`)));
  S.site = clamp(S.site, r.sites.length); sel.value = S.site;
  $('it').max = r.its.length - 1; S.pos = clamp(S.pos, r.its.length);
  $('about').textContent = r.about;
}

function step(d) { const n = RECS[S.rec].its.length; S.pos = (S.pos + d + n) % n; render(); }
function play(on) {
  if (on === (timer !== null)) return;
  if (on) timer = setInterval(() => step(1), 600); else { clearInterval(timer); timer = null; }
  $('play').textContent = on ? 'Pause' : 'Play'; $('play').setAttribute('aria-pressed', on);
}

function init() {
  const rs = $('rec');
  rs.replaceChildren(...RECS.map((r, i) => el('option', {value: i}, r.label)));
  $('rec-ctl').hidden = RECS.length < 2;
  const h = new URLSearchParams(location.hash.slice(1));   // e.g. #rec=0&site=2&it=5&call=0&example=1&step=3
  for (const k of ['rec', 'site', 'call', 'example', 'step']) if (h.has(k)) S[k] = Math.max(0, parseInt(h.get(k)) || 0);
  if (h.has('it')) S.pos = Math.max(0, parseInt(h.get('it')) || 0);
  S.rec = clamp(S.rec, RECS.length); rs.value = S.rec; setRecord(S.rec);
  rs.addEventListener('change', () => { setRecord(+rs.value); render(); });
  $('site').addEventListener('change', () => { S.site = +$('site').value; render(); });
  for (const k of ['call', 'example', 'step']) $(k).addEventListener('input', () => { S[k] = +$(k).value; render(); });
  $('it').addEventListener('input', () => { S.pos = +$('it').value; render(); });
  $('play').addEventListener('click', () => play(timer === null));
  document.addEventListener('keydown', ev => {     // arrows step through iterations unless a control has the focus
    const t = ev.target; if (t && /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(t.tagName)) return;
    if (ev.key === 'ArrowRight') step(1); else if (ev.key === 'ArrowLeft') step(-1);
    else if (ev.key === 'Home') { S.pos = 0; render(); } else if (ev.key === 'End') { S.pos = RECS[S.rec].its.length - 1; render(); }
    else if (ev.key === ' ' || ev.key === 'p') play(timer === null); else return;
    ev.preventDefault();
  });
  render();
  document.body.dataset.ready = Math.max(1, Math.round(performance.now()));   // ms from navigation to the first drawing
}
init();

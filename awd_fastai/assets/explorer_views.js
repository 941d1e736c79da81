// The mask explorer's views: awd_fastai.explorer inlines this script into every page (nbs/10_explorer.ipynb).
// Views: site -> panels. Each gets (site, m, S, r): the site's description, the mask m (m.shape, m.bit(i): 1 kept, 0 dropped,
// m.tokens: the call's token ids or null), the state S (example, step) and the recording r (r.vocab); it returns
// {panels, text, needs} or null when the mask does not have the axes it needs (the generic view is used then).
// A panel is {title, rows, cols, val(i, j) -> 1 kept / 0 dropped / -1 no element, desc(i, j) -> hover text, xlabel, ylabel,
// blocks: [{row, label}] (labelled groups of rows), mark: column to outline}. `needs`: {example: n, step: n} controls.
const kd = b => b < 0 ? 'not recorded' : b ? 'kept' : 'dropped';
const q = w => '\u201c' + w + '\u201d';
const clamp = (v, n) => Math.max(0, Math.min(v, n - 1));
const wordOf = (r, id) => r.vocab && id < r.vocab.length ? r.vocab[id] : '#' + id;
const tokenAt = (m, e, t) => m.tokens && e < m.tokens.shape[0] && t < m.tokens.shape[1] ? m.tokens.at(e, t) : null;
const atWord = (r, m, e, t) => { const id = tokenAt(m, e, t); return id === null ? '' : ` (${q(wordOf(r, id))})`; };
const axisName = (site, i, dflt) => site.axes[i] || dflt;
const cap = s => s.charAt(0).toUpperCase() + s.slice(1);

const VIEWS = {
  embedding(site, m, S, r) {                       // (vocab, 1): a row of the embedding matrix per word
    if (m.shape.length !== 2 || m.shape[1] !== 1) return null;
    const V = m.shape[0], W = Math.min(64, V), R = Math.ceil(V / W);
    const panel = {title: `The vocabulary: ${V} words${V < (r.vocab || []).length ? ' (cropped)' : ''}, ${W} per row (word id = ${W} \u00d7 row + column). A dropped word is gone from every position of the batch.`,
      rows: R, cols: W, xlabel: `word id mod ${W}`, ylabel: `word id \u00f7 ${W}`,
      val: (i, j) => i * W + j < V ? m.bit(i * W + j) : -1,
      desc: (i, j) => { const id = i * W + j; return id < V ? `word ${q(wordOf(r, id))} (id ${id}): ${kd(m.bit(id))}` : null; }};
    return {panels: [panel], text: m.tokens ? {m, V} : null, needs: {}};
  },
  locked(site, m, S, r) {                          // (example, 1, unit): one mask per example, the same at every step
    const s = m.shape;
    if (s.length !== 3 || s[1] !== 1) return null;
    const [bs, , n] = s, T = m.tokens ? m.tokens.shape[1] : 0, e = clamp(S.example, bs), u = axisName(site, 2, 'unit');
    const panels = [{title: `Examples \u00d7 ${u}s: one mask per example`, rows: bs, cols: n, xlabel: u, ylabel: 'example',
      val: (i, j) => m.bit(i * n + j), desc: (i, j) => `example ${i}, ${u} ${j}: ${kd(m.bit(i * n + j))} at every time step`}];
    if (T) panels.push({title: `${cap(u)}s \u00d7 time steps of example ${e}: the same mask at every step, so stripes`, rows: n, cols: T,
      xlabel: 'time step', ylabel: u, val: (i, j) => m.bit(e * n + i),
      desc: (i, j) => `example ${e}, time step ${j}${atWord(r, m, e, j)}, ${u} ${i}: ${kd(m.bit(e * n + i))}`});
    return {panels, needs: {example: bs}};
  },
  per_step(site, m, S, r) {                        // (example, step, unit): a fresh mask at every step
    const s = m.shape;
    if (s.length !== 3) return null;
    const [bs, sl, n] = s, e = clamp(S.example, bs), t = clamp(S.step, sl), u = axisName(site, 2, 'unit');
    const at = (ee, tt, j) => m.bit((ee * sl + tt) * n + j);
    return {needs: {example: bs, step: sl}, panels: [
      {title: `${cap(u)}s \u00d7 time steps of example ${e}: a fresh mask at every step (time step ${t} outlined)`, rows: n, cols: sl,
       xlabel: 'time step', ylabel: u, mark: t, val: (i, j) => at(e, j, i),
       desc: (i, j) => `example ${e}, time step ${j}${atWord(r, m, e, j)}, ${u} ${i}: ${kd(at(e, j, i))}`},
      {title: `Examples \u00d7 ${u}s at time step ${t}`, rows: bs, cols: n, xlabel: u, ylabel: 'example', val: (i, j) => at(i, t, j),
       desc: (i, j) => `example ${i}, time step ${t}${atWord(r, m, i, t)}, ${u} ${j}: ${kd(at(i, t, j))}`}]};
  },
  weight(site, m, S, r) {                          // (output, input), or (step, output, input): rows in gate blocks
    const s = m.shape;
    if (s.length !== 2 && s.length !== 3) return null;
    const steps = s.length === 3 ? s[0] : 0, t = clamp(S.step, steps || 1), R = s[s.length - 2], C = s[s.length - 1];
    const off = steps ? t * R * C : 0, g = site.gates.length, blocked = g > 0 && R % g === 0, nh = blocked ? R / g : R;
    const val = (i, j) => m.bit(off + i * C + j), when = steps ? `, time step ${t}` : '';
    const panel = {rows: R, cols: C, val,
      title: (blocked ? `Gate blocks ${site.gates.join(', ')} (rows) \u00d7 h(t-1) units (columns)` : 'Outputs (rows) \u00d7 inputs (columns)') +
             (steps ? `, at time step ${t} (a fresh matrix at every step)` : ': one matrix for every time step of the call'),
      xlabel: blocked ? 'h(t-1) unit' : 'input', ylabel: blocked ? 'gate block, unit' : 'output',
      blocks: blocked ? site.gates.map((label, k) => ({row: k * nh, label})) : [],
      desc: (i, j) => (blocked ? `gate ${site.gates[Math.floor(i / nh)]}, unit ${i % nh} (row ${i}) \u2190 h(t-1) unit ${j}`
                               : `output ${i}, input ${j}`) + `${when}: ${kd(val(i, j))}`};
    return {panels: [panel], needs: steps ? {step: steps} : {}};
  },
  generic(site, m, S, r) {                         // any mask: its last two axes of size > 1, by `site.axes`
    const s = m.shape, named = site.axes.length === s.length;
    const dims = s.map((n, i) => ({i, n, name: named ? site.axes[i] || `axis ${i}` : `axis ${i}`})).filter(d => d.n > 1);
    const strides = s.map((_, i) => s.slice(i + 1).reduce((a, b) => a * b, 1));
    const lead = dims.slice(0, Math.max(0, dims.length - 2)), needs = {}, fixed = {};
    for (const d of lead) {                        // leading axes: 'example' and 'step' have controls, others show index 0
      const c = d.name === 'example' ? 'example' : d.name === 'step' ? 'step' : null;
      if (c && !(c in needs)) { needs[c] = d.n; fixed[d.i] = clamp(S[c], d.n); } else fixed[d.i] = 0;
    }
    const base = Object.entries(fixed).reduce((a, [i, v]) => a + v * strides[i], 0);
    const where = lead.map(d => `${d.name} ${fixed[d.i]}`).join(', ');
    const pre = where ? where + ', ' : '';
    if (dims.length <= 1) {                        // one axis (or one element): wrapped, 64 per row
      const d = dims[0] || {i: 0, n: 1, name: named && site.axes[0] ? site.axes[0] : 'element'}, W = Math.min(64, d.n);
      const st = dims.length ? strides[d.i] : 0;
      return {needs, panels: [{title: `${d.n} ${d.name}s, ${W} per row (${d.name} = ${W} \u00d7 row + column)`, rows: Math.ceil(d.n / W),
        cols: W, xlabel: `${d.name} mod ${W}`, ylabel: `${d.name} \u00f7 ${W}`,
        val: (i, j) => i * W + j < d.n ? m.bit((i * W + j) * st) : -1,
        desc: (i, j) => i * W + j < d.n ? `${d.name} ${i * W + j}: ${kd(m.bit((i * W + j) * st))}` : null}]};
    }
    const [a, b] = dims.slice(-2), at = (i, j) => m.bit(base + i * strides[a.i] + j * strides[b.i]);
    return {needs, panels: [{title: `${cap(a.name)} \u00d7 ${b.name}` + (where ? ` at ${where}` : '') + ` (${site.kind}: a generic view by its axes)`,
      rows: a.n, cols: b.n, xlabel: b.name, ylabel: a.name, val: at, desc: (i, j) => `${pre}${a.name} ${i}, ${b.name} ${j}: ${kd(at(i, j))}`}]};
  },
};

import type { OpeResult } from '../core/ope';
import type { ReplaySummary } from './run-replay';

// One self-contained HTML file: inline CSS and SVG, no scripts, fonts or network.

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const f = (x: number | null | undefined, d = 4): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d);
const pct = (x: number | null | undefined): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(3)}%`;

/** "Nice" tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, n = 6): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const step0 = span / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => span / s <= n) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function forestPlot(s: ReplaySummary): string {
  const rows = Object.entries(s.estimates);
  const W = 860;
  const rowH = 30;
  const left = 120;
  const right = 30;
  const top = 50;
  const H = top + rows.length * rowH + 40;
  const xs: number[] = [s.onPolicyMeanReward, ...(s.truth !== undefined ? [s.truth] : [])];
  for (const [, e] of rows) {
    if (e.value !== null) xs.push(e.value);
    if (e.ci95) xs.push(e.ci95[0], e.ci95[1]);
  }
  const finite = xs.filter(Number.isFinite);
  let lo = Math.min(0, ...finite);
  let hi = Math.max(...finite);
  const pad = (hi - lo) * 0.05 || 0.001;
  lo = lo < 0 ? lo - pad : 0;
  hi += pad;
  const X = (v: number): number => left + ((v - lo) / (hi - lo)) * (W - left - right);
  const parts: string[] = [];
  for (const t of ticks(lo, hi)) {
    parts.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${top - 6}" y2="${H - 34}" class="grid"/>`);
    parts.push(`<text x="${X(t)}" y="${H - 18}" class="tick" text-anchor="middle">${pct(t)}</text>`);
  }
  const ref = X(s.onPolicyMeanReward);
  parts.push(`<line x1="${ref}" x2="${ref}" y1="${top - 28}" y2="${H - 34}" class="ref"/>`);
  parts.push(
    `<text x="${ref + 4}" y="${top - 32}" class="reflabel">logger's on-policy mean ${pct(s.onPolicyMeanReward)}</text>`,
  );
  if (s.truth !== undefined) {
    const tx = X(s.truth);
    parts.push(`<line x1="${tx}" x2="${tx}" y1="${top - 12}" y2="${H - 34}" class="truth"/>`);
    // Put the label on whichever side of the line has room.
    const leftSide = tx > W * 0.6;
    parts.push(
      `<text x="${leftSide ? tx - 4 : tx + 4}" y="${top - 16}" class="truthlabel" text-anchor="${leftSide ? 'end' : 'start'}">truth ${pct(s.truth)}</text>`,
    );
  }
  rows.forEach(([name, e], i) => {
    const y = top + i * rowH + rowH / 2;
    if (i % 2 === 0)
      parts.push(`<rect x="0" y="${y - rowH / 2}" width="${W}" height="${rowH}" class="band"/>`);
    parts.push(`<text x="${left - 12}" y="${y + 4}" text-anchor="end" class="name">${esc(name)}</text>`);
    const cls = e.exact ? 'exact' : 'approx';
    if (e.ci95 && Number.isFinite(e.ci95[0]) && Number.isFinite(e.ci95[1])) {
      const [a, b] = [X(e.ci95[0]), X(e.ci95[1])];
      parts.push(`<line x1="${a}" x2="${b}" y1="${y}" y2="${y}" class="ci ${cls}"/>`);
      parts.push(
        `<line x1="${a}" x2="${a}" y1="${y - 6}" y2="${y + 6}" class="ci ${cls}"/><line x1="${b}" x2="${b}" y1="${y - 6}" y2="${y + 6}" class="ci ${cls}"/>`,
      );
    }
    if (e.value !== null)
      parts.push(
        `<circle cx="${X(e.value)}" cy="${y}" r="5.5" class="pt ${cls}"><title>${esc(name)}: ${pct(e.value)}</title></circle>`,
      );
  });
  // Background bands go first so points sit on top.
  const bands = parts.filter((p) => p.startsWith('<rect'));
  const rest = parts.filter((p) => !p.startsWith('<rect'));
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="estimates with 95% intervals">${bands.join('')}${rest.join('')}</svg>`;
}

function histogram(weights: Float64Array): string {
  const W = 860;
  const H = 240;
  const left = 60;
  const bottom = 40;
  const top = 16;
  const positive = Array.from(weights).filter((w) => w > 0);
  const zeros = weights.length - positive.length;
  if (positive.length === 0) return '<p class="muted">All weights are zero.</p>';
  // Log-spaced bins: weights π/μ span orders of magnitude (0.04 … 180 on OBD).
  let lo = Math.floor(Math.log10(Math.min(...positive)) * 4) / 4;
  let hi = Math.ceil(Math.log10(Math.max(...positive)) * 4) / 4;
  if (hi - lo < 0.5) {
    lo -= 0.25;
    hi += 0.25;
  }
  const nb = Math.round((hi - lo) * 8);
  const counts = new Array<number>(nb).fill(0);
  for (const w of positive)
    counts[Math.min(nb - 1, Math.max(0, Math.floor(((Math.log10(w) - lo) / (hi - lo)) * nb)))]++;
  const maxC = Math.max(...counts) * 1.12; // headroom for the w = 1 label
  const bw = (W - left - 20) / nb;
  const Y = (c: number): number => H - bottom - (c / maxC) * (H - bottom - top);
  const parts: string[] = [];
  for (const t of ticks(0, maxC, 4).filter((t) => t <= maxC)) {
    parts.push(`<line x1="${left}" x2="${W - 20}" y1="${Y(t)}" y2="${Y(t)}" class="grid"/>`);
    parts.push(`<text x="${left - 8}" y="${Y(t) + 4}" text-anchor="end" class="tick">${t}</text>`);
  }
  counts.forEach((c, i) => {
    if (c > 0)
      parts.push(
        `<rect x="${left + i * bw + 1}" y="${Y(c)}" width="${Math.max(1, bw - 2)}" height="${H - bottom - Y(c)}" class="bar"><title>${c} slots with weight in [${(10 ** (lo + (i * (hi - lo)) / nb)).toPrecision(3)}, ${(10 ** (lo + ((i + 1) * (hi - lo)) / nb)).toPrecision(3)})</title></rect>`,
      );
  });
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) {
    const x = left + ((e - lo) / (hi - lo)) * (W - left - 20);
    parts.push(`<line x1="${x}" x2="${x}" y1="${H - bottom}" y2="${H - bottom + 5}" class="axis"/>`);
    parts.push(
      `<text x="${x}" y="${H - bottom + 18}" text-anchor="middle" class="tick">${10 ** e >= 1 ? 10 ** e : (10 ** e).toPrecision(1)}</text>`,
    );
  }
  const one = left + ((0 - lo) / (hi - lo)) * (W - left - 20);
  if (one >= left && one <= W - 20)
    parts.push(
      `<line x1="${one}" x2="${one}" y1="${top}" y2="${H - bottom}" class="ref"/><text x="${one + 4}" y="${top + 10}" class="reflabel">w = 1</text>`,
    );
  parts.push(`<line x1="${left}" x2="${W - 20}" y1="${H - bottom}" y2="${H - bottom}" class="axis"/>`);
  parts.push(
    `<text x="${(left + W - 20) / 2}" y="${H - 4}" text-anchor="middle" class="tick">weight π(item at position) / μ(item at position), log scale</text>`,
  );
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="weight histogram">${parts.join('')}</svg>${
    zeros
      ? `<p class="muted">${zeros} slots have weight 0 (π never shows that item there) and are not drawn.</p>`
      : ''
  }`;
}

function replayCurve(r: NonNullable<OpeResult['replay']>, policy: string): string {
  const W = 860;
  const H = 260;
  const left = 70;
  const right = 20;
  const top = 20;
  const bottom = 44;
  const n = r.time.length;
  if (n < 2) return '<p class="muted">Too few slates for a curve.</p>';
  const t0 = r.time[0];
  const t1 = r.time[n - 1] > t0 ? r.time[n - 1] : t0 + 1;
  // Skip the first points of the evaluated policy: with a handful of accepted slots the mean is noise.
  const all = [
    ...r.policyMean.filter((v, i) => Number.isFinite(v) && r.accepted[i] >= 30),
    ...r.loggedMean.filter(Number.isFinite),
  ];
  const hi = Math.max(...all, 1e-6) * 1.1;
  const X = (t: number): number => left + ((t - t0) / (t1 - t0)) * (W - left - right);
  const Y = (v: number): number => H - bottom - (v / hi) * (H - bottom - top);
  const path = (vals: number[], ok: (i: number) => boolean): string => {
    let d = '';
    vals.forEach((v, i) => {
      if (!Number.isFinite(v) || !ok(i)) return;
      d += `${d ? 'L' : 'M'}${X(r.time[i]).toFixed(1)},${Y(v).toFixed(1)}`;
    });
    return d;
  };
  const parts: string[] = [];
  for (const t of ticks(0, hi, 5)) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${Y(t)}" y2="${Y(t)}" class="grid"/>`);
    parts.push(`<text x="${left - 8}" y="${Y(t) + 4}" text-anchor="end" class="tick">${pct(t)}</text>`);
  }
  // Ticks on whole UTC days (or hours for short logs), not on the first logged instant.
  const step = (t1 - t0) / 86_400_000 > 2 ? 86_400_000 : 3_600_000;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    parts.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${H - bottom}" y2="${H - bottom + 5}" class="axis"/>`);
    parts.push(
      `<text x="${X(t)}" y="${H - bottom + 18}" text-anchor="middle" class="tick">${esc(step === 86_400_000 ? new Date(t).toISOString().slice(0, 10) : new Date(t).toISOString().slice(11, 16))}</text>`,
    );
  }
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}" class="axis"/>`);
  parts.push(`<path d="${path(r.loggedMean, () => true)}" class="line logged"/>`);
  parts.push(`<path d="${path(r.policyMean, (i) => r.accepted[i] >= 30)}" class="line policy"/>`);
  parts.push(
    `<text x="${(left + W - right) / 2}" y="${H - 4}" text-anchor="middle" class="tick">logged time (UTC)</text>`,
  );
  const legend = `<div class="legend"><span><i class="sw policy"></i>${esc(policy)} (replay, ${r.acceptedSlots} accepted slots)</span><span><i class="sw logged"></i>logging policy (all slots)</span></div>`;
  return `${legend}<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="cumulative mean reward">${parts.join('')}</svg>`;
}

const CSS = `
:root{--ink:#1d2433;--muted:#667085;--line:#e4e7ec;--band:#f8f9fb;--exact:#2457c5;--approx:#d9822b;--logged:#8a94a6}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);background:#fff}
main{max-width:920px;margin:0 auto;padding:28px 30px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:30px 0 8px;padding-top:14px;border-top:1px solid var(--line)}
.sub{color:var(--muted);margin:0 0 16px}.sub code{overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:10px;margin:12px 0 4px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px}.card b{display:block;font-size:18px}.card span{color:var(--muted);font-size:12px}
svg{display:block;max-width:100%;height:auto;font-family:inherit}
.grid{stroke:var(--line)}.axis{stroke:#98a2b3}.tick{fill:var(--muted);font-size:11px}.name{font-size:13px;font-weight:600;fill:var(--ink)}
.band{fill:var(--band)}.ref{stroke:#12805c;stroke-dasharray:4 3;stroke-width:1.5}.truth{stroke:#b42318;stroke-width:1.5}.truthlabel{fill:#b42318;font-size:11px;font-weight:600}.reflabel{fill:#12805c;font-size:11px}
.ci{stroke-width:2.2}.ci.exact{stroke:var(--exact)}.ci.approx{stroke:var(--approx)}
.pt.exact{fill:var(--exact)}.pt.approx{fill:#fff;stroke:var(--approx);stroke-width:2.2}
.bar{fill:#5b7fd6}.line{fill:none;stroke-width:2}.line.policy{stroke:var(--exact)}.line.logged{stroke:var(--logged);stroke-dasharray:5 3}
.legend{display:flex;gap:18px;color:var(--muted);font-size:12px;margin:4px 0}.sw{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:6px}
.sw.policy{background:var(--exact)}.sw.logged{background:var(--logged)}.sw.exact{background:var(--exact)}.sw.approx{background:var(--approx)}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:right}
th:first-child,td:first-child,td.note,th:last-child{text-align:left}td.note{color:var(--muted);font-size:12px}th{color:var(--muted);font-weight:600;white-space:nowrap}
.muted{color:var(--muted);font-size:12px}code{font-size:12px;background:var(--band);padding:1px 4px;border-radius:4px}
`;

/** The report of one `reco replay` run. */
export function renderReportHtml(s: ReplaySummary, r: OpeResult): string {
  const rejected = Object.entries(s.rows.rejectedByReason)
    .map(([k, v]) => `${v} × ${esc(k)}`)
    .join(', ');
  const table = Object.entries(s.estimates)
    .map(
      ([name, e]) =>
        `<tr><td><b>${esc(name)}</b></td><td>${pct(e.value)}</td><td>${pct(e.ci95?.[0])}</td><td>${pct(e.ci95?.[1])}</td><td>${e.ess === null ? '—' : e.ess.toFixed(0)}</td><td>${e.exact ? 'yes' : 'no'}</td><td class="note">${esc(e.note)}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>reco replay: ${esc(s.policy)} on ${esc(s.log)}</title><style>${CSS}</style></head>
<body><main>
<h1>Off-policy evaluation of <code>${esc(s.policy)}</code></h1>
<p class="sub">log <code>${esc(s.log)}</code> (${esc(s.format)}), logging policy treated as <b>${esc(s.behaviour)}</b> · ${s.bootstrap.resamples} bootstrap resamples, seed ${s.bootstrap.seed}</p>
<div class="cards">
<div class="card"><b>${s.rows.used.toLocaleString('en-US')}</b><span>rows used of ${s.rows.read.toLocaleString('en-US')} read</span></div>
<div class="card"><b>${s.rows.rejected.toLocaleString('en-US')}</b><span>rows rejected${rejected ? `: ${rejected}` : ''}</span></div>
<div class="card"><b>${s.slates.toLocaleString('en-US')}</b><span>slates (${s.rows.slots.toLocaleString('en-US')} slots, ${s.items} items)</span></div>
<div class="card"><b>${pct(s.onPolicyMeanReward)}</b><span>on-policy mean reward of the log${s.truth !== undefined ? ` · truth given: ${pct(s.truth)}` : ''}</span></div>
</div>
<h2>Estimated value per slot, with 95% bootstrap intervals</h2>
<div class="legend"><span><i class="sw exact"></i>exact / unbiased under this logger</span><span><i class="sw approx"></i>biased or approximate (see note)</span></div>
${forestPlot(s)}
<table><thead><tr><th>estimator</th><th>value</th><th>95% low</th><th>95% high</th><th>ESS</th><th>exact</th><th>note</th></tr></thead><tbody>${table}</tbody></table>
<h2>Distribution of the importance weights</h2>
<p class="muted">Per-slot weights of IPS/DR; effective sample size ${f(r.estimates.ipw?.ess ?? null, 0)} of ${s.rows.slots} slots.</p>
${histogram(r.weights)}
${r.replay ? `<h2>Replay: cumulative mean reward over logged time</h2>${replayCurve(r.replay, s.policy)}` : ''}
<p class="muted" style="margin-top:28px">Generated by <code>reco replay</code>. Estimators and their assumptions: docs/ope.md.</p>
</main></body></html>
`;
}

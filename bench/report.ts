// The bench report: a Markdown table with ratios and target checks, and a hand-written SVG chart.
export type Measurement = {
  target: string;
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
  rssMb: number;
  /** CPU milliseconds per request (per flow for the multi-request scenarios) over the measured window. */
  cpuMainMs: number;
  cpuTotalMs: number;
  note?: string;
};

export type RunInfo = {
  date: string;
  cpu: string;
  cores: number;
  node: string;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  totalSeconds: number;
  commit: string;
};

/** Which measurement each target is compared with: the baseline of the same worker count. */
const REFERENCE: Record<string, string> = {
  'gatehouse-sqlite': 'baseline',
  'gatehouse-postgresql': 'baseline',
  'gatehouse-postgresql-2w': 'gatehouse-postgresql',
  'baseline-2w': 'baseline',
};

const find = (all: Measurement[], target: string, scenario: string) => all.find((m) => m.target === target && m.scenario === scenario);

const reference = (all: Measurement[], m: Measurement) => {
  const ref = REFERENCE[m.target];
  return ref ? find(all, ref, m.scenario) : undefined;
};

function ratio(all: Measurement[], m: Measurement): number | undefined {
  const base = reference(all, m);
  return base && base.rps > 0 ? m.rps / base.rps : undefined;
}

/** `value / its reference's`, as "1.23 ×", or empty when there is none (or it is zero). */
function ratioOf(all: Measurement[], m: Measurement, field: 'rps' | 'p50' | 'p99' | 'rssMb' | 'cpuMainMs' | 'cpuTotalMs'): string {
  const base = reference(all, m);
  return base && base[field] > 0 ? `${(m[field] / base[field]).toFixed(2)} ×` : '';
}

type Check = { what: string; measured: string; target: string; met: boolean | undefined };

function checks(all: Measurement[]): Check[] {
  const out: Check[] = [];
  const cc = (t: string) => find(all, t, 'client_credentials');
  const base = cc('baseline');
  for (const [t, min] of [
    ['gatehouse-sqlite', 0.85],
    ['gatehouse-postgresql', 0.8],
  ] as const) {
    const m = cc(t);
    if (!m || !base) continue;
    const r = m.rps / base.rps;
    out.push({ what: `${t}: client credentials req/s vs baseline`, measured: `${r.toFixed(2)} ×`, target: `≥ ${min} ×`, met: r >= min });
    const p = m.p99 / base.p99;
    out.push({ what: `${t}: client credentials p99 vs baseline`, measured: `${m.p99.toFixed(1)} ms vs ${base.p99.toFixed(1)} ms (${p.toFixed(2)} ×)`, target: '≤ 2 ×', met: p <= 2 });
  }
  for (const t of ['gatehouse-sqlite', 'gatehouse-postgresql']) {
    const m = cc(t);
    if (m && base && base.cpuTotalMs > 0) {
      const r = m.cpuTotalMs / base.cpuTotalMs;
      out.push({ what: `${t}: client credentials whole-process CPU per token vs baseline`, measured: `${m.cpuTotalMs.toFixed(3)} ms vs ${base.cpuTotalMs.toFixed(3)} ms (${r.toFixed(2)} ×)`, target: '≤ 1.2 ×', met: r <= 1.2 });
    }
    for (const [scenario, min] of [
      ['discovery', 1.0],
      ['jwks', 1.0],
      ['refresh_rotation', 0.7],
      ['sign_in', 0.8],
      // Introspection, with and without token_type_hint: ≥ 0.7 × on SQLite, ≥ 0.6 × on PostgreSQL.
      ['introspection', t === 'gatehouse-sqlite' ? 0.7 : 0.6],
      ['introspection_hint', t === 'gatehouse-sqlite' ? 0.7 : 0.6],
    ] as const) {
      const g = find(all, t, scenario);
      const b = find(all, 'baseline', scenario);
      if (!g || !b || b.rps <= 0) continue;
      const r = g.rps / b.rps;
      out.push({ what: `${t}: ${scenario} req/s vs baseline`, measured: `${r.toFixed(2)} ×`, target: `≥ ${min} ×`, met: r >= min });
    }
  }
  const gatehouse = all.filter((m) => m.target.startsWith('gatehouse'));
  if (gatehouse.length) {
    const errors = gatehouse.reduce((a, m) => a + m.errors, 0);
    out.push({ what: 'Gatehouse: errors (non-2xx + socket errors + failed flows), all scenarios', measured: String(errors), target: '0', met: errors === 0 });
    const rss = Math.max(...gatehouse.filter((m) => !m.target.endsWith('-2w')).map((m) => m.rssMb));
    out.push({ what: 'Gatehouse: max RSS under load (one process)', measured: `${rss.toFixed(0)} MB`, target: '≤ 250 MB', met: rss <= 250 });
    // The process has served the scenarios before sign-in: its RSS includes what they left.
    for (const m of gatehouse.filter((g) => g.scenario === 'sign_in' && !g.target.endsWith('-2w'))) {
      out.push({ what: `${m.target}: RSS under 32 concurrent sign-ins`, measured: `${m.rssMb.toFixed(0)} MB`, target: '≤ 250 MB', met: m.rssMb <= 250 });
    }
  }
  for (const [scenario, min] of [
    ['discovery', 1.6],
    ['introspection', 1.6],
    ['client_credentials', 1.2],
  ] as const) {
    const two = find(all, 'gatehouse-postgresql-2w', scenario);
    const one = find(all, 'gatehouse-postgresql', scenario);
    if (!two || !one) continue;
    const r = two.rps / one.rps;
    out.push({ what: `2 workers vs 1 process (PostgreSQL): ${scenario}`, measured: `${r.toFixed(2)} ×`, target: `≥ ${min} ×`, met: r >= min });
  }
  return out;
}

export function renderMarkdown(all: Measurement[], info: RunInfo, profile: string | undefined): string {
  const rows = all.map((m) => {
    const r = ratio(all, m);
    return `| ${m.target} | ${m.scenario} | ${m.rps.toFixed(0)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} | ${m.errors}${m.note ? ` (${m.note.replace(/\|/g, '/')})` : ''} | ${m.rssMb.toFixed(0)} | ${m.cpuMainMs.toFixed(3)} | ${m.cpuTotalMs.toFixed(3)} | ${r === undefined ? '' : `${r.toFixed(2)} × ${REFERENCE[m.target]}`} |`;
  });
  const ratioRows = all
    .filter((m) => reference(all, m))
    .map((m) => `| ${m.target} | ${m.scenario} | ${REFERENCE[m.target]} | ${ratioOf(all, m, 'rps')} | ${ratioOf(all, m, 'p50')} | ${ratioOf(all, m, 'p99')} | ${ratioOf(all, m, 'rssMb')} | ${ratioOf(all, m, 'cpuMainMs')} | ${ratioOf(all, m, 'cpuTotalMs')} |`);
  const c = checks(all);
  return [
    '# Gatehouse benchmark',
    '',
    `Numbers from one run of \`npm run bench\` on ${info.date} (commit ${info.commit}): ${info.cpu}, ${info.cores} cores, Node.js ${info.node}.`,
    `Each scenario: ${info.warmupSeconds} s warm-up, then ${info.durationSeconds} s at ${info.connections} concurrent connections (flows: ${info.connections} concurrent loops). Whole run: ${info.totalSeconds.toFixed(0)} s.`,
    'They describe that run on that machine only; anything else running there at the same time lowers them.',
    '',
    'Targets: `baseline` is a bare oidc-provider 9.13.3 with its in-memory adapter and one static client (bench/baseline-server.ts);',
    '`gatehouse-*` is `node dist/server.js` with NODE_ENV=production (`-2w`: `node dist/cluster.js`, WEB_CONCURRENCY=2). Flows count complete flows per second:',
    '`sign_in` is GET /auth → login (argon2id) → consent → code → token exchange; `refresh_rotation` is one rotation per request, each connection following its own chain;',
    '`device_flow` is device authorization → code entry → approval by a signed-in browser → token poll (Gatehouse only: the baseline has no device pages).',
    '',
    'CPU ms/req is CPU time over the measured window divided by the requests (flows) served in it, from `/proc/<pid>/task/<pid>/stat`',
    '(main: the JavaScript thread) and `/proc/<pid>/stat` (whole: every thread, libuv\'s pool with signatures and argon2 included); cluster targets sum their processes.',
    'CPU per request is steadier than req/s on a machine the load generator shares.',
    '',
    '| Target | Scenario | req/s | p50 ms | p99 ms | Errors | RSS max MB | CPU main ms/req | CPU whole ms/req | Ratio |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    ...(ratioRows.length
      ? [
          '### Each figure against its reference',
          '',
          'Above 1 is better for req/s, worse for the others.',
          '',
          '| Target | Scenario | Reference | req/s | p50 | p99 | RSS | CPU main | CPU whole |',
          '|---|---|---|---|---|---|---|---|---|',
          ...ratioRows,
          '',
        ]
      : []),
    '## Targets',
    '',
    '| Check | Measured | Target | Met |',
    '|---|---|---|---|',
    ...c.map((x) => `| ${x.what} | ${x.measured} | ${x.target} | ${x.met === undefined ? '' : x.met ? 'yes' : '**no**'} |`),
    '',
    '![chart](latest.svg)',
    '',
    ...(profile ? [profile.replace(/^# /, '## ').replace(/\n## /g, '\n### ')] : []),
  ].join('\n');
}

const COLOURS: Record<string, string> = {
  baseline: '#8c8c8c',
  'gatehouse-sqlite': '#2f6db5',
  'gatehouse-postgresql': '#2f9e6d',
  'gatehouse-postgresql-2w': '#7a4fb5',
  'baseline-2w': '#c4c4c4',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Horizontal bars, one group per scenario, scaled to the fastest target of that scenario. */
export function renderSvg(all: Measurement[]): string {
  const scenarios = [...new Set(all.map((m) => m.scenario))];
  const targets = [...new Set(all.map((m) => m.target))];
  const barH = 14;
  const labelW = 150;
  const barW = 420;
  const parts: string[] = [];
  let y = 40;
  for (const scenario of scenarios) {
    const ms = all.filter((m) => m.scenario === scenario);
    const max = Math.max(...ms.map((m) => m.rps), 1);
    parts.push(`<text x="10" y="${y + 11}" font-weight="bold">${esc(scenario)}</text>`);
    y += 18;
    for (const m of ms) {
      const w = Math.max(1, (m.rps / max) * barW);
      parts.push(`<text x="20" y="${y + 11}" font-size="11">${esc(m.target)}</text>`);
      parts.push(`<rect x="${labelW + 20}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${COLOURS[m.target] ?? '#444'}"/>`);
      parts.push(`<text x="${(labelW + 26 + w).toFixed(1)}" y="${y + 11}" font-size="11">${m.rps.toFixed(0)} req/s · p99 ${m.p99.toFixed(0)} ms</text>`);
      y += barH;
    }
    y += 10;
  }
  const legend = targets.map((t, i) => `<rect x="${10 + i * 150}" y="10" width="10" height="10" fill="${COLOURS[t] ?? '#444'}"/><text x="${24 + i * 150}" y="19" font-size="11">${esc(t)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.max(760, 20 + targets.length * 150)}" height="${y + 10}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${legend}
${parts.join('\n')}
</svg>
`;
}

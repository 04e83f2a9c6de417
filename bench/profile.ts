// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per package, so the
// report can say where the server spends its CPU during client credentials.
type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number };
type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

/** Where a script lives, shortened: `node_modules/<pkg>`, `dist/...`, `node:internal`, or the V8 category. */
function ownerOf(url: string, root: string): string {
  if (!url) return '(native / V8)';
  const file = url.replace(/^file:\/\//, '').replace(root, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return pkg[1]!;
  if (file.startsWith('node:')) return 'node (core)';
  return file.startsWith('dist/') ? 'gatehouse (dist/)' : file;
}

/**
 * `window` (monotonic microseconds, the profile's own clock) keeps only the samples taken while
 * load ran; without it, or when no sample falls inside it, the whole profile is summarised.
 */
export function summariseProfile(json: string, root: string, window?: { startUs: number; endUs: number }, scenario = 'client_credentials'): string {
  const profile = JSON.parse(json) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time from samples and their time deltas (microseconds), more exact than hitCount.
  const collect = (inWindow: (t: number) => boolean) => {
    const self = new Map<number, number>();
    let t = profile.startTime;
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas[i] ?? 0;
      t += delta;
      if (inWindow(t)) self.set(id, (self.get(id) ?? 0) + delta);
    });
    return self;
  };
  let selfUs = window ? collect((t) => t >= window.startUs && t <= window.endUs) : new Map<number, number>();
  const windowed = selfUs.size > 0;
  if (!windowed) selfUs = collect(() => true);
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const owner = ownerOf(url, root);
    const key = `${functionName || '(anonymous)'} — ${url ? `${url.replace(/^file:\/\//, '').replace(root, '')}:${lineNumber + 1}` : owner}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    pkg.set(owner, (pkg.get(owner) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1)} %`;
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  const lines = [
    `# CPU profile: Gatehouse on SQLite during the ${scenario} scenario`,
    '',
    `Sampled with \`node --cpu-prof\` on the server process; ${(total / 1e6).toFixed(1)} s of samples ${windowed ? 'taken while the measured load ran (start-up, seeding and warm-up left out)' : '(the whole process life: start-up included)'}; "(idle)" is time the main thread waited.`,
    '',
    '## Self time by package',
    '',
    '| Package / area | Self time |',
    '|---|---|',
    ...top(pkg, 15).map(([k, v]) => `| ${k} | ${pct(v)} |`),
    '',
    '## Top 25 functions by self time',
    '',
    '| Function — location | Self time |',
    '|---|---|',
    ...top(fn, 25).map(([k, v]) => `| ${k.replace(/\|/g, '\\|')} | ${pct(v)} |`),
    '',
  ];
  return lines.join('\n');
}

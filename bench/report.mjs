// bench/report.mjs RESULTS_DIR: turns bench/run's raw measurements into the report.
//   reads  raw/points.jsonl, raw/memory.jsonl, raw/callgrind.json, raw/wrk.json, raw/run.json
//   writes summary.md (also printed), results.json, latency.dat and latency.png (gnuplot)
// Every figure is a ratio or a difference against a reference measured in the same run.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.argv[2];
if (!dir) { console.error('usage: node bench/report.mjs RESULTS_DIR'); process.exit(2); }
const here = dirname(fileURLToPath(import.meta.url));

const lines = (f) => existsSync(f)
  ? readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)) : [];
const json = (f) => existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null;

const points = lines(join(dir, 'raw/points.jsonl'));
const memory = lines(join(dir, 'raw/memory.jsonl'));
const callgrind = json(join(dir, 'raw/callgrind.json'));
const wrk = json(join(dir, 'raw/wrk.json'));
const run = json(join(dir, 'raw/run.json')) ?? {};

const order = ['direct', 'nginx', 'sluice', 'portkey'];
const subjects = order.filter((s) => points.some((p) => p.subject === s));
const scenarios = [...new Set(points.map((p) => p.scenario))];
const find = (scenario, subject) => points.find((p) => p.scenario === scenario && p.subject === subject)?.result;

const f = (x, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
const ratio = (a, b) => (a == null || b == null || b <= 0 ? null : a / b);
const pct = ['p50', 'p90', 'p99'];

// ---------------------------------------------------------------- the numbers
const results = { run, scenarios: {}, throughput: {}, memory, callgrind, wrk_check: wrk, targets: [] };
if (callgrind?.bare)
  results.policy_stack = { instructions_per_request_full: callgrind.instructions_per_request,
    instructions_per_request_bare: callgrind.bare.instructions_per_request,
    added: callgrind.instructions_per_request - callgrind.bare.instructions_per_request };
for (const sc of scenarios) {
  const direct = find(sc, 'direct');
  results.scenarios[sc] = {};
  for (const s of subjects) {
    const r = find(sc, s);
    if (!r) continue;
    const entry = {
      requests: r.requests, errors: r.errors, throughput_rps: r.throughput_rps,
      latency_ms: r.latency_ms, ttfb_ms: r.ttfb_ms,
    };
    if (direct && s !== 'direct') {
      entry.added_latency_ms = Object.fromEntries(pct.map((p) => [p, r.latency_ms[p] - direct.latency_ms[p]]));
      entry.added_ttfb_ms = Object.fromEntries(pct.map((p) => [p, r.ttfb_ms[p] - direct.ttfb_ms[p]]));
    }
    results.scenarios[sc][s] = entry;
  }
  const t = (s) => find(sc, s)?.throughput_rps;
  results.throughput[sc] = {
    sluice_rps: t('sluice') ?? null, nginx_rps: t('nginx') ?? null, portkey_rps: t('portkey') ?? null,
    sluice_to_nginx: ratio(t('sluice'), t('nginx')), sluice_to_portkey: ratio(t('sluice'), t('portkey')),
  };
}

// ---------------------------------------------------------------- targets of issue 4
const added = (sc, s, p = 'p50', what = 'added_latency_ms') => results.scenarios[sc]?.[s]?.[what]?.[p];
const target = (name, value, bar, met, note = '') => results.targets.push({ name, value, bar, met, note });
{
  const sc = 'chat-c16';
  const [sl, ng, pk] = [added(sc, 'sluice'), added(sc, 'nginx'), added(sc, 'portkey')];
  const v = ratio(sl, ng);
  target('added p50 at c16: sluice / nginx', v, '≤ 1.5', v == null ? null : v <= 1.5,
    `sluice +${f(sl)} ms, nginx +${f(ng)} ms`);
  const w = ratio(pk, sl);
  target('added p50 at c16: Portkey / sluice', w, '≥ 10', w == null ? null : w >= 10,
    `Portkey +${f(pk)} ms, sluice +${f(sl)} ms`);
}
{
  const sc = scenarios.includes('chat-c64') ? 'chat-c64' : null;
  const t = sc ? results.throughput[sc] : {};
  target('throughput at c64: sluice / nginx', t.sluice_to_nginx ?? null, '≥ 0.7',
    t.sluice_to_nginx == null ? null : t.sluice_to_nginx >= 0.7, `${f(t.sluice_rps, 0)} vs ${f(t.nginx_rps, 0)} req/s`);
  target('throughput at c64: sluice / Portkey', t.sluice_to_portkey ?? null, '≥ 10',
    t.sluice_to_portkey == null ? null : t.sluice_to_portkey >= 10, `${f(t.sluice_rps, 0)} vs ${f(t.portkey_rps, 0)} req/s`);
}
for (const sc of scenarios.filter((s) => s.startsWith('stream-'))) {
  const v = added(sc, 'sluice', 'p99', 'added_ttfb_ms');
  target(`streaming (${sc}): added time to first event, p99`, v, '< 1 ms', v == null ? null : v < 1,
    `direct p99 ${f(results.scenarios[sc]?.direct?.ttfb_ms?.p99)} ms`);
}
{
  const m = memory.find((x) => x.subject === 'sluice');
  const v = m?.kib_per_stream ?? null;
  target(`open streams: resident memory per stream (${m ? m.streams_open : 0} open)`, v, '< 40 KB (39.06 KiB)',
    v == null ? null : v * 1024 < 40000, m ? `RSS ${m.rss_before_kib} → ${m.rss_during_kib} KiB` : 'not measured');
}
writeFileSync(join(dir, 'results.json'), JSON.stringify(results, null, 2) + '\n');

// ---------------------------------------------------------------- the plot
const chat = scenarios.filter((s) => /^chat-c\d+$/.test(s)).map((s) => [Number(s.slice(6)), s]).sort((a, b) => a[0] - b[0]);
let plotted = false;
if (chat.length) {
  const rows = chat.map(([c, sc]) => [c, ...subjects.flatMap((s) => {
    const r = find(sc, s);
    return r && r.ok > 0 ? [r.latency_ms.p50, r.latency_ms.p99] : ['NaN', 'NaN'];
  })].join(' '));
  writeFileSync(join(dir, 'latency.dat'), `# concurrency ${subjects.map((s) => `${s}_p50 ${s}_p99`).join(' ')}\n${rows.join('\n')}\n`);
  const g = spawnSync('gnuplot', ['-e', `datafile='${join(dir, 'latency.dat')}'; outfile='${join(dir, 'latency.png')}'; ` +
    `subjects='${subjects.join(' ')}'; subtitle='${(run.mode ?? '')} run ${run.date ?? ''}, ${run.machine?.cpus ?? '?'} cores'`,
  join(here, 'plot.gp')], { encoding: 'utf8' });
  plotted = g.status === 0;
  if (!plotted) console.error(`report: gnuplot failed: ${g.error?.message ?? g.stderr}`);
}

// ---------------------------------------------------------------- the table
const md = [];
md.push(`# sluice gateway benchmark — ${run.date ?? ''} (${run.mode ?? ''})`, '');
if (run.machine) {
  md.push(`Machine: ${run.machine.cpus} cores (${run.machine.cpu}), ${run.machine.memory_gib} GiB, Linux ${run.machine.kernel}; ` +
    `load average at the end ${run.machine.loadavg_end}. Pinning: ${run.plan?.pinning}. ` +
    `Each point: ${run.plan?.seconds} s after ${run.plan?.warmup} s warm-up.`);
  md.push(`Versions: sluice ${run.versions?.sluice}, nginx ${run.versions?.nginx}, Portkey gateway ${run.versions?.portkey} on Node ${run.versions?.node}.`, '');
}
for (const [s, why] of Object.entries(run.missing ?? {})) md.push(`**${s} not measured**: ${why}`, '');

md.push('## Targets (issue 4)', '', '| target | value | bar | met | |', '|---|---:|---|---|---|');
for (const t of results.targets)
  md.push(`| ${t.name} | ${f(t.value, 2)} | ${t.bar} | ${t.met == null ? 'n/a' : t.met ? 'yes' : '**no**'} | ${t.note} |`);
md.push('');

md.push('## Latency to the last byte (ms): direct, then added = subject − direct', '',
  '| scenario | subject | p50 | p90 | p99 | max | req/s | errors |', '|---|---|---:|---:|---:|---:|---:|---:|');
for (const sc of scenarios) for (const s of subjects) {
  const e = results.scenarios[sc][s];
  if (!e) continue;
  const v = s === 'direct' ? e.latency_ms : e.added_latency_ms;
  const sign = (x) => (s === 'direct' || x == null ? f(x) : (x >= 0 ? '+' : '') + f(x));
  md.push(`| ${sc} | ${s} | ${sign(v?.p50)} | ${sign(v?.p90)} | ${sign(v?.p99)} | ${f(e.latency_ms.max)} | ${f(e.throughput_rps, 0)} | ${e.errors} |`);
}
md.push('');
const streamScs = scenarios.filter((s) => s.includes('stream'));
if (streamScs.length) {
  md.push('## Time to first event of a stream (ms): direct, then added', '',
    '| scenario | subject | p50 | p90 | p99 |', '|---|---|---:|---:|---:|');
  for (const sc of streamScs) for (const s of subjects) {
    const e = results.scenarios[sc][s];
    if (!e) continue;
    const v = s === 'direct' ? e.ttfb_ms : e.added_ttfb_ms;
    const sign = (x) => (s === 'direct' || x == null ? f(x) : (x >= 0 ? '+' : '') + f(x));
    md.push(`| ${sc} | ${s} | ${sign(v?.p50)} | ${sign(v?.p90)} | ${sign(v?.p99)} |`);
  }
  md.push('');
}
md.push('## Throughput (req/s) and sluice\'s ratio to nginx and to Portkey', '',
  '| scenario | direct | nginx | sluice | Portkey | sluice / nginx | sluice / Portkey |', '|---|---:|---:|---:|---:|---:|---:|');
for (const sc of scenarios) {
  const t = results.throughput[sc];
  md.push(`| ${sc} | ${f(find(sc, 'direct')?.throughput_rps, 0)} | ${f(t.nginx_rps, 0)} | ${f(t.sluice_rps, 0)} | ${f(t.portkey_rps, 0)} | ${f(t.sluice_to_nginx, 2)} | ${f(t.sluice_to_portkey, 2)} |`);
}
md.push('');
if (memory.length) {
  md.push('## Open streams: resident memory', '', '| subject | streams open | RSS before (KiB) | RSS with streams (KiB) | KiB per stream |', '|---|---:|---:|---:|---:|');
  for (const m of memory) md.push(`| ${m.subject} | ${m.streams_open} of ${m.streams_requested} | ${m.rss_before_kib} | ${m.rss_during_kib} | ${f(m.kib_per_stream, 1)} |`);
  md.push('');
}
if (callgrind) {
  md.push('## Instructions per request (callgrind, sluice-gateway)', '',
    `${callgrind.instructions_per_request.toLocaleString('en-US')} instructions per request: ${callgrind.ok} requests ` +
    `(${callgrind.requests_plain} non-streaming + ${callgrind.requests_stream} streamed of ${callgrind.stream_chunks} chunks), ` +
    `${callgrind.instructions.toLocaleString('en-US')} in all, start-up and warm-up excluded.`, '');
  const bare = callgrind.bare;
  if (bare) {
    const cost = callgrind.instructions_per_request - bare.instructions_per_request;
    md.push('### What the policy stack costs', '',
      `The same mix through the bare gateway (\`auth: none\`, no limits, metering or metrics): ` +
      `${bare.instructions_per_request.toLocaleString('en-US')} instructions per request. The stack (key lookup, ` +
      `GCRA admission and settlement, the usage event to the spool, metrics) adds ${cost.toLocaleString('en-US')} ` +
      `per request (${f(100 * cost / bare.instructions_per_request, 1)}% of the bare gateway).`, '');
  }
}
if (wrk) {
  md.push('## The load generator, cross-checked', '',
    `Direct to the mock at concurrency 16: wrk ${f(wrk.wrk_rps, 0)} req/s, sluice-load ${f(wrk.sluice_load_rps, 0)} req/s ` +
    `(ratio ${f(ratio(wrk.sluice_load_rps, wrk.wrk_rps), 2)}). Direct's throughput is the ceiling any subject can show here.`, '');
}
if (plotted) md.push('Plot: `latency.png` (p50 and p99 latency against concurrency, per subject).', '');
const text = md.join('\n');
writeFileSync(join(dir, 'summary.md'), text);
console.log(text);

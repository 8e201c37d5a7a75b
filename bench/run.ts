// `npm run bench`: runs every suite in bench/suites/ (each a module whose default export is
// `(ctx: BenchContext) => Promise<BenchRow[]>`), prints a table and writes bench/results.json and
// docs/benchmarks.md (bench/report.ts). Flags: --quick (fewer runs), --only <a,b> (suites whose file
// name contains one of the substrings; their rows replace those suites' rows in an existing
// bench/results.json, unless --no-merge), --backends <a,b> (only these tfjs backends; with --only,
// only their rows and the PyTorch rows interleaved with them are replaced), --repeat N (suites that
// support it, the whole-step one, run N independent times and report across them), --dry-run (print only,
// write nothing: CI's smoke run), --report-only (re-render docs/benchmarks.md from results.json).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { setValidationLevel } from '../src/index';
import { renderReport } from './report';
import { liveRuns, type RunMeta } from './runs';
import { type BenchContext, type BenchRow, fmtMs, hasTorch, runPython, StepServer } from './util';

const here = dirname(fileURLToPath(import.meta.url));
const nodeFlags = process.execArgv.filter((a, i, all) => a !== '--import' && all[i - 1] !== '--import');
const quick = process.argv.includes('--quick');
const onlyIdx = process.argv.indexOf('--only');
const only = onlyIdx >= 0 ? (process.argv[onlyIdx + 1] ?? '').split(',').filter(Boolean) : undefined;
const dryRun = process.argv.includes('--dry-run');
const repeatIdx = process.argv.indexOf('--repeat');
const repeat = repeatIdx >= 0 ? Math.max(1, Number(process.argv[repeatIdx + 1]) || 1) : 1;
const backendsIdx = process.argv.indexOf('--backends');
const onlyBackends = backendsIdx >= 0 ? (process.argv[backendsIdx + 1] ?? '').split(',') : undefined;

// The report is a generated file under the repo's formatter: format it as `npm run lint` expects.
function writeReport(meta: Record<string, unknown>, rows: BenchRow[]): void {
  const path = join(here, '..', 'docs', 'benchmarks.md');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderReport(meta, rows));
  try {
    execFileSync(join(here, '..', 'node_modules', '.bin', 'biome'), ['format', '--write', path], {
      stdio: 'ignore',
    });
  } catch {
    console.log('[bench] biome not found: docs/benchmarks.md left unformatted');
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--report-only')) {
    // Re-renders docs/benchmarks.md from bench/results.json (e.g. after editing bench/methods.md or bench/analysis.md).
    const { meta, rows } = JSON.parse(readFileSync(join(here, 'results.json'), 'utf8')) as {
      meta: Record<string, unknown>;
      rows: BenchRow[];
    };
    writeReport(meta, rows);
    return;
  }
  // Value checks read tensors back (a sync per check); benchmarks measure the math.
  setValidationLevel('shapes');
  const backends = ['wasm', 'cpu'];
  try {
    await import('@tensorflow/tfjs-node' as string);
    backends.unshift('tensorflow');
  } catch {
    console.log('[bench] @tensorflow/tfjs-node not installed: tensorflow backend skipped');
  }
  if (onlyBackends) backends.splice(0, backends.length, ...backends.filter((b) => onlyBackends.includes(b)));
  const torch = hasTorch();
  if (!torch) console.log('[bench] Debian python3 with torch not found: PyTorch baselines skipped');
  const ctx: BenchContext = {
    runs: quick ? 3 : 10,
    warmup: quick ? 1 : 2,
    quick,
    repeat,
    backends,
    python: (script, args = []) => (torch ? runPython(join(here, '..', script), args) : null),
    pythonServer: async (script, args = []) =>
      torch ? StepServer.python(join(here, '..', script), args) : null,
  };
  const load0 = loadavg()[0] as number;
  const t0 = performance.now();
  const files = readdirSync(join(here, 'suites'))
    .filter((f) => f.endsWith('.ts') && (!only || only.some((o) => f.includes(o))))
    .sort();
  const rows: BenchRow[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(here, 'suites', f)).href)) as {
      default: (c: BenchContext) => Promise<BenchRow[]>;
    };
    console.log(`\n## ${f}`);
    const got = await mod.default(ctx);
    for (const r of got) {
      const extra = r.extra
        ? Object.entries(r.extra)
            .map(([k, v]) => `${k}=${v}`)
            .join('  ')
        : '';
      console.log(`${r.suite} | ${r.name} | ${r.backend} | ${r.timing ? fmtMs(r.timing) : ''} | ${extra}`);
    }
    rows.push(...got);
  }
  const meta = {
    date: new Date().toISOString(),
    // Node flags other than the TypeScript loader (e.g. --experimental-wasm-relaxed-simd) change
    // what some suites can measure: name the exact command then.
    command: nodeFlags.length
      ? `node ${nodeFlags.join(' ')} --import tsx bench/run.ts ${process.argv.slice(2).join(' ')}`.trim()
      : `npm run bench -- ${process.argv.slice(2).join(' ')}`.replace(/ -- $/, ''),
    node: process.version,
    tfjs: tf.version_core,
    torch: torch
      ? String((runPython(join(here, 'python', 'torch_version.py')) as { torch: string }).torch)
      : null,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadAverage1mStart: Number(load0.toFixed(2)),
    loadAverage1mEnd: Number((loadavg()[0] as number).toFixed(2)),
    durationS: Math.round((performance.now() - t0) / 1000),
    quick,
  };
  if (dryRun) {
    console.log(`\n--dry-run: nothing written (${meta.durationS} s)`);
    return;
  }
  if (only) {
    // A partial run updates its suites' rows in an existing report and says so in the machine section.
    const path = join(here, 'results.json');
    if (!existsSync(path) || process.argv.includes('--no-merge')) return;
    const prev = JSON.parse(readFileSync(path, 'utf8')) as {
      meta: Record<string, unknown>;
      rows: BenchRow[];
    };
    const suites = new Set(rows.map((r) => r.suite));
    const partial = [
      ...((prev.meta.partialRuns as RunMeta[]) ?? []),
      { ...meta, suites: [...suites], ...(onlyBackends ? { backends: backends } : {}) },
    ];
    // A row is replaced when its suite ran (and, under --backends, its backend or the backend it was
    // interleaved with ran too).
    const replaced = (r: BenchRow): boolean =>
      suites.has(r.suite) &&
      (!onlyBackends || backends.some((b) => r.backend === b || r.name.includes(`interleaved with ${b}`)));
    const mergedRows = [...prev.rows.filter((r) => !replaced(r)), ...rows];
    // Runs whose rows have all been replaced since are dropped from the record (bench/runs.ts).
    const live = liveRuns({ ...prev.meta, partialRuns: partial }, new Set(mergedRows.map((r) => r.suite)));
    const merged = {
      meta: {
        ...prev.meta,
        fullRunLive: live.full && prev.meta.fullRunLive !== false,
        partialRuns: live.partial,
      },
      rows: mergedRows,
    };
    writeFileSync(path, `${JSON.stringify(merged, null, 2)}\n`);
    writeReport(merged.meta, merged.rows);
    console.log('\nmerged into bench/results.json and docs/benchmarks.md');
  } else {
    writeFileSync(join(here, 'results.json'), `${JSON.stringify({ meta, rows }, null, 2)}\n`);
    writeReport(meta, rows);
    console.log('\nwrote bench/results.json and docs/benchmarks.md');
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

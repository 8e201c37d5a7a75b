// The threaded wasm build in Node (initWasmThreads, opt-in) vs the default single-threaded SIMD build:
// the discriminator step and a 2-D matMul, each mode in its own process (the build is chosen once per
// process), processes alternating single, threads, single, threads, … so load hits both alike.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchContext, type BenchRow, ratioStats, summarize } from '../util';

const child = join(dirname(fileURLToPath(import.meta.url)), '..', 'wasm-threads-child.ts');

interface ChildResult {
  threads: number;
  samples: number[];
  cpuPerWall: number;
  matMulGflops: number;
}

export default async function (ctx: BenchContext): Promise<BenchRow[]> {
  if (!ctx.backends.includes('wasm')) return [];
  const rounds = ctx.quick ? 2 : 4;
  const runs = ctx.quick ? 2 : 3;
  const got: Record<'single' | 'threads', ChildResult[]> = { single: [], threads: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of ['single', 'threads'] as const) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', child, mode, String(runs), '1'], {
        encoding: 'utf8',
        timeout: 600_000,
      });
      got[mode].push(JSON.parse(out.trim().split('\n').pop() as string) as ChildResult);
    }
  }
  const med = (xs: number[]): number => summarize(xs).median;
  // Per round: median step of each process, then the ratio threads / single of that round.
  const stepS = got.single.map((c) => med(c.samples));
  const stepT = got.threads.map((c) => med(c.samples));
  const r = ratioStats(stepT, stepS);
  const mm = ratioStats(
    got.threads.map((c) => c.matMulGflops),
    got.single.map((c) => c.matMulGflops),
  );
  const threads = got.threads[0]?.threads ?? 0;
  const cpuWall = (xs: ChildResult[]): string => med(xs.map((c) => c.cpuPerWall)).toFixed(2);
  return [
    {
      suite: 'wasm-threads',
      name: 'discriminator train step, wasm SIMD single-threaded (default)',
      backend: 'wasm',
      timing: summarize(got.single.flatMap((c) => c.samples)),
      extra: {
        'matMul 1024×256·256×1024 GFLOP/s': med(got.single.map((c) => c.matMulGflops)).toFixed(1),
        'CPU/wall': cpuWall(got.single),
      },
    },
    {
      suite: 'wasm-threads',
      name: `discriminator train step, wasm threaded SIMD (initWasmThreads, ${threads} threads)`,
      backend: 'wasm-threads',
      timing: summarize(got.threads.flatMap((c) => c.samples)),
      extra: {
        'vs single-threaded': `${r.median.toFixed(2)}× ±${r.mad.toFixed(2)}`,
        'matMul 1024×256·256×1024 GFLOP/s': med(got.threads.map((c) => c.matMulGflops)).toFixed(1),
        'matMul GFLOP/s vs single': `${mm.median.toFixed(2)}× ±${mm.mad.toFixed(2)}`,
        'CPU/wall': cpuWall(got.threads),
      },
    },
  ];
}

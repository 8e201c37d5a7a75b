// The whole preference-training step users feel: a GPT policy (examples/tiny-lm) and its frozen
// reference, DPO alone and DPO + GANPO (the official algorithm) with MLP and transformer critics, at
// the demo's size and at ~5 M parameters (bench/whole-step/config.ts). ganpo runs GanpoTrainer on wasm
// in a child process (bench/whole-step/child.ts); PyTorch runs the same architecture and the official
// GANPO step (bench/python/whole_step.py) in two more, with 1 and 2 threads (both pools limited,
// OpenMP waiting passively). The three processes step round-robin, so load from elsewhere hits them
// alike; "vs PyTorch" is the median ± MAD of per-round ratios against the thread count with the lower
// median. Each process is fresh, so first-step time and peak resident memory (ru_maxrss: what the
// OS sees, runtime included) are those of one training run. `--repeat N` runs the whole comparison N
// times with fresh processes and reports the median and [min–max] of the N runs' figures.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type BenchContext,
  type BenchRow,
  interleavedAsync,
  ratioStats,
  StepServer,
  summarize,
  type Timing,
} from '../util';
import { SIZES, stepFlops, type Variant, type WholeStepConfig } from '../whole-step/config';

const child = join(dirname(fileURLToPath(import.meta.url)), '..', 'whole-step', 'child.ts');
const VARIANTS: Variant[] = ['dpo', 'mlp', 'transformer'];
const TITLE: Record<Variant, string> = {
  dpo: 'DPO step',
  mlp: 'DPO + GANPO step, MLP critics',
  transformer: 'DPO + GANPO step, transformer critics',
};

interface Measured {
  /** ganpo's faster thread count's timing. */
  ours: Timing;
  /** ganpo with 1 and with 2 threads. */
  oursAll: Timing[];
  /** Index into `oursAll` of the faster thread count (0: 1 thread, 1: 2 threads). */
  oursBest: number;
  torch: Timing[];
  /** Index into `torch` of the faster thread count (0: 1 thread, 1: 2 threads). */
  best: number;
  ratio: { median: number; mad: number };
  info: Record<string, unknown>;
  torchInfo: Record<string, unknown>[];
  stats: Record<string, unknown>;
  torchStats: Record<string, unknown>[];
}

const num = (x: unknown): number => Number(x);
const fixed = (x: number, d = 0): string => x.toFixed(d);
const faster = (t: Timing[]): number =>
  t.length < 2 || (t[0] as Timing).median <= (t[1] as Timing).median ? 0 : 1;

async function measure(ctx: BenchContext, config: WholeStepConfig, runs: number): Promise<Measured> {
  const json = (threads: number): string => JSON.stringify({ ...config, threads });
  // ganpo with 1 thread (the single-threaded SIMD build) and with 2 (initWasmThreads: tfjs's
  // threaded build and ganpo's kernel pool), as PyTorch runs with 1 and 2: each side's faster.
  const ours: StepServer[] = [];
  const torch: StepServer[] = [];
  try {
    for (const threads of [1, 2]) ours.push(await StepServer.node(child, [json(threads)]));
    for (const threads of [1, 2]) {
      const server = await ctx.pythonServer('bench/python/whole_step.py', ['serve', json(threads)]);
      if (server) torch.push(server);
    }
    const { timings, samples } = await interleavedAsync(
      [...ours.map((o) => () => o.step()), ...torch.map((t) => () => t.step())],
      runs,
      1,
    );
    const oursAll = timings.slice(0, ours.length);
    const torchAll = timings.slice(ours.length);
    const oursBest = faster(oursAll);
    const best = faster(torchAll);
    const ratio = torch.length
      ? ratioStats(samples[oursBest] as number[], samples[ours.length + best] as number[])
      : { median: Number.NaN, mad: Number.NaN };
    const server = ours[oursBest] as StepServer;
    return {
      ours: oursAll[oursBest] as Timing,
      oursAll,
      oursBest,
      torch: torchAll,
      best,
      ratio,
      info: server.info,
      torchInfo: torch.map((t) => t.info),
      stats: await server.stats(),
      torchStats: await Promise.all(torch.map((t) => t.stats())),
    };
  } finally {
    await Promise.all([...ours.map((o) => o.close()), ...torch.map((t) => t.close())]);
  }
}

/** Median and [min–max] of per-repetition values. */
function across(values: number[], digits: number, unit = ''): string {
  const t = summarize(values);
  const f = (x: number) => x.toFixed(digits);
  return values.length > 1 ? `${f(t.median)}${unit} [${f(t.min)}–${f(t.max)}]` : `${f(t.median)}${unit}`;
}

export default async function wholeStep(ctx: BenchContext): Promise<BenchRow[]> {
  if (!ctx.backends.includes('wasm')) return [];
  const rows: BenchRow[] = [];
  // Every repetition is a fresh set of processes: a run of the benchmark in itself.
  const reps: Record<string, Record<Variant, Measured>>[] = [];
  for (let r = 0; r < ctx.repeat; r++) {
    const rep: Record<string, Record<Variant, Measured>> = {};
    for (const [size, shape] of Object.entries(SIZES)) {
      const small = size === 'demo';
      const runs = ctx.quick ? (small ? 3 : 2) : small ? 10 : 5;
      rep[size] = {} as Record<Variant, Measured>;
      for (const variant of VARIANTS) {
        (rep[size] as Record<Variant, Measured>)[variant] = await measure(ctx, { ...shape, variant }, runs);
      }
    }
    reps.push(rep);
  }
  for (const [size, shape] of Object.entries(SIZES)) {
    const got = reps.map((rep) => rep[size] as Record<Variant, Measured>);
    const first = got[0] as Record<Variant, Measured>;
    const label = `${size === 'demo' ? 'demo model' : '5 M-parameter GPT'}: ${fixed(num(first.dpo.info.parameters) / 1e6, 2)} M params, d${shape.dim} L${shape.layers} H${shape.heads}, T ${shape.T}, B ${shape.B} pairs`;
    for (const variant of VARIANTS) {
      const ms = got.map((g) => g[variant]);
      const oursMedians = ms.map((m) => m.ours.median);
      const flops = stepFlops(shape, variant);
      const extra: Record<string, string> = {
        size,
        variant,
        runs: String(ms.length),
        'step GFLOP (matMul)': (flops / 1e9).toFixed(1),
        'GFLOP/s': across(
          oursMedians.map((t) => flops / (t * 1e6)),
          1,
        ),
        'first step s': across(
          ms.map((m) => num(m.info.firstStepMs) / 1000),
          1,
        ),
        'ganpo 1 / 2 threads s':
          ms[0]?.oursAll.length === 2
            ? `${across(
                ms.map((m) => (m.oursAll[0] as Timing).median / 1000),
                2,
              )} / ${across(
                ms.map((m) => (m.oursAll[1] as Timing).median / 1000),
                2,
              )}`
            : '–',
        'peak RSS MB': across(
          ms.map((m) => num(m.stats.peakRssMB)),
          0,
        ),
        'tensor peak MB': across(
          ms.map((m) => num(m.stats.tensorPeakMB)),
          0,
        ),
        'wasm heap MB': across(
          ms.map((m) => num(m.stats.wasmHeapMB)),
          0,
        ),
      };
      if (variant !== 'dpo') {
        extra['GANPO / DPO'] = across(
          got.map((g) => g[variant].ours.median / g.dpo.ours.median),
          2,
        );
      }
      const withTorch = ms.filter((m) => m.torch.length > 0);
      if (withTorch.length === ms.length && ms.length > 0) {
        const best = (m: Measured) => m.torch[m.best] as Timing;
        const threads = ms.map((m) => `${m.oursBest + 1}/${m.best + 1}`);
        extra['vs PyTorch (best of 1 and 2 threads)'] = `${across(
          ms.map((m) => m.ratio.median),
          2,
          '×',
        )} (threads ganpo/PyTorch: ${threads.join(', ')})`;
        extra['PyTorch step ms'] = across(
          ms.map((m) => best(m).median),
          0,
        );
        extra['peak RSS vs PyTorch'] = across(
          ms.map((m) => num(m.stats.peakRssMB) / num(m.torchStats[m.best]?.peakRssMB)),
          2,
          '×',
        );
        extra['PyTorch peak RSS MB'] = across(
          ms.map((m) => num(m.torchStats[m.best]?.peakRssMB)),
          0,
        );
        extra['first step vs PyTorch'] = across(
          ms.map((m) => num(m.info.firstStepMs) / num(m.torchInfo[m.best]?.firstStepMs)),
          2,
          '×',
        );
        if (variant !== 'dpo') {
          extra['PyTorch GANPO / DPO'] = across(
            got.map((g) => best(g[variant]).median / best(g.dpo).median),
            2,
          );
        }
      }
      rows.push({
        suite: 'whole-step',
        name: `${TITLE[variant]} (${label})`,
        backend: 'wasm',
        timing: ms.length > 1 ? summarize(oursMedians) : (ms[0] as Measured).ours,
        extra,
      });
      for (const threads of [1, 2]) {
        const ts = ms.map((m) => m.torch[threads - 1]).filter((t): t is Timing => t !== undefined);
        if (ts.length === 0) continue;
        rows.push({
          suite: 'whole-step',
          name: `${TITLE[variant]}, PyTorch ${String(ms[0]?.torchInfo[0]?.torch)} CPU, ${threads} thread${threads > 1 ? 's' : ''} (${size})`,
          backend: 'torch',
          timing: ts.length > 1 ? summarize(ts.map((t) => t.median)) : (ts[0] as Timing),
          extra: {
            'peak RSS MB': across(
              ms.map((m) => num(m.torchStats[threads - 1]?.peakRssMB)),
              0,
            ),
            'first step s': across(
              ms.map((m) => num(m.torchInfo[threads - 1]?.firstStepMs) / 1000),
              1,
            ),
          },
        });
      }
    }
  }
  return rows;
}

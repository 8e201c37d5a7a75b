// The whole preference-training step users feel: a GPT policy (examples/tiny-lm) and its frozen
// reference, DPO alone and DPO + GANPO (the official algorithm) with MLP and transformer critics, at
// the demo's size and at ~5 M parameters (bench/whole-step/config.ts). ganpo runs GanpoTrainer on wasm
// in a child process (bench/whole-step/child.ts); PyTorch runs the same architecture and the official
// GANPO step (bench/python/whole_step.py) in two more, with 1 and 2 threads (both pools limited,
// OpenMP waiting passively). The three processes step round-robin, so load from elsewhere hits them
// alike; "vs PyTorch" is the median ± MAD of per-round ratios against the thread count with the lower
// median. Each process is fresh, so first-step time and peak resident memory (ru_maxrss: what the
// OS sees, runtime included) are those of one training run.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type BenchContext,
  type BenchRow,
  interleavedAsync,
  ratioStats,
  StepServer,
  type Timing,
} from '../util';
import { SIZES, type Variant, type WholeStepConfig } from '../whole-step/config';

const child = join(dirname(fileURLToPath(import.meta.url)), '..', 'whole-step', 'child.ts');
const VARIANTS: Variant[] = ['dpo', 'mlp', 'transformer'];
const TITLE: Record<Variant, string> = {
  dpo: 'DPO step',
  mlp: 'DPO + GANPO step, MLP critics',
  transformer: 'DPO + GANPO step, transformer critics',
};

interface Measured {
  ours: Timing;
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

async function measure(ctx: BenchContext, config: WholeStepConfig, runs: number): Promise<Measured> {
  const json = (threads?: number): string =>
    JSON.stringify(threads === undefined ? config : { ...config, threads });
  const ours = await StepServer.node(child, [json()]);
  const torch: StepServer[] = [];
  try {
    for (const threads of [1, 2]) {
      const server = await ctx.pythonServer('bench/python/whole_step.py', ['serve', json(threads)]);
      if (server) torch.push(server);
    }
    const { timings, samples } = await interleavedAsync(
      [() => ours.step(), ...torch.map((t) => () => t.step())],
      runs,
      1,
    );
    const best =
      torch.length < 2 ? 0 : (timings[1] as Timing).median <= (timings[2] as Timing).median ? 0 : 1;
    const ratio = torch.length
      ? ratioStats(samples[0] as number[], samples[1 + best] as number[])
      : { median: Number.NaN, mad: Number.NaN };
    return {
      ours: timings[0] as Timing,
      torch: timings.slice(1),
      best,
      ratio,
      info: ours.info,
      torchInfo: torch.map((t) => t.info),
      stats: await ours.stats(),
      torchStats: await Promise.all(torch.map((t) => t.stats())),
    };
  } finally {
    await Promise.all([ours.close(), ...torch.map((t) => t.close())]);
  }
}

export default async function wholeStep(ctx: BenchContext): Promise<BenchRow[]> {
  if (!ctx.backends.includes('wasm')) return [];
  const rows: BenchRow[] = [];
  for (const [size, shape] of Object.entries(SIZES)) {
    const small = size === 'demo';
    const runs = ctx.quick ? (small ? 3 : 2) : small ? 10 : 5;
    const got = {} as Record<Variant, Measured>;
    for (const variant of VARIANTS) got[variant] = await measure(ctx, { ...shape, variant }, runs);
    const label = `${size === 'demo' ? 'demo model' : '5 M-parameter GPT'}: ${fixed(num(got.dpo.info.parameters) / 1e6, 2)} M params, d${shape.dim} L${shape.layers} H${shape.heads}, T ${shape.T}, B ${shape.B} pairs`;
    for (const variant of VARIANTS) {
      const m = got[variant];
      const threads = m.best + 1;
      const torchBest = m.torch[m.best];
      const extra: Record<string, string> = {
        'first step ms': fixed(num(m.info.firstStepMs)),
        'peak RSS MB': fixed(num(m.stats.peakRssMB)),
        'tensor peak MB': fixed(num(m.stats.tensorPeakMB)),
        'wasm heap MB': fixed(num(m.stats.wasmHeapMB)),
      };
      if (variant !== 'dpo') {
        extra['GANPO / DPO'] = fixed(m.ours.median / got.dpo.ours.median, 2);
      }
      if (torchBest) {
        const tStats = m.torchStats[m.best] as Record<string, unknown>;
        const tInfo = m.torchInfo[m.best] as Record<string, unknown>;
        extra['vs PyTorch (best of 1 and 2 threads)'] =
          `${fixed(m.ratio.median, 2)}× ±${fixed(m.ratio.mad, 2)} (${threads} thread${threads > 1 ? 's' : ''})`;
        extra['peak RSS vs PyTorch'] =
          `${fixed(num(m.stats.peakRssMB) / num(tStats.peakRssMB), 2)}× (${fixed(num(tStats.peakRssMB))} MB)`;
        extra['first step vs PyTorch'] =
          `${fixed(num(m.info.firstStepMs) / num(tInfo.firstStepMs), 2)}× (${fixed(num(tInfo.firstStepMs))} ms)`;
        if (variant !== 'dpo') {
          const tDpo = got.dpo.torch[got.dpo.best] as Timing;
          extra['PyTorch GANPO / DPO'] = fixed(torchBest.median / tDpo.median, 2);
        }
      }
      rows.push({
        suite: 'whole-step',
        name: `${TITLE[variant]} (${label})`,
        backend: 'wasm',
        timing: m.ours,
        extra,
      });
      for (const [i, t] of m.torch.entries()) {
        rows.push({
          suite: 'whole-step',
          name: `${TITLE[variant]}, PyTorch ${String(m.torchInfo[i]?.torch)} CPU, ${i + 1} thread${i ? 's' : ''} (${size})`,
          backend: 'torch',
          timing: t,
          extra: { 'peak RSS MB': fixed(num(m.torchStats[i]?.peakRssMB)) },
        });
      }
    }
  }
  return rows;
}

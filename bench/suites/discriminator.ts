// One TransformerDiscriminator training step (forward in training mode, backward, optimizer update) at
// B 8, T 128, d_in 512, hidden 256, 2 layers, 8 heads, masked. Next to it, the same
// step in PyTorch CPU (bench/python/discriminator_step.py, torch.optim.AdamW) with 2 threads and with
// 1 thread, each in its own persistent python process, timed round-robin with ours (ours, torch 2t,
// torch 1t, ours, …) so that load from other processes hits all three alike; ratios are per round.
// The optimizer is tf.train.adam (ganpo's AdamW differs by the decoupled decay, a small share).
// Also: achieved matMul GFLOP/s of the step next to the backend's best 2-D matMul GFLOP/s, peak
// tensor memory, and (full run) the "straightforward" variants (tfjs autodiff for Linear/LayerNorm/
// GELU, batched attention) that show what each kernel choice buys.
import * as tf from '@tensorflow/tfjs-core';
import { TransformerDiscriminator } from '../../src/discriminators/transformer';
import type { AttentionImpl } from '../../src/ops/attention';
import { kernelFlags } from '../../src/ops/kernel-flags';
import {
  type BenchContext,
  type BenchRow,
  bestMatMulGflops,
  interleavedAsync,
  peakMemory,
  ratioStats,
  useBackend,
} from '../util';

const B = 8;
const T = 128;
const D = 512;
const H = 256;
const LAYERS = 2;
const FFN = 4 * H;

/**
 * matMul FLOPs of one training step (forward + backward; element-wise work, softmax, LayerNorm and
 * the spectral-norm power iterations not counted). Backward = 2× forward, less the input gradient
 * of the first projection (the latents are constants).
 */
export function discriminatorStepFlops(): number {
  const n = B * T;
  const projIn = 2 * n * D * H;
  const layer = 2 * n * H * 3 * H + 2 * (2 * B * T * T * H) + 2 * n * H * H + 2 * (2 * n * H * FFN);
  const head = 2 * B * H * H + 2 * B * H;
  const fwd = projIn + LAYERS * layer + head;
  return 3 * fwd - projIn;
}

export function makeStep(attention: AttentionImpl): { step: () => void; dispose: () => void } {
  const d = new TransformerDiscriminator({
    inputDim: D,
    hiddenDim: H,
    numLayers: LAYERS,
    numHeads: 8,
    ffnDim: FFN,
    seed: 0,
    attentionImpl: attention,
  });
  const opt = tf.train.adam(1e-4, 0.9, 0.999, 1e-8);
  const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 1) as tf.Tensor3D;
  const lengths = Array.from({ length: B }, (_, i) => T / 2 + Math.floor(((i * 37) % 64) + 1));
  const mask = tf.tensor2d(
    lengths.flatMap((len) => Array.from({ length: T }, (_, t) => (t < len ? 1 : 0))),
    [B, T],
  );
  const vars = d.trainableVariables;
  const step = (): void => {
    const loss = opt.minimize(
      () => tf.mean(tf.softplus(tf.neg(d.apply(x, { mask, training: true })))) as tf.Scalar,
      true,
      vars,
    );
    loss?.dataSync();
    loss?.dispose();
  };
  return {
    step,
    dispose: () => {
      tf.dispose([x, mask]);
      opt.dispose();
      d.dispose();
    },
  };
}

function setFast(on: boolean): void {
  kernelFlags.fastLinearGradient = on;
  kernelFlags.fusedLayerNorm = on;
  kernelFlags.fusedGelu = on;
}

interface Variant {
  name: string;
  fast: boolean;
  attention: AttentionImpl;
}

const MAIN: Variant = { name: 'train step (ganpo kernels)', fast: true, attention: 'per-head' };
const WASM_VARIANTS: Variant[] = [
  { name: 'train step (autodiff linear/LN/GELU, per-head attention)', fast: false, attention: 'per-head' },
  { name: 'train step (ganpo linear/LN/GELU, batched attention)', fast: true, attention: 'batched' },
  {
    name: 'train step (straightforward tfjs: autodiff, batched attention)',
    fast: false,
    attention: 'batched',
  },
];
// The step's own matMul shapes (tokens × in · in × out).
const MATMUL_SHAPES: [number, number, number][] = [
  [B * T, D, H],
  [B * T, H, 3 * H],
  [B * T, H, FFN],
  [B * T, FFN, H],
];

export default async function (ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const script = 'bench/python/discriminator_step.py';
  const torch2 = await ctx.pythonServer(script, ['serve', '2']);
  const torch1 = torch2 ? await ctx.pythonServer(script, ['serve', '1']) : null;
  const flops = discriminatorStepFlops();
  const shape = `B${B} T${T} d_in ${D} h${H}, ${LAYERS} layers, 8 heads, masked`;
  try {
    for (const backend of ctx.backends) {
      await useBackend(backend);
      const slow = backend === 'cpu';
      // cpu is ~20× slower than wasm: fewer rounds keep the suite short (ratios still same-run).
      const runs = slow ? Math.min(ctx.runs, ctx.quick ? 2 : 3) : ctx.runs;
      const warmup = 1;
      setFast(true);
      const attention: AttentionImpl = backend === 'wasm' ? 'per-head' : 'auto';
      const main = makeStep(attention);
      const fns: (() => unknown)[] = [main.step];
      if (torch2) fns.push(() => torch2.step());
      if (torch1) fns.push(() => torch1.step());
      const cpu0 = process.cpuUsage();
      const { timings, samples } = await interleavedAsync(fns, runs, warmup);
      const cpu = process.cpuUsage(cpu0);
      const mem = await peakMemory(main.step);
      main.dispose();
      const ours = timings[0] as (typeof timings)[0];
      const best = await bestMatMulGflops(MATMUL_SHAPES, slow ? 2 : ctx.quick ? 5 : 10);
      const achieved = flops / (ours.median * 1e6);
      const extra: Record<string, string> = {
        'GFLOP/s (matMul)': achieved.toFixed(1),
        'best 2-D matMul GFLOP/s': `${best.gflops.toFixed(1)} (${best.shape})`,
        'share of best': `${((100 * achieved) / best.gflops).toFixed(0)}%`,
        'peak MB': mem.peakMB,
        'working set MB': mem.workingSetMB,
      };
      if (!slow) {
        // Process CPU time of the whole round (all of ours, warm-up included; torch is another process).
        extra['tfjs CPU ms/step'] = ((cpu.user + cpu.system) / 1000 / (runs + warmup)).toFixed(0);
      }
      if (torch2) {
        const r = ratioStats(samples[0] as number[], samples[1] as number[]);
        extra['vs PyTorch 2 threads'] = `${r.median.toFixed(2)}× ±${r.mad.toFixed(2)}`;
      }
      if (torch1) {
        const r = ratioStats(samples[0] as number[], samples[2] as number[]);
        extra['vs PyTorch 1 thread'] = `${r.median.toFixed(2)}× ±${r.mad.toFixed(2)}`;
      }
      rows.push({ suite: 'discriminator', name: `${MAIN.name} (${shape})`, backend, timing: ours, extra });
      const torchRow = (i: number, threads: number): void => {
        const t = timings[i];
        if (!t) return;
        rows.push({
          suite: 'discriminator',
          name: `train step (PyTorch ${String(torch2?.info.torch)} CPU, AdamW, ${threads} thread${threads > 1 ? 's' : ''}; interleaved with ${backend})`,
          backend: 'torch',
          timing: t,
        });
      };
      torchRow(1, 2);
      torchRow(2, 1);

      // What each kernel choice buys (wasm, full run): each variant against the main step, interleaved.
      if (backend === 'wasm' && !ctx.quick) {
        for (const v of WASM_VARIANTS) {
          const a = makeStep(MAIN.attention);
          const b = makeStep(v.attention);
          const { timings: tv, samples: sv } = await interleavedAsync(
            [
              () => {
                setFast(true);
                a.step();
              },
              () => {
                setFast(v.fast);
                b.step();
              },
            ],
            Math.min(ctx.runs, 3),
            1,
          );
          setFast(true);
          a.dispose();
          b.dispose();
          const r = ratioStats(sv[1] as number[], sv[0] as number[]);
          rows.push({
            suite: 'discriminator',
            name: v.name,
            backend,
            timing: tv[1],
            extra: { 'vs ganpo kernels': `${r.median.toFixed(2)}× ±${r.mad.toFixed(2)}` },
          });
        }
      }
    }
  } finally {
    setFast(true);
    torch2?.close();
    torch1?.close();
  }
  return rows;
}

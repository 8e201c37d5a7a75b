// One TransformerDiscriminator training step (forward in training mode, backward, optimizer update) at
// the size: B 8, T 128, d_in 512, hidden 256, 2 layers, 8 heads, masked. Next to it, the same
// step in PyTorch CPU (bench/python/discriminator_step.py, torch.optim.AdamW) when Debian's python3 has
// torch; ratios are against that baseline measured in the same run.
// The optimizer is tf.train.adam for now (ganpo's AdamW is being written in parallel); the update is a
// small share of the step either way.
// Also times the "straightforward" variants (tfjs autodiff for Linear/LayerNorm/GELU, batched attention)
// to show what each kernel choice buys; flip them with kernelFlags / attentionImpl.
import * as tf from '@tensorflow/tfjs-core';
import { TransformerDiscriminator } from '../../src/discriminators/transformer';
import type { AttentionImpl } from '../../src/ops/attention';
import { kernelFlags } from '../../src/ops/kernel-flags';
import { type BenchContext, type BenchRow, time, useBackend } from '../util';

const B = 8;
const T = 128;
const D = 512;
const H = 256;

interface Variant {
  name: string;
  fast: boolean;
  attention: AttentionImpl;
}

export function makeStep(attention: AttentionImpl): { step: () => void; dispose: () => void } {
  const d = new TransformerDiscriminator({
    inputDim: D,
    hiddenDim: H,
    numLayers: 2,
    numHeads: 8,
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

export default async function (ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  type TorchResult = { median_ms: number; mad_ms: number; runs: number } | null;
  const torchRun = (threads: number): TorchResult =>
    ctx.python('bench/python/discriminator_step.py', [
      String(ctx.runs),
      String(ctx.warmup),
      String(threads),
    ]) as TorchResult;
  // 2 threads is the baseline (the machine's cores); 1 thread is the same core budget as tfjs-wasm in Node.
  const torch = torchRun(2);
  const torch1 = torch ? torchRun(1) : null;
  for (const [t, threads] of [
    [torch, 2],
    [torch1, 1],
  ] as const) {
    if (!t) continue;
    rows.push({
      suite: 'discriminator',
      name: `train step (PyTorch CPU, AdamW, ${threads} thread${threads > 1 ? 's' : ''})`,
      backend: 'torch',
      timing: { median: t.median_ms, mad: t.mad_ms, min: Number.NaN, max: Number.NaN, runs: t.runs },
    });
  }
  const variants: Record<string, Variant[]> = {
    wasm: [
      { name: 'train step (ganpo kernels)', fast: true, attention: 'per-head' },
      {
        name: 'train step (autodiff linear/LN/GELU, per-head attention)',
        fast: false,
        attention: 'per-head',
      },
      { name: 'train step (ganpo linear/LN/GELU, batched attention)', fast: true, attention: 'batched' },
      { name: 'train step (straightforward tfjs)', fast: false, attention: 'batched' },
    ],
    cpu: [{ name: 'train step (ganpo kernels)', fast: true, attention: 'auto' }],
  };
  for (const backend of ctx.backends) {
    const list = variants[backend] ?? [{ name: 'train step (ganpo kernels)', fast: true, attention: 'auto' }];
    await useBackend(backend);
    for (const v of ctx.quick ? list.slice(0, 1) : list) {
      setFast(v.fast);
      const { step, dispose } = makeStep(v.attention);
      // cpu and the straightforward variants are 10–30× slower: fewer repetitions keep the suite short.
      const slow = backend === 'cpu' || v !== list[0];
      const cpu0 = process.cpuUsage();
      const timing = await time(step, slow ? Math.min(ctx.runs, 3) : ctx.runs, slow ? 1 : ctx.warmup);
      const cpu = process.cpuUsage(cpu0);
      dispose();
      const extra: Record<string, string> = {
        // CPU time per step (warm-up included in the average): less sensitive to other load than wall time.
        cpuMsPerStep: ((cpu.user + cpu.system) / 1000 / (timing.runs + (slow ? 1 : ctx.warmup))).toFixed(0),
      };
      if (torch) extra.vsTorch = `${(timing.median / torch.median_ms).toFixed(2)}x`;
      if (torch1) extra.vsTorch1Thread = `${(timing.median / torch1.median_ms).toFixed(2)}x`;
      rows.push({ suite: 'discriminator', name: v.name, backend, timing, extra });
    }
  }
  setFast(true);
  return rows;
}

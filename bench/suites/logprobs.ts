// causalLogProbs forward+backward against the forms users write by hand: logSoftmax over the
// shifted logits then gather at the labels (its gradient needs UnsortedSegmentSum, so it trains on
// cpu only), and logSoftmax times a one-hot (runs on wasm too). Reports the
// median time and the peak of tensor bytes allocated during one step (tf.profile), with ratios to
// a baseline measured in the same run.
import * as tf from '@tensorflow/tfjs-core';
import { causalLogProbs } from '../../src/logprobs/sequence-log-probs';
import { type BenchContext, type BenchRow, time, useBackend } from '../util';

type Shape = [number, number, number];
// B 8, T 256, V 4096 (FULL): a small-LM batch. The hand-written gather form cannot run its backward
// there on cpu: tfjs-cpu's UnsortedSegmentSum (the gather gradient) loops once per segment over all
// indices, i.e.
// (B·(T−1)·V) × B·(T−1) ≈ 1.7e10 steps plus 8.4 M temporary tensors (we measured 12 GB RSS before
// stopping it). It is therefore measured at a small size, against ours at that same size.
const FULL: Shape = [8, 256, 4096];
const SMALL: Shape = [1, 17, 4096];

type Step = (logits: tf.Tensor3D, ids: tf.Tensor2D, mask: tf.Tensor2D) => tf.Scalar;

const ours: Step = (logits, ids, mask) =>
  tf.sum(causalLogProbs({ logits, inputIds: ids, lossMask: mask }).sum);

function shifted(logits: tf.Tensor3D, ids: tf.Tensor2D, mask: tf.Tensor2D) {
  const [b, t, v] = logits.shape;
  const lsm = tf.logSoftmax(tf.slice(logits, [0, 0, 0], [b, t - 1, v]));
  const labels = tf.slice(ids, [0, 1], [b, t - 1]);
  const m = tf.cast(tf.slice(mask, [0, 1], [b, t - 1]), 'float32');
  return { lsm, labels, m };
}

const naiveGather: Step = (logits, ids, mask) => {
  const [b, t, v] = logits.shape;
  const { lsm, labels, m } = shifted(logits, ids, mask);
  const n = b * (t - 1);
  const flatIdx = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(v, 'int32')), tf.reshape(labels, [n]));
  const picked = tf.reshape(tf.gather(tf.reshape(lsm, [n * v]), flatIdx), [b, t - 1]);
  return tf.sum(tf.mul(picked, m));
};

const naiveOneHot: Step = (logits, ids, mask) => {
  const v = logits.shape[2];
  const { lsm, labels, m } = shifted(logits, ids, mask);
  const picked = tf.sum(tf.mul(lsm, tf.cast(tf.oneHot(labels, v), 'float32')), -1);
  return tf.sum(tf.mul(picked, m));
};

async function measure(
  ctx: BenchContext,
  backend: string,
  name: string,
  step: Step,
  shape: Shape,
  runs: number,
): Promise<BenchRow> {
  await useBackend(backend);
  const [b, t, v] = shape;
  const logits = tf.randomNormal([b, t, v], 0, 2, 'float32', 1) as tf.Tensor3D;
  const ids = tf.randomUniform([b, t], 0, v, 'int32', 2) as tf.Tensor2D;
  const mask = tf.cast(
    tf.greater(tf.randomUniform([b, t], 0, 1, 'float32', 3), 0.3),
    'float32',
  ) as tf.Tensor2D;
  const run = (): void => {
    const g = tf.grad((x: tf.Tensor) => step(x as tf.Tensor3D, ids, mask))(logits);
    g.dataSync();
    g.dispose();
  };
  const timing = await time(run, runs, Math.min(ctx.warmup, 1));
  const before = tf.memory().numBytes;
  const prof = await tf.profile(run);
  tf.dispose([logits, ids, mask]);
  return {
    suite: 'logprobs',
    name,
    backend,
    timing,
    extra: { peakMB: ((prof.peakBytes - before) / 2 ** 20).toFixed(1), shape: `B${b} T${t} V${v}` },
  };
}

function ratios(rows: BenchRow[], baseName: string): void {
  const base = rows.find((r) => r.name === baseName);
  for (const r of rows) {
    if (base?.timing && r.timing && r.extra && base.extra) {
      r.extra.timeVsBaseline = (r.timing.median / base.timing.median).toFixed(3);
      r.extra.peakVsBaseline = (Number(r.extra.peakMB) / Number(base.extra.peakMB)).toFixed(3);
    }
  }
}

export default async function suite(ctx: BenchContext): Promise<BenchRow[]> {
  const has = (b: string): boolean => ctx.backends.includes(b);
  const cpuRuns = ctx.quick ? 1 : 3;
  const full: BenchRow[] = [];
  if (has('cpu'))
    full.push(await measure(ctx, 'cpu', 'naive logSoftmax+oneHot (baseline)', naiveOneHot, FULL, cpuRuns));
  if (has('wasm')) full.push(await measure(ctx, 'wasm', 'causalLogProbs', ours, FULL, ctx.runs));
  if (has('wasm'))
    full.push(await measure(ctx, 'wasm', 'naive logSoftmax+oneHot', naiveOneHot, FULL, ctx.runs));
  if (has('cpu')) full.push(await measure(ctx, 'cpu', 'causalLogProbs', ours, FULL, cpuRuns));
  ratios(full, 'naive logSoftmax+oneHot (baseline)');
  const small: BenchRow[] = [];
  if (has('cpu'))
    small.push(await measure(ctx, 'cpu', 'naive logSoftmax+gather (baseline)', naiveGather, SMALL, cpuRuns));
  if (has('wasm')) small.push(await measure(ctx, 'wasm', 'causalLogProbs', ours, SMALL, ctx.runs));
  if (has('cpu')) small.push(await measure(ctx, 'cpu', 'causalLogProbs', ours, SMALL, cpuRuns));
  ratios(small, 'naive logSoftmax+gather (baseline)');
  return [...full, ...small];
}

// UnsortedSegmentSum (the gradient of tf.gather, hence of tf.layers.embedding) as registered by
// registerWasmTrainingKernels on wasm, against tfjs's cpu kernel (which loops over every segment)
// and against what a wasm user can write without the kernel: oneHot(ids)ᵀ·dy (a [V,N]·[N,D] matMul)
// and tf.scatterND (wasm has it in C++; duplicates add up). cpu and wasm run kernels synchronously,
// so the time of the call is the kernel's; the [V,D] result is not read back.
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmTrainingKernels } from '../../src/ops/wasm-training-kernels';
import { type BenchContext, type BenchRow, time, useBackend } from '../util';

interface Size {
  vocab: number;
  rows: number;
  dim: number;
}
// GPT-2's vocabulary, a batch of 8×64 tokens, width 256 (the one-hot baseline alone holds a
// [512, 50257] float matrix); and a size tfjs's cpu kernel finishes in seconds — it runs ~5 kernels
// over all N·D values once per segment (V·N·D work: 85 s at V 2000, N 512, D 64 on our machine).
const LONG: Size = { vocab: 50257, rows: 512, dim: 256 };
const SMALL: Size = { vocab: 1000, rows: 128, dim: 32 };

type Impl = (x: tf.Tensor2D, ids: tf.Tensor1D, vocab: number) => tf.Tensor;

const segmentSum: Impl = (x, ids, vocab) => tf.unsortedSegmentSum(x, ids, vocab);
const oneHotMatMul: Impl = (x, ids, vocab) =>
  tf.tidy(() => tf.matMul(tf.cast(tf.oneHot(ids, vocab), 'float32'), x, true, false));
const scatter: Impl = (x, ids, vocab) =>
  tf.tidy(() => tf.scatterND(tf.reshape(ids, [-1, 1]), x, [vocab, x.shape[1]]));

async function measure(
  backend: string,
  name: string,
  impl: Impl,
  size: Size,
  runs: number,
  warmup: number,
): Promise<BenchRow> {
  await useBackend(backend);
  const x = tf.randomNormal([size.rows, size.dim], 0, 1, 'float32', 1) as tf.Tensor2D;
  const ids = tf.randomUniform([size.rows], 0, size.vocab, 'int32', 2) as tf.Tensor1D;
  const timing = await time(
    () => {
      impl(x, ids, size.vocab).dispose();
    },
    runs,
    warmup,
  );
  tf.dispose([x, ids]);
  return {
    suite: 'wasm-kernels',
    name,
    backend,
    timing,
    extra: { shape: `V${size.vocab} N${size.rows} D${size.dim}` },
  };
}

function ratios(rows: BenchRow[], base: BenchRow | undefined): void {
  for (const r of rows) {
    if (r !== base && base?.timing && r.timing && r.extra)
      r.extra.speedupVsBaseline = (base.timing.median / r.timing.median).toFixed(1);
  }
}

export default async function suite(ctx: BenchContext): Promise<BenchRow[]> {
  registerWasmTrainingKernels();
  const rows: BenchRow[] = [];
  if (!ctx.backends.includes('wasm')) return rows;
  const small: BenchRow[] = [];
  if (ctx.backends.includes('cpu'))
    small.push(
      await measure('cpu', 'UnsortedSegmentSum, tfjs cpu kernel (baseline)', segmentSum, SMALL, 3, 0),
    );
  small.push(
    await measure('wasm', 'UnsortedSegmentSum, ganpo wasm kernel', segmentSum, SMALL, ctx.runs, ctx.warmup),
  );
  ratios(small, small[0]);
  const long: BenchRow[] = [];
  long.push(
    // ~75 s per call on our machine (wasm's matMul with a transpose flag takes a slow path): one run.
    await measure('wasm', 'oneHot(ids)ᵀ·dy matMul (baseline)', oneHotMatMul, LONG, 1, 0),
  );
  long.push(await measure('wasm', 'tf.scatterND', scatter, LONG, ctx.runs, ctx.warmup));
  long.push(
    await measure('wasm', 'UnsortedSegmentSum, ganpo wasm kernel', segmentSum, LONG, ctx.runs, ctx.warmup),
  );
  ratios(long, long[0]);
  return [...small, ...long];
}

import * as tf from '@tensorflow/tfjs-core';
import { assertArgs, assertTensor } from '../core/validate';
import { dropout as applyDropout, dropoutMask } from './dropout';
import { ATTENTION_BACKWARD, ATTENTION_FORWARD, fusedAttentionAvailable } from './wasm/attention-kernel';

/**
 * How the scaled-dot-product core of multi-head self-attention is computed.
 * - `'batched'`: batched `matMul` over [B, H] and tfjs autodiff. Best where batched matMul is fast
 *   (webgl, webgpu, tensorflow).
 * - `'per-head'`: one 2-D `matMul` per (batch, head) with a hand-written backward pass. On wasm, 2-D
 *   matMuls without transpose flags use XNNPACK while batched or transposed ones take a slow path (docs/benchmarks.md, "Why the kernels look as they do").
 * - `'fused'`: wasm backend only: one WebAssembly SIMD kernel per layer and direction
 *   (src/ops/wasm/attention-simd.ts) that strides through the packed [q | k | v] in place, with the
 *   softmax and its backward fused in (single-threaded or threaded build; with `initWasmThreads`'s
 *   kernel pool each call is split by sequences over the threads); needs d_head a multiple of 4, else
 *   it runs `'per-head'`/`'batched'` as `'auto'`
 *   would without it.
 * - `'auto'` (default): `'fused'` on the wasm backend where it is available; otherwise `'per-head'`
 *   on wasm when each head's products are large enough (T²·d_head ≥ `PER_HEAD_MIN_WORK` = 131 072),
 *   `'batched'` otherwise and on other backends.
 */
export type AttentionImpl = 'auto' | 'batched' | 'per-head' | 'fused';

/**
 * Smallest T²·d_head for which `'auto'` takes the per-head path on wasm (when the fused kernel is
 * unavailable). Per-head issues ~25 kernels per (sequence, head) and direction; for small heads that
 * dispatch cost outweighs XNNPACK's speed. The threshold sits between the discriminator's heads
 * (T 128, d_head 32: per-head faster) and the demo critic's (T 48, d_head 16: batched faster), a
 * factor ~4 from each (docs/benchmarks.md, "Why the kernels look as they do").
 */
export const PER_HEAD_MIN_WORK = 131_072;

/** Arguments of {@link selfAttentionCore}. */
export interface SelfAttentionCoreArgs {
  /** `[B·T, 3·hidden]`: the packed in-projection output [q | k | v] (PyTorch's in_proj layout). */
  qkv: tf.Tensor2D;
  batch: number;
  seqLen: number;
  numHeads: number;
  /**
   * [B, T] additive key bias: 0 for real keys, −1e9 for padding (never −Infinity: NaN rows).
   * Default: none (every key is real).
   */
  keyBias?: tf.Tensor2D;
  /** False when `keyBias` is all zeros (no mask): the per-head path then skips adding it. Default true. */
  hasMask?: boolean;
  /**
   * Query i attends to keys 0…i only (a decoder's causal mask, PyTorch's
   * `generate_square_subsequent_mask`). On the fused path the kernels stop at key i, half the work
   * of a full row. Default false.
   */
  causal?: boolean;
  /** Dropout rate on the attention weights (0 = off; the caller passes 0 in eval mode). Default 0. */
  dropout?: number;
  impl?: AttentionImpl;
}

/**
 * softmax(q·kᵀ/√d_head + keyBias [+ causal mask])·v for every head, as `nn.MultiheadAttention`
 * computes it between its in- and out-projections (dropout on the attention weights, like PyTorch).
 * The heads are read in place from the packed `qkv`: no split into q, k and v.
 *
 * @returns [B·T, hidden], heads concatenated in PyTorch's order; differentiable w.r.t. `qkv`
 * (`keyBias` is treated as a constant).
 */
export function selfAttentionCore(args: SelfAttentionCoreArgs): tf.Tensor2D {
  assertArgs('selfAttentionCore', args, '{ qkv, batch, seqLen, numHeads, keyBias?, dropout?, ... }');
  assertTensor('selfAttentionCore', 'qkv', args.qkv);
  if (args.keyBias !== undefined) assertTensor('selfAttentionCore', 'keyBias', args.keyBias);
  const impl = args.impl ?? 'auto';
  const causal = args.causal === true;
  const dh = args.qkv.shape[1] / 3 / args.numHeads;
  const dropout = args.dropout ?? 0;
  const run = (keyBias: tf.Tensor2D, hasMask: boolean): tf.Tensor2D => {
    const full = { ...args, keyBias, hasMask, causal, dropout };
    if ((impl === 'auto' || impl === 'fused') && fusedAttentionAvailable(args.numHeads, dh, causal)) {
      return fusedAttention(full);
    }
    const perHead =
      impl === 'per-head' ||
      (impl !== 'batched' &&
        tf.getBackend() === 'wasm' &&
        args.seqLen * args.seqLen * dh >= PER_HEAD_MIN_WORK);
    return perHead ? perHeadAttention(full) : batchedAttention(full);
  };
  if (args.keyBias) return run(args.keyBias, args.hasMask ?? true);
  const zeros = tf.zeros([args.batch, args.seqLen]) as tf.Tensor2D;
  try {
    return run(zeros, false);
  } finally {
    zeros.dispose();
  }
}

/** {@link SelfAttentionCoreArgs} with every default filled in. */
type CoreArgs = SelfAttentionCoreArgs & {
  keyBias: tf.Tensor2D;
  hasMask: boolean;
  causal: boolean;
  dropout: number;
};

/** [T, T] additive causal bias: 0 where key ≤ query, −1e9 above the diagonal. */
function causalBias(t: number): tf.Tensor2D {
  return tf.tidy(() => {
    const rows = tf.reshape(tf.range(0, t, 1, 'int32'), [t, 1]);
    const cols = tf.reshape(tf.range(0, t, 1, 'int32'), [1, t]);
    return tf.mul(tf.cast(tf.greater(cols, rows), 'float32'), -1e9) as tf.Tensor2D;
  });
}

/**
 * The `'fused'` path: forward and backward each one wasm kernel (./wasm/attention-kernel.ts). The
 * forward keeps only each query row's softmax maximum and normaliser ([B, H, T, 2]); the backward
 * recomputes the weights from q, k and them (the same floats), so no [B, H, T, T] tensor is saved.
 * The dropout mask on the attention weights is drawn by {@link dropoutMask} (the one random source)
 * as [B, H, T, T] and applied inside the kernels.
 */
function fusedAttention({ qkv, batch, seqLen, numHeads, keyBias, dropout, causal }: CoreArgs): tf.Tensor2D {
  const attrs = { batch, seqLen, numHeads, causal: causal ? 1 : 0 };
  const f = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, bias, save] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const mask = dropout > 0 ? dropoutMask([batch, numHeads, seqLen, seqLen], dropout) : null;
    const [out, stats] = tf
      .engine()
      .runKernel(
        ATTENTION_FORWARD,
        mask ? { qkv: x, keyBias: bias, mask } : { qkv: x, keyBias: bias },
        attrs,
      ) as [tf.Tensor2D, tf.Tensor4D];
    save(mask ? [x, stats, bias, mask] : [x, stats, bias]);
    stats.dispose();
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sStats, sBias, sm] = saved as [
          tf.Tensor2D,
          tf.Tensor4D,
          tf.Tensor2D,
          tf.Tensor4D | undefined,
        ];
        const inputsB: tf.NamedTensorMap = {
          dy,
          qkv: sx,
          stats: sStats,
          keyBias: sBias,
          ...(sm ? { mask: sm } : {}),
        };
        return [tf.engine().runKernel(ATTENTION_BACKWARD, inputsB, attrs) as tf.Tensor2D, tf.zerosLike(bias)];
      },
    };
  });
  return f(qkv, keyBias) as tf.Tensor2D;
}

function batchedAttention({ qkv, batch, seqLen, numHeads, keyBias, dropout, causal }: CoreArgs): tf.Tensor2D {
  const hidden = qkv.shape[1] / 3;
  const dh = hidden / numHeads;
  const heads = (t: tf.Tensor): tf.Tensor4D =>
    tf.transpose(tf.reshape(t, [batch, seqLen, numHeads, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
  const [q, k, v] = tf.split(qkv, 3, 1).map(heads) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  let scores = tf.add(
    tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)),
    tf.reshape(keyBias, [batch, 1, 1, seqLen]),
  );
  if (causal) scores = tf.add(scores, causalBias(seqLen));
  let weights: tf.Tensor = tf.softmax(scores);
  weights = applyDropout(weights, dropout);
  const out = tf.matMul(weights as tf.Tensor4D, v);
  return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [batch * seqLen, hidden]) as tf.Tensor2D;
}

function perHeadAttention(args: CoreArgs): tf.Tensor2D {
  const { batch: B, seqLen: T, numHeads: H, dropout, hasMask, causal } = args;
  const hidden = args.qkv.shape[1] / 3;
  const dh = hidden / H;
  const scale = 1 / Math.sqrt(dh);
  // PyTorch scales q before q·kᵀ; doing it once on the packed [q | k | v] saves a multiply per head.
  const qScale = (): tf.Tensor1D =>
    tf.concat([tf.fill([hidden], scale), tf.ones([2 * hidden])]) as tf.Tensor1D;
  // Per-head tensors come from gather: on wasm, slice/split/unstack copy the whole input out of the
  // heap on every call (readSync) and 5-D transposes take a generic path much slower than 4-D ones,
  // so all reshuffles here are 4-D transposes or 2-D transposes of one head.
  const row = (src: tf.Tensor, i: number, rows: number, cols: number): tf.Tensor2D =>
    tf.reshape(tf.gather(src, tf.tensor1d([i], 'int32')), [rows, cols]) as tf.Tensor2D;

  const f = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [qkv, keyBias, save] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    // [B·T, 3h] → [B, 3H, T, dh]: index b·3H + p·H + j is part p (q, k, v) of head j of sequence b.
    const heads = tf.reshape(
      tf.transpose(tf.reshape(tf.mul(qkv, qScale()), [B, T, 3 * H, dh]), [0, 2, 1, 3]),
      [B * 3 * H, T * dh],
    );
    const qs: tf.Tensor2D[] = [];
    const ks: tf.Tensor2D[] = [];
    const vs: tf.Tensor2D[] = [];
    const weights: tf.Tensor2D[] = [];
    const masks: tf.Tensor2D[] = [];
    const outs: tf.Tensor2D[] = [];
    const causalRows = causal ? causalBias(T) : null;
    for (let b = 0; b < B; b++) {
      const keyRow = hasMask ? row(keyBias, b, 1, T) : null;
      const biasRow = keyRow && causalRows ? tf.add(causalRows, keyRow) : (keyRow ?? causalRows);
      for (let j = 0; j < H; j++) {
        const base = b * 3 * H + j;
        const q = row(heads, base, T, dh);
        const k = row(heads, base + H, T, dh);
        const v = row(heads, base + 2 * H, T, dh);
        const scores = tf.matMul(q, tf.transpose(k));
        const a = tf.softmax(biasRow ? tf.add(scores, biasRow) : scores) as tf.Tensor2D;
        let ad = a;
        if (dropout > 0) {
          const m = dropoutMask([T, T], dropout) as tf.Tensor2D;
          masks.push(m);
          ad = tf.mul(a, m);
        }
        outs.push(tf.matMul(ad, v));
        qs.push(q);
        ks.push(k);
        vs.push(v);
        weights.push(a);
      }
    }
    save([...qs, ...ks, ...vs, ...weights, ...masks]);
    const value = tf.reshape(tf.transpose(tf.reshape(tf.stack(outs), [B, H, T, dh]), [0, 2, 1, 3]), [
      B * T,
      hidden,
    ]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const n = B * H;
        const part = (p: number): tf.Tensor2D[] => saved.slice(p * n, (p + 1) * n) as tf.Tensor2D[];
        const [sq, sk, sv, sw] = [part(0), part(1), part(2), part(3)];
        const sm = dropout > 0 ? part(4) : [];
        const dO = tf.reshape(tf.transpose(tf.reshape(dy, [B, T, H, dh]), [0, 2, 1, 3]), [n, T * dh]);
        const grads: tf.Tensor2D[] = [];
        // Row sums as a matMul with one shared ones column: wasm's Sum is slower, and XNNPACK packs
        // the shared right operand once.
        const onesCol = tf.ones([T, 1]) as tf.Tensor2D;
        for (let b = 0; b < B; b++) {
          const dQ: tf.Tensor2D[] = [];
          const dK: tf.Tensor2D[] = [];
          const dV: tf.Tensor2D[] = [];
          for (let j = 0; j < H; j++) {
            const i = b * H + j;
            const g = row(dO, i, T, dh);
            const a = sw[i] as tf.Tensor2D;
            const m = sm[i];
            const ad = m ? tf.mul(a, m) : a;
            dV.push(tf.matMul(tf.transpose(ad), g));
            const dAd = tf.matMul(g, tf.transpose(sv[i] as tf.Tensor2D));
            const dA = m ? tf.mul(dAd, m) : dAd;
            const rowDot = tf.matMul(tf.mul(dA, a) as tf.Tensor2D, onesCol);
            const dS = tf.mul(a, tf.sub(dA, rowDot)) as tf.Tensor2D;
            dQ.push(tf.matMul(dS, sk[i] as tf.Tensor2D));
            dK.push(tf.matMul(tf.transpose(dS), sq[i] as tf.Tensor2D));
          }
          grads.push(...dQ, ...dK, ...dV);
        }
        const d = tf.transpose(tf.reshape(tf.stack(grads), [B, 3 * H, T, dh]), [0, 2, 1, 3]);
        return [tf.mul(tf.reshape(d, [B * T, 3 * hidden]), qScale()), tf.zerosLike(keyBias)];
      },
    };
  });
  return f(args.qkv, args.keyBias) as tf.Tensor2D;
}

import * as tf from '@tensorflow/tfjs-core';
import '../core/gradients';

/**
 * How the scaled-dot-product core of multi-head self-attention is computed.
 * - `'batched'`: batched `matMul` over [B, H] and tfjs autodiff. Best where batched matMul is fast
 *   (webgl, webgpu, tensorflow).
 * - `'per-head'`: one 2-D `matMul` per (batch, head) with a hand-written backward pass. On wasm, 2-D
 *   matMuls without transpose flags use XNNPACK while batched or transposed ones take a slow path;
 *   measured ~9× faster for the score and value products at B 8, H 8, T 128, d_head 32.
 * - `'auto'` (default): `'per-head'` on the wasm backend, `'batched'` elsewhere.
 */
export type AttentionImpl = 'auto' | 'batched' | 'per-head';

/** Arguments of {@link selfAttentionCore}. */
export interface SelfAttentionCoreArgs {
  /** [B·T, 3·hidden]: the packed in-projection output [q | k | v] (PyTorch's in_proj layout). */
  qkv: tf.Tensor2D;
  batch: number;
  seqLen: number;
  numHeads: number;
  /** [B, T] additive key bias: 0 for real keys, −1e9 for padding (never −Infinity: NaN rows). */
  keyBias: tf.Tensor2D;
  /** Dropout rate on the attention weights (0 = off; the caller passes 0 in eval mode). */
  dropout: number;
  impl?: AttentionImpl;
}

/**
 * softmax(q·kᵀ/√d_head + keyBias)·v for every head, as `nn.MultiheadAttention` computes it between its
 * in- and out-projections (dropout on the attention weights, like PyTorch).
 *
 * @returns [B·T, hidden], heads concatenated in PyTorch's order; differentiable w.r.t. `qkv`
 * (`keyBias` is treated as a constant).
 */
export function selfAttentionCore(args: SelfAttentionCoreArgs): tf.Tensor2D {
  const impl = args.impl ?? 'auto';
  const perHead = impl === 'per-head' || (impl === 'auto' && tf.getBackend() === 'wasm');
  return perHead ? perHeadAttention(args) : batchedAttention(args);
}

function batchedAttention({
  qkv,
  batch,
  seqLen,
  numHeads,
  keyBias,
  dropout,
}: SelfAttentionCoreArgs): tf.Tensor2D {
  const hidden = qkv.shape[1] / 3;
  const dh = hidden / numHeads;
  const heads = (t: tf.Tensor): tf.Tensor4D =>
    tf.transpose(tf.reshape(t, [batch, seqLen, numHeads, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
  const [q, k, v] = tf.split(qkv, 3, 1).map(heads) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  const scores = tf.add(
    tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)),
    tf.reshape(keyBias, [batch, 1, 1, seqLen]),
  );
  let weights: tf.Tensor = tf.softmax(scores);
  if (dropout > 0) weights = tf.dropout(weights, dropout);
  const out = tf.matMul(weights as tf.Tensor4D, v);
  return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [batch * seqLen, hidden]) as tf.Tensor2D;
}

function perHeadAttention(args: SelfAttentionCoreArgs): tf.Tensor2D {
  const { batch: B, seqLen: T, numHeads: H, dropout } = args;
  const hidden = args.qkv.shape[1] / 3;
  const dh = hidden / H;
  const BH = B * H;
  const scale = 1 / Math.sqrt(dh);
  const keep = 1 - dropout;
  // Index tensors for gather: wasm's slice/split/unstack copy the whole input out of the heap per
  // call (readSync), gather does not.
  const index = (i: number): tf.Tensor1D => tf.tensor1d([i], 'int32');
  const head = (src: tf.Tensor3D, i: number, rows: number, cols: number): tf.Tensor2D =>
    tf.reshape(tf.gather(src, index(i)), [rows, cols]) as tf.Tensor2D;

  const f = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [qkv, keyBias, save] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const five = tf.reshape(qkv, [B, T, 3, H, dh]);
    // all: [q; k; v] heads as [3·B·H, T, dh]; allT: the same transposed, [3·B·H, dh, T].
    const all = tf.reshape(tf.transpose(five, [2, 0, 3, 1, 4]), [3 * BH, T, dh]) as tf.Tensor3D;
    const allT = tf.reshape(tf.transpose(five, [2, 0, 3, 4, 1]), [3 * BH, dh, T]) as tf.Tensor3D;
    const biasRows: tf.Tensor2D[] = [];
    for (let b = 0; b < B; b++) biasRows.push(head(keyBias as unknown as tf.Tensor3D, b, 1, T));
    const weights: tf.Tensor2D[] = [];
    const masks: tf.Tensor2D[] = [];
    const outs: tf.Tensor2D[] = [];
    for (let i = 0; i < BH; i++) {
      const q = head(all, i, T, dh);
      const kT = head(allT, BH + i, dh, T);
      const v = head(all, 2 * BH + i, T, dh);
      const s = tf.add(tf.mul(tf.matMul(q, kT), scale), biasRows[Math.floor(i / H)] as tf.Tensor2D);
      const a = tf.softmax(s) as tf.Tensor2D;
      weights.push(a);
      let ad = a;
      if (dropout > 0) {
        const m = tf.div(tf.cast(tf.greaterEqual(tf.randomUniform([T, T]), dropout), 'float32'), keep);
        masks.push(m as tf.Tensor2D);
        ad = tf.mul(a, m);
      }
      outs.push(tf.matMul(ad, v));
    }
    save([all, allT, ...weights, ...masks]);
    const value = tf.reshape(tf.transpose(tf.reshape(tf.stack(outs), [B, H, T, dh]), [0, 2, 1, 3]), [
      B * T,
      hidden,
    ]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const sAll = saved[0] as tf.Tensor3D;
        const sAllT = saved[1] as tf.Tensor3D;
        const sW = saved.slice(2, 2 + BH) as tf.Tensor2D[];
        const sM = saved.slice(2 + BH) as tf.Tensor2D[];
        const dO = tf.reshape(tf.transpose(tf.reshape(dy, [B, T, H, dh]), [0, 2, 1, 3]), [
          BH,
          T,
          dh,
        ]) as tf.Tensor3D;
        const dQs: tf.Tensor2D[] = [];
        const dKs: tf.Tensor2D[] = [];
        const dVs: tf.Tensor2D[] = [];
        for (let i = 0; i < BH; i++) {
          const g = head(dO, i, T, dh);
          const q = head(sAll, i, T, dh);
          const k = head(sAll, BH + i, T, dh);
          const vT = head(sAllT, 2 * BH + i, dh, T);
          const a = sW[i] as tf.Tensor2D;
          const m = sM[i];
          const ad = m ? tf.mul(a, m) : a;
          dVs.push(tf.matMul(tf.transpose(ad), g));
          const dAd = tf.matMul(g, vT);
          const dA = m ? tf.mul(dAd, m) : dAd;
          const dS = tf.mul(tf.mul(a, tf.sub(dA, tf.sum(tf.mul(dA, a), -1, true))), scale) as tf.Tensor2D;
          dQs.push(tf.matMul(dS, k));
          dKs.push(tf.matMul(tf.transpose(dS), q));
        }
        const d = tf.reshape(tf.stack([tf.stack(dQs), tf.stack(dKs), tf.stack(dVs)]), [3, B, H, T, dh]);
        return [tf.reshape(tf.transpose(d, [1, 3, 0, 2, 4]), [B * T, 3 * hidden]), tf.zerosLike(keyBias)];
      },
    };
  });
  return f(args.qkv, args.keyBias) as tf.Tensor2D;
}

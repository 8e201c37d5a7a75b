import * as tf from '@tensorflow/tfjs-core';
import '../core/gradients';

/**
 * The fused kernel behind {@link sequenceLogProbs}: `out[b,t] = mask[b,t] · log softmax(logits[b,t])[labels[b,t]]`
 * with a hand-written gradient `∂out/∂logits[b,t] = mask[b,t] · (onehot(labels[b,t]) − softmax(logits[b,t]))`.
 *
 * Why a custom gradient: the form users write, `sum(logSoftmax(logits) · oneHot(labels))`, keeps a
 * [B,T,V] log-softmax, a [B,T,V] one-hot and their [B,T,V] product alive for the backward pass and
 * recomputes softmax inside logSoftmax's gradient. Here forward keeps only the [B,T] log-sum-exp
 * (`picked − lse` needs no [B,T,V] log-softmax), and backward rebuilds softmax once from it. No
 * `gather` on the vocabulary axis (its gradient needs UnsortedSegmentSum, absent on wasm). Masked
 * positions get exactly zero gradient because their upstream gradient is multiplied by 0 before it
 * touches the vocabulary axis.
 *
 * Internal: callers validate. `labels` int32 [B,T] in [0,V); `mask` float32 [B,T] of 0/1; `logits`
 * float32 [B,T,V]. Only `logits` is differentiated.
 */
export function maskedLabelLogProbs(
  logits: tf.Tensor3D,
  labels: tf.Tensor2D,
  mask: tf.Tensor2D,
): tf.Tensor2D {
  const vocab = logits.shape[2];
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor3D;
    const save = args[1] as tf.GradSaveFunc;
    const lse = tf.logSumExp(x, -1); // [B,T]
    const oneHot = tf.oneHot(labels, vocab); // int32 [B,T,V]: wasm's OneHot ignores a float dtype
    const oneHotF = tf.cast(oneHot, 'float32');
    oneHot.dispose();
    const pickedTerms = tf.mul(x, oneHotF);
    oneHotF.dispose();
    const picked = tf.sum(pickedTerms, -1); // logits at the label, [B,T]
    pickedTerms.dispose();
    const value = tf.mul(tf.sub(picked, lse), mask) as tf.Tensor2D;
    // labels/mask are saved too: callers may build them in a tidy that ends before backward runs.
    save([x, lse, labels, mask]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, lseS, labelsS, maskS] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        // Both terms are built in place of one another to keep at most two [B,T,V] buffers alive.
        const g = tf.mul(dy, maskS); // [B,T]
        const g3 = tf.expandDims(g, -1);
        const shifted = tf.sub(xs, tf.expandDims(lseS, -1));
        const softmax = tf.exp(shifted);
        shifted.dispose();
        const negSoftGrad = tf.mul(softmax, g3); // softmax · g
        softmax.dispose();
        const hot = tf.oneHot(labelsS, vocab);
        const hotF = tf.cast(hot, 'float32');
        hot.dispose();
        const hotGrad = tf.mul(hotF, g3); // onehot · g
        hotF.dispose();
        const dx = tf.sub(hotGrad, negSoftGrad);
        tf.dispose([g, g3, hotGrad, negSoftGrad]);
        return dx;
      },
    };
  });
  return f(logits) as tf.Tensor2D;
}

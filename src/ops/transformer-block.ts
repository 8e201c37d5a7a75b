import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertArgs, assertNumber, assertObject, assertRank, assertShape } from '../core/validate';
import { selfAttentionCore } from './attention';
import { dropout as applyDropout } from './dropout';
import { fastLinear } from './fast-linear';
import { geluErf } from './gelu';
import { layerNorm } from './layer-norm';
import { withSharedClones } from './wasm/shared-clone';

/**
 * The weights of one pre-LN transformer block in GPT-2's layout, kernels stored [in, out] (Wᵀ of
 * PyTorch's `nn.Linear.weight`): d = model width, f = feed-forward width.
 */
export interface TransformerBlockWeights {
  /** Scale [d] of the LayerNorm before attention (`norm1.weight` of `nn.TransformerEncoderLayer`). */
  ln1Gamma: tf.Tensor1D;
  /** Shift [d] of that LayerNorm (`norm1.bias`). */
  ln1Beta: tf.Tensor1D;
  /** The packed q | k | v projection, [d, 3d] (`self_attn.in_proj_weight`ᵀ). */
  qkvKernel: tf.Tensor2D;
  /** Its bias, [3d] (`self_attn.in_proj_bias`). */
  qkvBias: tf.Tensor1D;
  /** The output projection, [d, d] (`self_attn.out_proj.weight`ᵀ). */
  outKernel: tf.Tensor2D;
  /** Its bias, [d]. */
  outBias: tf.Tensor1D;
  /** Scale [d] of the LayerNorm before the feed-forward network (`norm2.weight`). */
  ln2Gamma: tf.Tensor1D;
  /** Its shift, [d] (`norm2.bias`). */
  ln2Beta: tf.Tensor1D;
  /** The first feed-forward layer, [d, f] (`linear1.weight`ᵀ). */
  fc1Kernel: tf.Tensor2D;
  /** Its bias, [f]. */
  fc1Bias: tf.Tensor1D;
  /** The second feed-forward layer, [f, d] (`linear2.weight`ᵀ). */
  fc2Kernel: tf.Tensor2D;
  /** Its bias, [d]. */
  fc2Bias: tf.Tensor1D;
}

/** Options of {@link transformerBlock}. */
export interface TransformerBlockOptions {
  /** Attention heads; must divide d. Required. */
  numHeads: number;
  /**
   * Query t attends to positions ≤ t only (a GPT decoder block). Default true; false gives an encoder
   * block (`nn.TransformerEncoderLayer` without a source mask).
   */
  causal?: boolean;
  /**
   * [B, T] key padding mask, 1 for real tokens and 0 for padding (keys at 0 get no attention, as
   * PyTorch's `src_key_padding_mask`). Default: none. A causal block over right-padded sequences
   * needs none: no real token attends to a later pad.
   */
  attentionMask?: tf.Tensor2D;
  /**
   * Dropout rate on the attention weights and on both residual branches when `training` (PyTorch's
   * `dropout` of `nn.TransformerEncoderLayer`). Default 0.
   */
  dropout?: number;
  /** Dropout is applied only when true. Default false. */
  training?: boolean;
  /** LayerNorm epsilon. Default 1e-5, PyTorch's (tfjs-layers' `layerNormalization` uses 1e-3). */
  layerNormEpsilon?: number;
}

const WHERE = 'transformerBlock';
/** The name of one weight of {@link TransformerBlockWeights}. */
export type WeightName = keyof TransformerBlockWeights;

/** Each weight's shape for width d and feed-forward width f, in GPT-2 / PyTorch order. */
export function transformerBlockShapes(d: number, f: number): Record<WeightName, number[]> {
  return {
    ln1Gamma: [d],
    ln1Beta: [d],
    qkvKernel: [d, 3 * d],
    qkvBias: [3 * d],
    outKernel: [d, d],
    outBias: [d],
    ln2Gamma: [d],
    ln2Beta: [d],
    fc1Kernel: [d, f],
    fc1Bias: [f],
    fc2Kernel: [f, d],
    fc2Bias: [d],
  };
}

/**
 * One pre-LN transformer block (GPT-2; `nn.TransformerEncoderLayer(norm_first=True,
 * activation='gelu')` with a causal source mask) on ganpo's kernels:
 *
 *     a = x + Dropout(Attn(LN₁(x))·W_o + b_o)           Attn: softmax(q·kᵀ/√d_h [+ mask])·v per head
 *     y = a + Dropout(GELU(LN₂(a)·W₁ + b₁)·W₂ + b₂)      with [q | k | v] = LN₁(x)·W_qkv + b_qkv
 *
 * Every product is {@link fastLinear} (on wasm ganpo's SIMD GEMM, no transposed matMuls in the
 * backward pass), attention is {@link selfAttentionCore} reading the heads in place from the packed
 * q | k | v (on wasm one kernel per direction, causal rows stopping at the diagonal; no split),
 * LayerNorm and exact GELU have fused gradients (one SIMD kernel each way on wasm). On wasm the
 * tensors saved for the backward pass share their buffers instead of being copied
 * (`withSharedClones`). Values and gradients equal plain tfjs ops' up to float rounding (tested on
 * the cpu and wasm backends).
 *
 * @param x - [B, T, d] float32.
 * @param weights - see {@link TransformerBlockWeights}.
 * @param options - `numHeads` (required), `causal` (default true), `attentionMask`, `dropout`
 *   (default 0), `training` (default false), `layerNormEpsilon` (default 1e-5).
 * @returns [B, T, d], differentiable w.r.t. `x` and every weight.
 * @throws GanpoError `SHAPE_MISMATCH` when a weight's shape does not fit x's width or `numHeads`
 *   does not divide it; `INVALID_ARGUMENT` / `OUT_OF_RANGE` for bad options.
 */
export function transformerBlock(
  x: tf.Tensor3D,
  weights: TransformerBlockWeights,
  options: TransformerBlockOptions,
): tf.Tensor3D {
  assertRank(WHERE, 'x', x, 3);
  assertArgs(WHERE, options, '{ numHeads, causal?, attentionMask?, dropout?, training?, layerNormEpsilon? }');
  assertObject(WHERE, 'weights', weights, 'TransformerBlockWeights');
  const [B, T, d] = x.shape;
  const numHeads = assertNumber(WHERE, 'numHeads', options.numHeads, { min: 1, integer: true });
  if (d % numHeads !== 0) {
    throw argumentError('SHAPE_MISMATCH', WHERE, 'numHeads', `a divisor of the width ${d}`, String(numHeads));
  }
  const rate = assertNumber(WHERE, 'dropout', options.dropout ?? 0, { min: 0, lessThan: 1 });
  const epsilon = assertNumber(WHERE, 'layerNormEpsilon', options.layerNormEpsilon ?? 1e-5, {
    greaterThan: 0,
  });
  checkWeights(weights, d);
  if (options.attentionMask !== undefined) assertShape(WHERE, 'attentionMask', options.attentionMask, [B, T]);
  const dropout = options.training === true ? rate : 0;
  const w = weights;
  return withSharedClones(() =>
    tf.tidy(() => {
      const keyBias = options.attentionMask
        ? (tf.mul(tf.sub(1, tf.cast(options.attentionMask, 'float32')), -1e9) as tf.Tensor2D)
        : undefined;
      const x2 = tf.reshape(x, [B * T, d]) as tf.Tensor2D;
      const qkv = fastLinear(layerNorm(x2, w.ln1Gamma, w.ln1Beta, epsilon), w.qkvKernel, w.qkvBias);
      const context = selfAttentionCore({
        qkv,
        batch: B,
        seqLen: T,
        numHeads,
        ...(keyBias ? { keyBias } : {}),
        causal: options.causal ?? true,
        dropout,
      });
      const a = tf.add(x2, applyDropout(fastLinear(context, w.outKernel, w.outBias), dropout)) as tf.Tensor2D;
      const hidden = geluErf(
        fastLinear(layerNorm(a, w.ln2Gamma, w.ln2Beta, epsilon), w.fc1Kernel, w.fc1Bias),
      );
      const y = tf.add(a, applyDropout(fastLinear(hidden, w.fc2Kernel, w.fc2Bias), dropout));
      return tf.reshape(y, [B, T, d]) as tf.Tensor3D;
    }),
  );
}

/** Every weight present, with the shape width d and a consistent feed-forward width. */
function checkWeights(w: TransformerBlockWeights, d: number): void {
  assertRank(WHERE, 'weights.fc1Kernel', w.fc1Kernel, 2);
  const shapes = transformerBlockShapes(d, w.fc1Kernel.shape[1]);
  for (const [name, shape] of Object.entries(shapes)) {
    assertShape(WHERE, `weights.${name}`, w[name as WeightName], shape);
  }
}

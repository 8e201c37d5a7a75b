/**
 * tfjs kernel `GanpoAdamW` (wasm backend only): one AdamW update of a float32 parameter as one
 * kernel with three outputs [p', m', v'] (./adamw-simd.ts), instead of ~14 element-wise kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AdamWSimdExports, adamwSimdModule } from './adamw-simd';
import {
  instanceFor,
  type KernelArgs,
  pointer,
  registerWhenAvailable,
  type WasmBackendLike,
} from './backend';

export const ADAMW = 'GanpoAdamW';

/** Float32 scalars of one update (see ./adamw-simd.ts). */
export interface AdamWScalars {
  /** Apply decoupled weight decay p·(1 − α·λ) first. */
  decay: boolean;
  /** 1 − α·λ. */
  decayFactor: number;
  beta1: number;
  beta2: number;
  /** √(1 − β2^t). */
  biasCorrection2Sqrt: number;
  epsilon: number;
  /** α / (1 − β1^t). */
  stepSize: number;
}

const adamwExports = (b: WasmBackendLike): AdamWSimdExports | null =>
  instanceFor<AdamWSimdExports>(b, 'adamw', adamwSimdModule);

function adamwKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const b = backend as WasmBackendLike;
  const { p, g, m, v } = inputs as Record<'p' | 'g' | 'm' | 'v', tf.TensorInfo>;
  const a = attrs as unknown as AdamWScalars;
  const outs = [
    b.makeOutput(p.shape, 'float32'),
    b.makeOutput(p.shape, 'float32'),
    b.makeOutput(p.shape, 'float32'),
  ];
  (adamwExports(b) as AdamWSimdExports).adamw(
    pointer(b, p),
    pointer(b, g),
    pointer(b, m),
    pointer(b, v),
    pointer(b, outs[0] as tf.TensorInfo),
    pointer(b, outs[1] as tf.TensorInfo),
    pointer(b, outs[2] as tf.TensorInfo),
    tf.util.sizeFromShape(p.shape),
    a.decay ? 1 : 0,
    a.decayFactor,
    a.beta1,
    1 - a.beta1,
    a.beta2,
    1 - a.beta2,
    a.biasCorrection2Sqrt,
    a.epsilon,
    -a.stepSize,
  );
  return outs;
}

/** True (and the kernel registered) when the active backend is wasm and the module instantiates. */
export function wasmAdamWAvailable(): boolean {
  return registerWhenAvailable(adamwExports, { [ADAMW]: adamwKernel });
}

/** [p', m', v'] of one AdamW update on wasm (call only after {@link wasmAdamWAvailable}). */
export function wasmAdamWUpdate(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  scalars: AdamWScalars,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel(ADAMW, { p, g, m, v }, scalars as unknown as tf.NamedAttrMap) as unknown as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}

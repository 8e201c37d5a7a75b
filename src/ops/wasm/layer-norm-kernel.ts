/**
 * tfjs kernels `GanpoLayerNorm` (outputs y, x̂, r) / `GanpoLayerNormGrad` (dx), wasm backend only,
 * running ./layer-norm-simd.ts in place.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  activeWasmBackend,
  instanceFor,
  type KernelArgs,
  pointer,
  registerOnce,
  type WasmBackendLike,
} from './backend';
import { type LayerNormSimdExports, layerNormSimdModule } from './layer-norm-simd';

export const LAYER_NORM_FORWARD = 'GanpoLayerNorm';
export const LAYER_NORM_BACKWARD = 'GanpoLayerNormGrad';

const lnExports = (b: WasmBackendLike): LayerNormSimdExports | null =>
  instanceFor<LayerNormSimdExports>(b, 'layerNorm', layerNormSimdModule);

function forwardKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const b = backend as WasmBackendLike;
  const { x, gamma, beta } = inputs as Record<string, tf.TensorInfo>;
  const [n, d] = (x as tf.TensorInfo).shape as [number, number];
  const y = b.makeOutput([n, d], 'float32');
  const xhat = b.makeOutput([n, d], 'float32');
  const rstd = b.makeOutput([n, 1], 'float32');
  const { epsilon } = attrs as { epsilon: number };
  const ex = lnExports(b) as LayerNormSimdExports;
  ex.layerNormForward(
    pointer(b, x as tf.TensorInfo),
    pointer(b, gamma as tf.TensorInfo),
    pointer(b, beta as tf.TensorInfo),
    pointer(b, y),
    pointer(b, xhat),
    pointer(b, rstd),
    n,
    d,
    epsilon,
  );
  return [y, xhat, rstd];
}

function backwardKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const { dy, xhat, rstd, gamma } = inputs as Record<string, tf.TensorInfo>;
  const [n, d] = (xhat as tf.TensorInfo).shape as [number, number];
  const dx = b.makeOutput([n, d], 'float32');
  (lnExports(b) as LayerNormSimdExports).layerNormBackward(
    pointer(b, dy as tf.TensorInfo),
    pointer(b, xhat as tf.TensorInfo),
    pointer(b, rstd as tf.TensorInfo),
    pointer(b, gamma as tf.TensorInfo),
    pointer(b, dx),
    n,
    d,
  );
  return dx;
}

/** True (and the kernels registered) on the wasm backend for rows of a multiple of 4 floats. */
export function wasmLayerNormAvailable(d: number): boolean {
  const backend = activeWasmBackend();
  if (!backend || d % 4 !== 0 || !lnExports(backend)) return false;
  registerOnce(LAYER_NORM_FORWARD, forwardKernel as unknown as tf.KernelFunc);
  registerOnce(LAYER_NORM_BACKWARD, backwardKernel as unknown as tf.KernelFunc);
  return true;
}

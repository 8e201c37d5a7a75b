/**
 * tfjs kernel `GanpoTranspose2D` (wasm backend only): the transpose of a 2-D float32 tensor
 * (./transpose-simd.ts), and `transpose2d`, which uses it on wasm and `tf.transpose` elsewhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { kernelFlags } from '../kernel-flags';
import { instanceFor, matrixKernel, registerWhenAvailable, type WasmBackendLike } from './backend';
import { type TransposeSimdExports, transposeSimdModule } from './transpose-simd';

export const TRANSPOSE_2D = 'GanpoTranspose2D';

const exportsOf = (b: WasmBackendLike): TransposeSimdExports | null =>
  instanceFor<TransposeSimdExports>(b, 'transpose2d', transposeSimdModule);

const transposeKernel = matrixKernel(
  exportsOf,
  (rows, cols) => [cols, rows],
  (e, x, y, rows, cols) => e.transpose2d(x, y, rows, cols),
);

/** True (and the kernel registered) when the active backend is wasm and the module instantiates. */
export function wasmTransposeAvailable(): boolean {
  return registerWhenAvailable(exportsOf, { [TRANSPOSE_2D]: transposeKernel });
}

/**
 * xᵀ for a 2-D tensor: on wasm (float32, `kernelFlags.wasmTranspose`) one SIMD kernel, elsewhere
 * `tf.transpose`. Not differentiable on wasm (used inside gradient functions).
 */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  if (kernelFlags.wasmTranspose && x.dtype === 'float32' && wasmTransposeAvailable()) {
    return tf.engine().runKernel(TRANSPOSE_2D, { x }) as tf.Tensor2D;
  }
  return tf.transpose(x);
}

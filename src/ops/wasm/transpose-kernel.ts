/**
 * tfjs kernel `GanpoTranspose2D` (wasm backend only): the transpose of a 2-D float32 tensor
 * (./transpose-simd.ts), and `transpose2d`, which uses it on wasm and `tf.transpose` elsewhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { kernelFlags } from '../kernel-flags';
import {
  instanceFor,
  type KernelArgs,
  memoryOf,
  pointer,
  registerWhenAvailable,
  type WasmBackendLike,
} from './backend';
import { blocks, kernelPoolFor } from './kernel-pool';
import { type TransposeSimdExports, transposeSimdModule } from './transpose-simd';

export const TRANSPOSE_2D = 'GanpoTranspose2D';

const exportsOf = (b: WasmBackendLike): TransposeSimdExports | null =>
  instanceFor<TransposeSimdExports>(b, 'transpose2d', transposeSimdModule);

/** Element moves per float, for the split decision (a transpose is bound by memory, not arithmetic). */
const WORK_PER_FLOAT = 8;

/**
 * y = xᵀ: on one thread, or, with a kernel pool and a large x, in blocks of x's columns (whole 4-column
 * groups), each writing its own block of y's rows.
 */
function transposeKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const x = inputs.x as tf.TensorInfo;
  const [rows, cols] = x.shape as [number, number];
  const y = b.makeOutput([cols, rows], 'float32');
  const [px, py] = [pointer(b, x), pointer(b, y)];
  const e = exportsOf(b) as TransposeSimdExports;
  const pool = kernelPoolFor(memoryOf(b));
  if (!pool?.worthSplitting(WORK_PER_FLOAT * rows * cols, Math.floor(cols / 4))) {
    e.transpose2d(px, py, rows, cols, cols);
    return y;
  }
  const calls = blocks(cols, pool.threads, 4).map(([start, count]) => [
    px + 4 * start,
    py + 4 * start * rows,
    rows,
    count,
    cols,
  ]);
  pool.run('transpose2d', () => transposeSimdModule(true), 'transpose2d', e.transpose2d, calls);
  return y;
}

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

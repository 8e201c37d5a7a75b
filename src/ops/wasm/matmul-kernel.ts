/**
 * tfjs kernel `GanpoMatMul2D` (wasm backend only): C = A·B (+ bias) for 2-D float32 tensors, or
 * Aᵀ·B with A given untransposed, running ./matmul-simd.ts in place on the backend's memory.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  instanceFor,
  type KernelArgs,
  pointer,
  registerWhenAvailable,
  type WasmBackendLike,
} from './backend';
import { type MatMulSimdExports, matMulSimdModule } from './matmul-simd';

export const MATMUL_2D = 'GanpoMatMul2D';

/** Kernel attributes: `transposeA` multiplies by Aᵀ (A [K, M]) instead of A (A [M, K]). */
export interface MatMul2DAttrs {
  transposeA: boolean;
}

const exportsOf = (b: WasmBackendLike, transposeA: boolean): MatMulSimdExports | null =>
  transposeA
    ? instanceFor<MatMulSimdExports>(b, 'matMul2dTransposedA', (shared) => matMulSimdModule(true, shared))
    : instanceFor<MatMulSimdExports>(b, 'matMul2d', (shared) => matMulSimdModule(false, shared));

function matMulKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackendLike;
  const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
  const { transposeA } = attrs as unknown as MatMul2DAttrs;
  const [r, c] = a.shape as [number, number];
  const [m, k] = transposeA ? [c, r] : [r, c];
  const n = b.shape[1] as number;
  const out = be.makeOutput([m, n], 'float32');
  (exportsOf(be, transposeA) as MatMulSimdExports).gemm(
    pointer(be, a),
    pointer(be, b),
    bias ? pointer(be, bias) : 0,
    pointer(be, out),
    m,
    k,
    n,
  );
  return out;
}

/**
 * True (and the kernel registered) when the active backend is wasm and the module for `transposeA`
 * instantiates.
 */
export function wasmMatMulAvailable(transposeA = false): boolean {
  return registerWhenAvailable((b) => exportsOf(b, transposeA), { [MATMUL_2D]: matMulKernel });
}

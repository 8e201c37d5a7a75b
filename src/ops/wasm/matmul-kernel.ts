/**
 * tfjs kernel `GanpoMatMul2D` (wasm backend only): C = A·B (+ bias) for 2-D float32 tensors, or
 * Aᵀ·B with A given untransposed, running ./matmul-simd.ts in place on the backend's memory.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  instanceFor,
  type KernelArgs,
  memoryOf,
  pointer,
  registerWhenAvailable,
  type WasmBackendLike,
} from './backend';
import { blocks, kernelPoolFor } from './kernel-pool';
import { type MatMulSimdExports, type MatMulVariant, matMulSimdModule } from './matmul-simd';

export const MATMUL_2D = 'GanpoMatMul2D';

/**
 * Kernel attributes: `variant` 'inPlace' (A [M, K], B read in place), 'transposedA' (Aᵀ·B, A [K, M])
 * or 'packedB' (A [M, K], B's 8-column groups copied to a scratch buffer first).
 */
export interface MatMul2DAttrs {
  variant: MatMulVariant;
}

const isShared = (b: WasmBackendLike): boolean => {
  const memory = memoryOf(b);
  return typeof SharedArrayBuffer !== 'undefined' && memory?.buffer instanceof SharedArrayBuffer;
};

/**
 * The module of `variant`, or null. Under the threaded build (shared memory) without ganpo's kernel
 * pool the large products stay on XNNPACK, whose thread pool runs them on every core where this
 * kernel would use one; with the pool (`initWasmThreads`) they are split over its threads.
 */
const exportsOf = (b: WasmBackendLike, variant: MatMulVariant): MatMulSimdExports | null =>
  variant === 'packedB' && isShared(b) && !kernelPoolFor(memoryOf(b))
    ? null
    : instanceFor<MatMulSimdExports>(b, `matMul2d:${variant}`, (shared) => matMulSimdModule(variant, shared));

function matMulKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackendLike;
  const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
  const { variant } = attrs as unknown as MatMul2DAttrs;
  const [r, c] = a.shape as [number, number];
  const [m, k] = variant === 'transposedA' ? [c, r] : [r, c];
  const n = b.shape[1] as number;
  const out = be.makeOutput([m, n], 'float32');
  const e = exportsOf(be, variant) as MatMulSimdExports;
  const pa = pointer(be, a);
  const pb = pointer(be, b);
  const pBias = bias ? pointer(be, bias) : 0;
  const pOut = pointer(be, out);
  const pool = kernelPoolFor(memoryOf(be));
  const transposedA = variant === 'transposedA';
  const lda = transposedA ? m : k;
  const run = (panels: number): void => {
    if (!pool?.worthSplitting(m * k * n, Math.floor(m / 4))) {
      e.gemm(pa, pb, panels, pBias, pOut, m, k, n, lda);
      return;
    }
    // Blocks of C's rows (whole 4-row tiles), each from A's matching rows (At's matching columns).
    const calls = blocks(m, pool.threads, 4).map(([start, rows]) => [
      transposedA ? pa + 4 * start : pa + 4 * start * k,
      pb,
      panels,
      pBias,
      pOut + 4 * start * n,
      rows,
      k,
      n,
      lda,
    ]);
    const gemm = e.gemm as (...args: number[]) => void;
    pool.run(`matMul2d:${variant}`, () => matMulSimdModule(variant, true), 'gemm', gemm, calls);
  };
  if (variant !== 'packedB' || !e.pack) {
    run(0);
    return out;
  }
  const panels = be.wasm._malloc(Math.max(4, 4 * k * (n - (n % 8))));
  try {
    e.pack(pb, panels, k, n);
    run(panels);
  } finally {
    be.wasm._free(panels);
  }
  return out;
}

/**
 * True (and the kernel registered) when the active backend is wasm and the module of `variant`
 * instantiates.
 */
export function wasmMatMulAvailable(variant: MatMulVariant = 'inPlace'): boolean {
  return registerWhenAvailable((b) => exportsOf(b, variant), { [MATMUL_2D]: matMulKernel });
}

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
 * The module of `variant`, or null. Under the threaded build (shared memory) the large products
 * stay on XNNPACK, whose thread pool runs them on every core where this kernel would use one.
 */
const exportsOf = (b: WasmBackendLike, variant: MatMulVariant): MatMulSimdExports | null =>
  variant === 'packedB' && isShared(b)
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
  if (variant !== 'packedB' || !e.pack) {
    e.gemm(pa, pb, 0, pBias, pOut, m, k, n);
    return out;
  }
  const panels = be.wasm._malloc(Math.max(4, 4 * k * (n - (n % 8))));
  try {
    e.pack(pb, panels, k, n);
    e.gemm(pa, pb, panels, pBias, pOut, m, k, n);
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

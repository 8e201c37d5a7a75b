import * as tf from '@tensorflow/tfjs-core';
import { kernelFlags } from './kernel-flags';
import { MATMUL_2D, wasmMatMulAvailable } from './wasm/matmul-kernel';
import { transpose2d } from './wasm/transpose-kernel';

/**
 * Largest K·N (floats of B) for which the SIMD kernel of ./wasm/matmul-simd.ts runs instead of
 * XNNPACK: below it XNNPACK's per-call packing of B dominates (the kernel took 0.4–0.9× XNNPACK's
 * time from 304×64×64 to 1024×256×256, interleaved, fresh B per call); above it XNNPACK's cache
 * blocking wins (1.1–1.5× at K or N ≥ 768).
 */
const MAX_B_FLOATS = 65_536;
/** Largest M·K·N for the transposed-A kernel, whose A walks rows of M floats per k. */
const MAX_TRANSPOSED_A_WORK = 1 << 24;

function useKernel(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  k: number,
  m: number,
  transposeA: boolean,
  bias?: tf.Tensor1D | null,
): boolean {
  const n = b.shape[1];
  return (
    kernelFlags.wasmMatMul &&
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    b.shape[0] === k &&
    m > 0 &&
    k > 0 &&
    n > 0 &&
    k * n <= MAX_B_FLOATS &&
    (!bias || (bias.dtype === 'float32' && bias.rank === 1 && bias.shape[0] === n)) &&
    wasmMatMulAvailable(transposeA)
  );
}

/**
 * a·b (+ bias) for 2-D float32 tensors: a [M, K], b [K, N], bias [N] added to every row; [M, N].
 * On wasm, for K·N ≤ 65 536, one WebAssembly SIMD kernel that reads b in place and adds the bias in
 * the same pass (the same floats as `tf.add(tf.matMul(a, b), bias)` there: see
 * ./wasm/matmul-simd.ts); elsewhere exactly that. Not differentiable on wasm (for use inside
 * gradient definitions such as `fastLinear`'s).
 */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D, bias?: tf.Tensor1D | null): tf.Tensor2D {
  const [m, k] = a.shape;
  if (useKernel(a, b, k, m, false, bias)) {
    const inputs: tf.NamedTensorMap = bias ? { a, b, bias } : { a, b };
    return tf.engine().runKernel(MATMUL_2D, inputs, { transposeA: false }) as tf.Tensor2D;
  }
  if (!bias) return tf.matMul(a, b);
  return tf.tidy(() => tf.add(tf.matMul(a, b), bias) as tf.Tensor2D);
}

/**
 * aᵀ·b for 2-D float32 tensors a [K, M], b [K, N]; [M, N]. On wasm, for K·N ≤ 65 536 and
 * M·K·N ≤ 2²⁴, one SIMD kernel reading a in place (no transposed copy; the same floats as
 * `tf.matMul(tf.transpose(a), b)` there); elsewhere an explicit transpose (one SIMD kernel on
 * wasm, see `transpose2d`) and `matMul2d`. Not differentiable on wasm.
 */
export function matMul2dTransposeA(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [k, m] = a.shape;
  if (m * k * b.shape[1] <= MAX_TRANSPOSED_A_WORK && useKernel(a, b, k, m, true)) {
    return tf.engine().runKernel(MATMUL_2D, { a, b }, { transposeA: true }) as tf.Tensor2D;
  }
  return tf.tidy(() => matMul2d(transpose2d(a), b));
}

import * as tf from '@tensorflow/tfjs-core';
import { kernelFlags } from './kernel-flags';
import { MATMUL_2D, wasmMatMulAvailable } from './wasm/matmul-kernel';
import type { MatMulVariant } from './wasm/matmul-simd';
import { transpose2d } from './wasm/transpose-kernel';

/**
 * Largest K·N (floats of B) that the SIMD kernel of ./wasm/matmul-simd.ts reads in place. Below it
 * copying B into panels first costs more than it saves, and XNNPACK, which packs B on every call, is
 * slower than the in-place kernel (docs/benchmarks.md, "Why the kernels look as they do").
 */
const MAX_IN_PLACE_B = 65_536;
/**
 * Largest K·N and M·K·N for the packed-B kernel: the range over which it was measured faster than
 * XNNPACK, up to the official-size discriminator's products (1024×2304·2304×512,
 * 512×1024·1024×2048); larger products stay on XNNPACK (docs/benchmarks.md, "Why the kernels look as they do").
 */
const MAX_PACKED_B = 1 << 21;
const MAX_PACKED_WORK = 1_300_000_000;
/** Largest M·K·N for the transposed-A kernel, whose A walks rows of M floats per k. */
const MAX_TRANSPOSED_A_WORK = 1 << 24;

/** Which kernel variant computes a [m, k]·[k, n] product on wasm, or null for tfjs's matMul. */
function variantFor(m: number, k: number, n: number, transposedA: boolean): MatMulVariant | null {
  if (m <= 0 || k <= 0 || n <= 0) return null;
  if (transposedA)
    return k * n <= MAX_IN_PLACE_B && m * k * n <= MAX_TRANSPOSED_A_WORK ? 'transposedA' : null;
  if (k * n <= MAX_IN_PLACE_B) return 'inPlace';
  return k * n <= MAX_PACKED_B && m * k * n <= MAX_PACKED_WORK ? 'packedB' : null;
}

function kernelVariant(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  m: number,
  k: number,
  transposedA: boolean,
  bias?: tf.Tensor1D | null,
): MatMulVariant | null {
  const n = b.shape[1];
  if (!kernelFlags.wasmMatMul || a.dtype !== 'float32' || b.dtype !== 'float32' || b.shape[0] !== k)
    return null;
  if (bias && (bias.dtype !== 'float32' || bias.rank !== 1 || bias.shape[0] !== n)) return null;
  const variant = variantFor(m, k, n, transposedA);
  return variant && wasmMatMulAvailable(variant) ? variant : null;
}

/**
 * a·b (+ bias) for 2-D float32 tensors: a [M, K], b [K, N], bias [N] added to every row; [M, N].
 * On wasm, one WebAssembly SIMD kernel that adds the bias in the same pass: for K·N ≤ 65 536 reading
 * b in place, up to K·N ≤ 2²¹ and M·K·N ≤ 1.3·10⁹ after copying b's 8-column groups into panels; the
 * same floats as `tf.add(tf.matMul(a, b), bias)` there (see ./wasm/matmul-simd.ts), which larger
 * products and every other backend run. Not differentiable on wasm (for use inside gradient
 * definitions such as `fastLinear`'s).
 */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D, bias?: tf.Tensor1D | null): tf.Tensor2D {
  const [m, k] = a.shape;
  const variant = kernelVariant(a, b, m, k, false, bias);
  if (variant) {
    const inputs: tf.NamedTensorMap = bias ? { a, b, bias } : { a, b };
    return tf.engine().runKernel(MATMUL_2D, inputs, { variant }) as tf.Tensor2D;
  }
  if (!bias) return tf.matMul(a, b);
  return tf.tidy(() => tf.add(tf.matMul(a, b), bias) as tf.Tensor2D);
}

/**
 * aᵀ·b for 2-D float32 tensors a [K, M], b [K, N]; [M, N]. On wasm, for K·N ≤ 65 536 and
 * M·K·N ≤ 2²⁴, one SIMD kernel reading a in place (no transposed copy; the same floats as
 * `tf.matMul(tf.transpose(a), b)` there); otherwise an explicit transpose (one SIMD kernel on wasm,
 * see `transpose2d`) and `matMul2d`. Not differentiable on wasm.
 */
export function matMul2dTransposeA(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [k, m] = a.shape;
  const variant = kernelVariant(a, b, m, k, true);
  if (variant) return tf.engine().runKernel(MATMUL_2D, { a, b }, { variant }) as tf.Tensor2D;
  return tf.tidy(() => matMul2d(transpose2d(a), b));
}

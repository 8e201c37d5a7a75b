import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertTensor, checksShapes, fmtShape } from '../core/validate';
import { kernelFlags } from './kernel-flags';
import { matMul2d, matMul2dTransposeA } from './matmul';
import { SUM_ROWS, wasmSumRowsAvailable } from './wasm/sum-rows-kernel';
import { transpose2d } from './wasm/transpose-kernel';

/**
 * Affine map y = x·K + b over the last axis, with the kernel stored as K = Wᵀ [in, out] (PyTorch keeps
 * W [out, in]; tfjs-layers' `dense` keeps [in, out] too). Inputs of rank > 2 are flattened to
 * [N, in] and back (a free reshape), so one call covers a [B, T, in] sequence.
 *
 * Why a custom gradient: tfjs-backend-wasm only uses XNNPACK for a 2-D `matMul` without transpose
 * flags; any `transposeA/B` takes a scalar slow path, an order of magnitude slower with tfjs 4.22
 * (docs/benchmarks.md, "Why the kernels look as they do"). The built-in MatMul gradient uses those flags, so this one transposes
 * explicitly and multiplies plainly: dx = dy·Kᵀ, dK = xᵀ·dy, db = Σ_rows dy. On wasm the products
 * run in ganpo's SIMD GEMM where it applies (see `matMul2d`). On cpu/webgl the explicit transposes
 * cost a copy and are otherwise equivalent.
 *
 * @param x - [..., in] float32 (rank ≥ 2).
 * @param kernel - [in, out] float32 (Wᵀ).
 * @param bias - optional [out].
 * @param dataInput - x is the network's input data: inside ganpo's discriminator update (where only
 *   the critics' weights are differentiated) it is then a constant (no dx computed, K not saved);
 *   elsewhere the flag changes nothing. Default false.
 * @returns [..., out], differentiable w.r.t. all inputs.
 */
export function fastLinear<T extends tf.Tensor>(
  x: T,
  kernel: tf.Tensor2D,
  bias?: tf.Tensor1D | null,
  dataInput = false,
): T {
  assertTensor('fastLinear', 'x', x);
  assertTensor('fastLinear', 'kernel', kernel);
  if (bias !== undefined && bias !== null) assertTensor('fastLinear', 'bias', bias);
  if (checksShapes()) checkLinearShapes(x, kernel, bias);
  if (x.rank === 2) return linear2d(x as unknown as tf.Tensor2D, kernel, bias, dataInput) as unknown as T;
  const inDim = x.shape[x.rank - 1] as number;
  const lead = x.shape.slice(0, -1);
  return tf.tidy(() => {
    const y = linear2d(tf.reshape(x, [-1, inDim]) as tf.Tensor2D, kernel, bias, dataInput);
    return tf.reshape(y, [...lead, kernel.shape[1]]);
  }) as T;
}

function linear2d(
  x: tf.Tensor2D,
  kernel: tf.Tensor2D,
  bias: tf.Tensor1D | null | undefined,
  dataInput: boolean,
): tf.Tensor2D {
  if (depth.frozenWeights > 0 && kernelFlags.frozenWeightGradients) return linearFrozen(x, kernel, bias);
  if (dataInput && depth.constantInputs > 0 && kernelFlags.constantInputs && kernelFlags.fastLinearGradient) {
    return linearConstantInput(x, kernel, bias);
  }
  if (!kernelFlags.fastLinearGradient) {
    const y = tf.matMul(x, kernel) as tf.Tensor2D;
    return bias ? (tf.add(y, bias) as tf.Tensor2D) : y;
  }
  return (bias ? linearWithBias(x, kernel, bias) : linearNoBias(x, kernel)) as tf.Tensor2D;
}

/**
 * x [..., in], kernel [in, out], bias [out]: a PyTorch-oriented weight [out, in] is named as such (a
 * tfjs matMul error would only list the two shapes).
 */
function checkLinearShapes(x: tf.Tensor, kernel: tf.Tensor, bias?: tf.Tensor | null): void {
  const where = 'fastLinear';
  if (x.rank < 2)
    throw argumentError('SHAPE_MISMATCH', where, 'x', 'rank >= 2 [..., in]', `shape ${fmtShape(x.shape)}`);
  if (kernel.rank !== 2) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'kernel',
      'rank 2 [in, out]',
      `shape ${fmtShape(kernel.shape)}`,
    );
  }
  const inDim = x.shape[x.rank - 1] as number;
  if (kernel.shape[0] !== inDim) {
    const pytorch =
      kernel.shape[1] === inDim
        ? ": this is PyTorch's nn.Linear layout [out, in]; pass its transpose (tf.transpose(weight))"
        : '';
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'kernel',
      `[in, out] with in = ${inDim} (x is ${fmtShape(x.shape)}; the kernel is Wᵀ)`,
      `shape ${fmtShape(kernel.shape)}${pytorch}`,
    );
  }
  if (bias !== undefined && bias !== null && (bias.rank !== 1 || bias.shape[0] !== kernel.shape[1])) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'bias',
      `[out] = [${kernel.shape[1]}]`,
      `shape ${fmtShape(bias.shape)}`,
    );
  }
}

/** How many {@link withFrozenWeights} / {@link withConstantInputs} calls the current code runs inside. */
const depth = { frozenWeights: 0, constantInputs: 0 };

/** Runs `fn` one level deeper in `scope`, restored when it returns or throws. */
function within<T>(scope: keyof typeof depth, fn: () => T): T {
  depth[scope] += 1;
  try {
    return fn();
  } finally {
    depth[scope] -= 1;
  }
}

/**
 * Runs `fn` with the kernel and bias of every {@link fastLinear} inside treated as constants: the
 * backward pass computes only dx = dy·Kᵀ, not dK = xᵀ·dy (a third of a linear layer's matMul work)
 * nor db, and saves only K. For a frozen network inside another model's gradient pass (GANPO's
 * generator term runs the critics this way); their weights then receive no gradient from `fn`.
 */
export function withFrozenWeights<T>(fn: () => T): T {
  return within('frozenWeights', fn);
}

/**
 * Runs `fn` with the input data of the networks inside treated as constants: a {@link fastLinear}
 * called with `dataInput` (a discriminator's first layer) computes dK = xᵀ·dy and db but not
 * dx = dy·Kᵀ, a gradient nobody reads when only the network's weights are differentiated (a
 * discriminator's training step: PyTorch's autograd skips it for inputs that do not require grad).
 * Values and weight gradients are unchanged; a gradient with respect to the data would be dropped.
 */
export function withConstantInputs<T>(fn: () => T): T {
  return within('constantInputs', fn);
}

/** y = x·K + b differentiable in K and b only (x captured as a constant and saved for dK). */
function linearConstantInput(x: tf.Tensor2D, kernel: tf.Tensor2D, bias?: tf.Tensor1D | null): tf.Tensor2D {
  if (bias) {
    return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [k, b, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
      save([x]);
      return {
        value: matMul2d(x, k, b),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
          matMul2dTransposeA(saved[0] as tf.Tensor2D, dy as tf.Tensor2D),
          sumRows(dy as tf.Tensor2D),
        ],
      };
    })(kernel, bias) as tf.Tensor2D;
  }
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [k, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save([x]);
    return {
      value: matMul2d(x, k),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        matMul2dTransposeA(saved[0] as tf.Tensor2D, dy as tf.Tensor2D),
    };
  })(kernel) as tf.Tensor2D;
}

/** y = x·K + b differentiable in x only (K, b captured as constants, K saved for the backward). */
function linearFrozen(x: tf.Tensor2D, kernel: tf.Tensor2D, bias?: tf.Tensor1D | null): tf.Tensor2D {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save([kernel]);
    return {
      value: matMul2d(input, kernel, bias),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        matMul2d(dy as tf.Tensor2D, transpose2d(saved[0] as tf.Tensor2D)),
    };
  })(x) as tf.Tensor2D;
}

/**
 * Σ over rows of a 2-D tensor. On wasm one SIMD kernel (./wasm/sum-rows-simd.ts): tfjs's Sum over
 * axis 0 there is a transpose plus a reduction (~2 ms for [1024, 256]) and ones[1,N]·x has XNNPACK
 * pack all of x first. Elsewhere ones[1,N]·x. Not differentiable on wasm (used inside gradients).
 */
export function sumRows(x: tf.Tensor2D): tf.Tensor1D {
  if (kernelFlags.wasmSumRows && x.dtype === 'float32' && wasmSumRowsAvailable()) {
    return tf.engine().runKernel(SUM_ROWS, { x }) as tf.Tensor1D;
  }
  return tf.reshape(tf.matMul(tf.ones([1, x.shape[0]]), x), [x.shape[1]]) as tf.Tensor1D;
}

const linearWithBias = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, k, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, k]);
  return {
    value: matMul2d(x, k, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sk] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [
        matMul2d(dy as tf.Tensor2D, transpose2d(sk)),
        matMul2dTransposeA(sx, dy as tf.Tensor2D),
        sumRows(dy as tf.Tensor2D),
      ];
    },
  };
});

const linearNoBias = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, k, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, k]);
  return {
    value: matMul2d(x, k),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sk] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [matMul2d(dy as tf.Tensor2D, transpose2d(sk)), matMul2dTransposeA(sx, dy as tf.Tensor2D)];
    },
  };
});

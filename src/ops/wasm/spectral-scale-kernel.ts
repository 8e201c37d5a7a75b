/**
 * tfjs kernels `GanpoSpectralScale` / `GanpoSpectralScaleGrad` (wasm backend only) running
 * ./spectral-scale-simd.ts in place, and the differentiable op built on them.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  instanceFor,
  type KernelArgs,
  pointer,
  registerWhenAvailable,
  type WasmBackendLike,
} from './backend';
import { type SpectralScaleSimdExports, spectralScaleSimdModule } from './spectral-scale-simd';

export const SPECTRAL_SCALE = 'GanpoSpectralScale';
export const SPECTRAL_SCALE_GRAD = 'GanpoSpectralScaleGrad';

const exportsOf = (b: WasmBackendLike): SpectralScaleSimdExports | null =>
  instanceFor<SpectralScaleSimdExports>(b, 'spectralScale', spectralScaleSimdModule);

function forwardKernel({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const b = backend as WasmBackendLike;
  const { kernel, u, v } = inputs as Record<'kernel' | 'u' | 'v', tf.TensorInfo>;
  const [inDim, outDim] = kernel.shape as [number, number];
  const w = b.makeOutput([inDim, outDim], 'float32');
  const sigma = b.makeOutput([1], 'float32');
  (exportsOf(b) as SpectralScaleSimdExports).spectralScale(
    pointer(b, kernel),
    pointer(b, u),
    pointer(b, v),
    pointer(b, w),
    pointer(b, sigma),
    inDim,
    outDim,
  );
  return [w, sigma];
}

function backwardKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const { dy, kernel, u, v, sigma } = inputs as Record<'dy' | 'kernel' | 'u' | 'v' | 'sigma', tf.TensorInfo>;
  const [inDim, outDim] = kernel.shape as [number, number];
  const dk = b.makeOutput([inDim, outDim], 'float32');
  (exportsOf(b) as SpectralScaleSimdExports).spectralScaleGrad(
    pointer(b, dy),
    pointer(b, kernel),
    pointer(b, u),
    pointer(b, v),
    pointer(b, sigma),
    pointer(b, dk),
    inDim,
    outDim,
  );
  return dk;
}

/** True (and the kernels registered) when the active backend is wasm and the module instantiates. */
export function wasmSpectralScaleAvailable(): boolean {
  return registerWhenAvailable(exportsOf, {
    [SPECTRAL_SCALE]: forwardKernel,
    [SPECTRAL_SCALE_GRAD]: backwardKernel,
  });
}

/**
 * K/σ with σ = vᵀ·K·u, differentiable in K only (u, v are constants: their values at this call are
 * saved for the backward pass, since a later training-mode call moves them). Call only after
 * {@link wasmSpectralScaleAvailable}.
 */
export const wasmSpectralScale = (kernel: tf.Tensor2D, u: tf.Tensor1D, v: tf.Tensor1D): tf.Tensor2D =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [k, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const [w, sigma] = tf.engine().runKernel(SPECTRAL_SCALE, { kernel: k, u, v }) as unknown as [
      tf.Tensor2D,
      tf.Tensor1D,
    ];
    save([k, u, v, sigma]);
    return {
      value: w,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sk, su, sv, ss] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        return tf
          .engine()
          .runKernel(SPECTRAL_SCALE_GRAD, { dy, kernel: sk, u: su, v: sv, sigma: ss }) as tf.Tensor;
      },
    };
  })(kernel) as tf.Tensor2D;

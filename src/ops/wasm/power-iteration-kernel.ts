/**
 * tfjs kernel `GanpoPowerIteration` (wasm backend only): one spectral-norm power iteration
 * (./power-iteration-simd.ts) as one kernel with outputs [v', u'].
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  instanceFor,
  type KernelArgs,
  pointer,
  registerWhenAvailable,
  type WasmBackendLike,
} from './backend';
import { type PowerIterationSimdExports, powerIterationSimdModule } from './power-iteration-simd';

export const POWER_ITERATION = 'GanpoPowerIteration';

const exportsOf = (b: WasmBackendLike): PowerIterationSimdExports | null =>
  instanceFor<PowerIterationSimdExports>(b, 'powerIteration', powerIterationSimdModule);

function powerIterationKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const b = backend as WasmBackendLike;
  const { kernel, u } = inputs as Record<'kernel' | 'u', tf.TensorInfo>;
  const [inDim, outDim] = kernel.shape as [number, number];
  const v1 = b.makeOutput([inDim], 'float32');
  const u1 = b.makeOutput([outDim], 'float32');
  (exportsOf(b) as PowerIterationSimdExports).powerIteration(
    pointer(b, kernel),
    pointer(b, u),
    pointer(b, v1),
    pointer(b, u1),
    inDim,
    outDim,
    (attrs as { eps: number }).eps,
  );
  return [v1, u1];
}

/** True (and the kernel registered) when the active backend is wasm and the module instantiates. */
export function wasmPowerIterationAvailable(): boolean {
  return registerWhenAvailable(exportsOf, { [POWER_ITERATION]: powerIterationKernel });
}

/**
 * [v', u'] = [normalize(K·u), normalize(v'ᵀ·K)] for K [in, out] float32 and u [out] on wasm (call
 * only after {@link wasmPowerIterationAvailable}; not differentiable).
 */
export function wasmPowerIteration(
  kernel: tf.Tensor2D,
  u: tf.Tensor1D,
  eps: number,
): [tf.Tensor1D, tf.Tensor1D] {
  return tf.engine().runKernel(POWER_ITERATION, { kernel, u }, { eps }) as unknown as [
    tf.Tensor1D,
    tf.Tensor1D,
  ];
}

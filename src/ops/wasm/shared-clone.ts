/**
 * Saved tensors without copies on the wasm backend. tfjs's engine keeps every tensor an op saves for
 * its backward pass (a kernel's inputs and outputs named by its gradient, a `tf.customGrad`'s
 * `save`) as `keep(clone(t))`, and `clone` runs the `Identity` kernel. tfjs-backend-wasm 4.x's
 * Identity copies the buffer; the cpu and webgl backends' Identity shares it (reference count + 1,
 * same data id), which is correct because tensors are immutable (a variable's `assign` swaps its
 * data id, it does not write into the old buffer). In a training step on wasm those copies are ~1 000
 * kernels (GanpoTrainer step, transformer critic) that only duplicate memory.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertFunction } from '../../core/validate';
import { kernelFlags } from '../kernel-flags';

interface RefCountingBackend {
  incRef(dataId: object): void;
}

let depth = 0;
let original: tf.KernelConfig | undefined;

function sharedIdentity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype === 'string' || !original) {
    return (original as tf.KernelConfig).kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  (args.backend as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Runs `fn` with tfjs's wasm `Identity` kernel replaced by one that shares the input's buffer (as
 * the cpu and webgl backends' Identity does), then restores the registered kernel, also when `fn`
 * throws. Nested calls swap once. Off the wasm backend, on a backend without reference counts, or
 * with `kernelFlags.sharedClones` off, it simply calls `fn`.
 *
 * Only for code that never writes into a tensor's buffer in place (tfjs kernels and ganpo's wasm
 * kernels write their outputs only): two tensors may then share one buffer. Values and gradients
 * are unchanged; the saved tensors cost no copy and no extra memory.
 *
 * @param fn - typically a whole training step (forward, `tf.variableGrads`, optimizer update).
 * @returns what `fn` returns.
 * @throws GanpoError `INVALID_ARGUMENT` when `fn` is not a function.
 * @example
 * ```ts
 * import { withSharedClones } from 'ganpo/ops';
 * const loss = withSharedClones(() => optimizer.minimize(lossFn, true, variables));
 * ```
 */
export function withSharedClones<T>(fn: () => T): T {
  assertFunction('withSharedClones', 'fn', fn);
  if (depth > 0 || !kernelFlags.sharedClones || tf.getBackend() !== 'wasm') return fn();
  const backend = tf.backend() as unknown as Partial<RefCountingBackend>;
  const registered = tf.getKernel(tf.Identity, 'wasm');
  if (typeof backend.incRef !== 'function' || !registered) return fn();
  original = registered;
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel({
    kernelName: tf.Identity,
    backendName: 'wasm',
    kernelFunc: sharedIdentity as unknown as tf.KernelFunc,
  });
  depth = 1;
  try {
    return fn();
  } finally {
    depth = 0;
    tf.unregisterKernel(tf.Identity, 'wasm');
    tf.registerKernel(registered);
    original = undefined;
  }
}

/**
 * tfjs kernels `GanpoAttentionForward` / `GanpoAttentionBackward`, registered for the wasm backend
 * only: they run ./attention-simd.ts directly on the backend's memory (no copies in or out).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type AttentionSimdExports, attentionSimdModule } from './attention-simd';
import {
  activeWasmBackend,
  instanceFor,
  type KernelArgs,
  memoryOf,
  pointer,
  registerOnce,
  type WasmBackendLike,
} from './backend';

export const ATTENTION_FORWARD = 'GanpoAttentionForward';
export const ATTENTION_BACKWARD = 'GanpoAttentionBackward';

/** Attributes of both kernels (`causal`: 1 when query i attends to keys 0…i only, else 0). */
export interface AttentionKernelAttrs {
  batch: number;
  seqLen: number;
  numHeads: number;
  causal: number;
  [key: string]: number;
}

function attentionExports(
  backend: WasmBackendLike,
  numHeads: number,
  headDim: number,
  causal: boolean,
): AttentionSimdExports | null {
  const key = `attention ${numHeads}x${headDim}${causal ? ' causal' : ''}`;
  return instanceFor<AttentionSimdExports>(backend, key, (shared) =>
    attentionSimdModule({ numHeads, headDim, causal }, shared),
  );
}

function kernelsOf(
  backend: WasmBackendLike,
  attrs: AttentionKernelAttrs,
  hidden: number,
): AttentionSimdExports {
  const k = attentionExports(backend, attrs.numHeads, hidden / attrs.numHeads, attrs.causal === 1);
  if (!k) throw new Error('GanpoAttention: wasm SIMD kernels unavailable');
  return k;
}

/** Runs `fn` with a scratch buffer of `floats` float32 in the backend's memory, freed afterwards. */
function withScratch<T>(backend: WasmBackendLike, floats: number, fn: (scratch: number) => T): T {
  const scratch = backend.wasm._malloc(4 * floats);
  try {
    return fn(scratch);
  } finally {
    backend.wasm._free(scratch);
  }
}

function forwardKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const attrs = args.attrs as AttentionKernelAttrs;
  const { qkv, keyBias, mask } = args.inputs as Record<string, tf.TensorInfo>;
  const { batch: B, seqLen: T, numHeads: H } = attrs;
  const hidden = ((qkv as tf.TensorInfo).shape[1] as number) / 3;
  const k = kernelsOf(backend, attrs, hidden);
  const out = backend.makeOutput([B * T, hidden], 'float32');
  const stats = backend.makeOutput([B, H, T, 2], 'float32');
  const run = mask ? k.forwardDropout : k.forward;
  withScratch(backend, T, (scratch) =>
    run(
      pointer(backend, qkv as tf.TensorInfo),
      pointer(backend, keyBias as tf.TensorInfo),
      mask ? pointer(backend, mask) : 0,
      pointer(backend, stats),
      pointer(backend, out),
      scratch,
      B,
      T,
      1 / Math.sqrt(hidden / H),
    ),
  );
  return [out, stats];
}

function backwardKernel(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const attrs = args.attrs as AttentionKernelAttrs;
  const { dy, qkv, stats, keyBias, mask } = args.inputs as Record<string, tf.TensorInfo>;
  const { batch: B, seqLen: T, numHeads: H } = attrs;
  const hidden = ((qkv as tf.TensorInfo).shape[1] as number) / 3;
  const k = kernelsOf(backend, attrs, hidden);
  const dqkv = backend.makeOutput([B * T, 3 * hidden], 'float32');
  withScratch(backend, 2 * T, (scratch) => {
    const memory = memoryOf(backend) as WebAssembly.Memory;
    // dk, dv accumulate over queries: start from zero (fresh outputs hold whatever was freed there).
    new Float32Array(memory.buffer, pointer(backend, dqkv), B * T * 3 * hidden).fill(0);
    const run = mask ? k.backwardDropout : k.backward;
    run(
      pointer(backend, qkv as tf.TensorInfo),
      pointer(backend, stats as tf.TensorInfo),
      pointer(backend, keyBias as tf.TensorInfo),
      mask ? pointer(backend, mask) : 0,
      pointer(backend, dy as tf.TensorInfo),
      pointer(backend, dqkv),
      scratch,
      B,
      T,
      1 / Math.sqrt(hidden / H),
    );
  });
  return dqkv;
}

/**
 * True when the fused kernels can run here: the active backend is tfjs-backend-wasm (whose memory
 * the module imports), head size is a multiple of 4 (one f32x4 per 4 columns), and the module
 * (causal or not) compiles. Registers the two kernels on first success.
 */
export function fusedAttentionAvailable(numHeads: number, headDim: number, causal = false): boolean {
  const backend = activeWasmBackend();
  if (!backend || headDim % 4 !== 0 || !attentionExports(backend, numHeads, headDim, causal)) return false;
  registerOnce(ATTENTION_FORWARD, forwardKernel as tf.KernelFunc);
  registerOnce(ATTENTION_BACKWARD, backwardKernel as tf.KernelFunc);
  return true;
}

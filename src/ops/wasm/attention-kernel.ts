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
import { blocks, kernelPoolFor } from './kernel-pool';

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

const moduleKey = (numHeads: number, headDim: number, causal: boolean): string =>
  `attention ${numHeads}x${headDim}${causal ? ' causal' : ''}`;

function attentionExports(
  backend: WasmBackendLike,
  numHeads: number,
  headDim: number,
  causal: boolean,
): AttentionSimdExports | null {
  return instanceFor<AttentionSimdExports>(backend, moduleKey(numHeads, headDim, causal), (shared) =>
    attentionSimdModule({ numHeads, headDim, causal }, shared),
  );
}

/**
 * Runs export `name` over B sequences: on one thread, or, with a kernel pool and enough work, split
 * into blocks of whole sequences (each sequence's rows are independent: dk and dv accumulate over
 * its own queries only), each block with its own scratch of `scratchFloats` floats. `tensors` are
 * the export's leading arguments, each a byte address (0: no tensor) and the floats it holds per
 * sequence; the block's scratch, its sequence count, T and `scale` follow them.
 */
function overSequences(
  backend: WasmBackendLike,
  attrs: AttentionKernelAttrs,
  hidden: number,
  name: 'forward' | 'forwardDropout' | 'backward' | 'backwardDropout',
  scratchFloats: number,
  tensors: [address: number, floatsPerSequence: number][],
  scale: number,
): void {
  const { batch: B, seqLen: T, numHeads: H } = attrs;
  const args = (start: number, count: number, scratch: number): number[] => [
    ...tensors.map(([p, floats]) => (p ? p + 4 * start * floats : 0)),
    scratch,
    count,
    T,
    scale,
  ];
  const k = kernelsOf(backend, attrs, hidden);
  const fn = k[name] as (...a: number[]) => void;
  const pool = kernelPoolFor(memoryOf(backend));
  const parts = pool?.worthSplitting(B * T * T * hidden, B) ? blocks(B, pool.threads) : [[0, B]];
  withScratch(backend, scratchFloats * parts.length, (scratch) => {
    const calls = parts.map(([start, count], p) =>
      args(start as number, count as number, scratch + 4 * scratchFloats * p),
    );
    if (!pool || calls.length < 2) {
      fn(...(calls[0] as number[]));
      return;
    }
    const dh = hidden / H;
    const causal = attrs.causal === 1;
    pool.run(
      moduleKey(H, dh, causal),
      () => attentionSimdModule({ numHeads: H, headDim: dh, causal }, true),
      name,
      fn,
      calls,
    );
  });
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
  const out = backend.makeOutput([B * T, hidden], 'float32');
  const stats = backend.makeOutput([B, H, T, 2], 'float32');
  const [pQkv, pBias, pMask, pStats, pOut] = [
    pointer(backend, qkv as tf.TensorInfo),
    pointer(backend, keyBias as tf.TensorInfo),
    mask ? pointer(backend, mask) : 0,
    pointer(backend, stats),
    pointer(backend, out),
  ];
  const scale = 1 / Math.sqrt(hidden / H);
  // Scratch: the scores row, the head's k and v copies, the partial score sums (./attention-simd.ts).
  const scratchFloats = T + 2 * T * (hidden / H) + 4 * T;
  // Per sequence: qkv [T, 3h], keyBias [T], mask [H, T, T], stats [H, T, 2], out [T, h].
  const tensors: [number, number][] = [
    [pQkv, T * 3 * hidden],
    [pBias, T],
    [pMask, H * T * T],
    [pStats, H * T * 2],
    [pOut, T * hidden],
  ];
  overSequences(backend, attrs, hidden, mask ? 'forwardDropout' : 'forward', scratchFloats, tensors, scale);
  return [out, stats];
}

function backwardKernel(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const attrs = args.attrs as AttentionKernelAttrs;
  const { dy, qkv, stats, keyBias, mask } = args.inputs as Record<string, tf.TensorInfo>;
  const { batch: B, seqLen: T, numHeads: H } = attrs;
  const hidden = ((qkv as tf.TensorInfo).shape[1] as number) / 3;
  const dqkv = backend.makeOutput([B * T, 3 * hidden], 'float32');
  const memory = memoryOf(backend) as WebAssembly.Memory;
  // dk, dv accumulate over queries: start from zero (fresh outputs hold whatever was freed there).
  new Float32Array(memory.buffer, pointer(backend, dqkv), B * T * 3 * hidden).fill(0);
  const [pQkv, pStats, pBias, pMask, pDy, pDqkv] = [
    pointer(backend, qkv as tf.TensorInfo),
    pointer(backend, stats as tf.TensorInfo),
    pointer(backend, keyBias as tf.TensorInfo),
    mask ? pointer(backend, mask) : 0,
    pointer(backend, dy as tf.TensorInfo),
    pointer(backend, dqkv),
  ];
  const scale = 1 / Math.sqrt(hidden / H);
  // Scratch: rows A and dA, the head's k and v copies, its dk and dv accumulators, partial sums.
  const scratchFloats = 2 * T + 4 * T * (hidden / H) + 4 * T;
  // Per sequence: qkv [T, 3h], stats [H, T, 2], keyBias [T], mask [H, T, T], dy [T, h], dqkv [T, 3h].
  const tensors: [number, number][] = [
    [pQkv, T * 3 * hidden],
    [pStats, H * T * 2],
    [pBias, T],
    [pMask, H * T * T],
    [pDy, T * hidden],
    [pDqkv, T * 3 * hidden],
  ];
  overSequences(backend, attrs, hidden, mask ? 'backwardDropout' : 'backward', scratchFloats, tensors, scale);
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

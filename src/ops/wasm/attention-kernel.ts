/**
 * tfjs kernels `GanpoAttentionForward` / `GanpoAttentionBackward`, registered for the wasm backend
 * only: they run ./attention-simd.ts directly on the backend's memory (no copies in or out).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AttentionSimdExports, attentionSimdModule } from './attention-simd';

export const ATTENTION_FORWARD = 'GanpoAttentionForward';
export const ATTENTION_BACKWARD = 'GanpoAttentionBackward';

/** The parts of tfjs-backend-wasm 4.x's BackendWasm these kernels use. */
interface WasmBackendLike {
  wasm: {
    asm?: { memory?: unknown };
    _malloc(bytes: number): number;
    _free(ptr: number): void;
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

/** Attributes of both kernels. */
export interface AttentionKernelAttrs {
  batch: number;
  seqLen: number;
  numHeads: number;
  [key: string]: number;
}

const instances = new Map<string, AttentionSimdExports | null>();
let registered = false;

function memoryOf(backend: WasmBackendLike): WebAssembly.Memory | null {
  const m = backend.wasm?.asm?.memory;
  // The threaded build shares its memory (SharedArrayBuffer): our module imports an unshared one.
  if (!(m instanceof WebAssembly.Memory) || !(m.buffer instanceof ArrayBuffer)) return null;
  return m;
}

function instanceFor(
  backend: WasmBackendLike,
  numHeads: number,
  headDim: number,
): AttentionSimdExports | null {
  const memory = memoryOf(backend);
  if (!memory) return null;
  const key = `${numHeads}x${headDim}`;
  if (instances.has(key)) return instances.get(key) ?? null;
  let exports: AttentionSimdExports | null = null;
  try {
    // Synchronous compilation: fine in Node and workers; a browser main thread may refuse modules
    // over 4 KB, and then the caller keeps the tfjs-op paths.
    const module = new WebAssembly.Module(attentionSimdModule({ numHeads, headDim }) as BufferSource);
    exports = new WebAssembly.Instance(module, { env: { memory } })
      .exports as unknown as AttentionSimdExports;
  } catch {
    exports = null;
  }
  instances.set(key, exports);
  return exports;
}

function pointer(backend: WasmBackendLike, t: tf.TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('GanpoAttention: tensor is not on the wasm backend');
  return d.memoryOffset;
}

function kernelsOf(
  backend: WasmBackendLike,
  attrs: AttentionKernelAttrs,
  hidden: number,
): AttentionSimdExports {
  const k = instanceFor(backend, attrs.numHeads, hidden / attrs.numHeads);
  if (!k) throw new Error('GanpoAttention: wasm SIMD kernels unavailable');
  return k;
}

function forwardKernel(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: unknown;
}): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const attrs = args.attrs as AttentionKernelAttrs;
  const { qkv, keyBias, mask } = args.inputs as Record<string, tf.TensorInfo>;
  const { batch: B, seqLen: T, numHeads: H } = attrs;
  const hidden = ((qkv as tf.TensorInfo).shape[1] as number) / 3;
  const k = kernelsOf(backend, attrs, hidden);
  const out = backend.makeOutput([B * T, hidden], 'float32');
  const weights = backend.makeOutput([B, H, T, T], 'float32');
  const run = mask ? k.forwardDropout : k.forward;
  run(
    pointer(backend, qkv as tf.TensorInfo),
    pointer(backend, keyBias as tf.TensorInfo),
    mask ? pointer(backend, mask) : 0,
    pointer(backend, weights),
    pointer(backend, out),
    B,
    T,
    1 / Math.sqrt(hidden / H),
  );
  return [out, weights];
}

function backwardKernel(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: unknown;
}): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const attrs = args.attrs as AttentionKernelAttrs;
  const { dy, qkv, weights, mask } = args.inputs as Record<string, tf.TensorInfo>;
  const { batch: B, seqLen: T, numHeads: H } = attrs;
  const hidden = ((qkv as tf.TensorInfo).shape[1] as number) / 3;
  const k = kernelsOf(backend, attrs, hidden);
  const dqkv = backend.makeOutput([B * T, 3 * hidden], 'float32');
  const scratch = backend.wasm._malloc(4 * T);
  try {
    const memory = memoryOf(backend) as WebAssembly.Memory;
    // dk, dv accumulate over queries: start from zero (fresh outputs hold whatever was freed there).
    new Float32Array(memory.buffer, pointer(backend, dqkv), B * T * 3 * hidden).fill(0);
    const run = mask ? k.backwardDropout : k.backward;
    run(
      pointer(backend, qkv as tf.TensorInfo),
      pointer(backend, weights as tf.TensorInfo),
      mask ? pointer(backend, mask) : 0,
      pointer(backend, dy as tf.TensorInfo),
      pointer(backend, dqkv),
      scratch,
      B,
      T,
      1 / Math.sqrt(hidden / H),
    );
  } finally {
    backend.wasm._free(scratch);
  }
  return dqkv;
}

/**
 * True when the fused kernels can run here: the active backend is tfjs-backend-wasm (single-threaded
 * build, whose memory this module imports), head size is a multiple of 4 (one f32x4 per 4 columns),
 * and the module compiles. Registers the two kernels on first success.
 */
export function fusedAttentionAvailable(numHeads: number, headDim: number): boolean {
  if (tf.getBackend() !== 'wasm' || headDim % 4 !== 0) return false;
  const backend = tf.backend() as unknown as WasmBackendLike;
  if (!instanceFor(backend, numHeads, headDim)) return false;
  if (!registered) {
    if (!tf.getKernel(ATTENTION_FORWARD, 'wasm')) {
      tf.registerKernel({
        kernelName: ATTENTION_FORWARD,
        backendName: 'wasm',
        kernelFunc: forwardKernel as tf.KernelFunc,
      });
    }
    if (!tf.getKernel(ATTENTION_BACKWARD, 'wasm')) {
      tf.registerKernel({
        kernelName: ATTENTION_BACKWARD,
        backendName: 'wasm',
        kernelFunc: backwardKernel as tf.KernelFunc,
      });
    }
    registered = true;
  }
  return true;
}

/**
 * What ganpo's own wasm kernels need from tfjs-backend-wasm 4.x: its memory (our modules import it,
 * so kernels read and write tensors in place), tensor addresses, outputs, malloc/free.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-wasm 4.x's BackendWasm these kernels use. */
export interface WasmBackendLike {
  wasm: {
    asm?: { memory?: unknown };
    wasmMemory?: unknown;
    _malloc(bytes: number): number;
    _free(ptr: number): void;
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

/** The active backend when it is tfjs-backend-wasm, else null. */
export function activeWasmBackend(): WasmBackendLike | null {
  return tf.getBackend() === 'wasm' ? (tf.backend() as unknown as WasmBackendLike) : null;
}

/**
 * The backend's WebAssembly.Memory (exported by the single-threaded build, imported — and shared —
 * by the threaded one), or null if neither is found.
 */
export function memoryOf(backend: WasmBackendLike): WebAssembly.Memory | null {
  const m = backend.wasm?.wasmMemory ?? backend.wasm?.asm?.memory;
  return m instanceof WebAssembly.Memory ? m : null;
}

/** Byte address of a tensor's data in the backend's memory. */
export function pointer(backend: WasmBackendLike, t: tf.TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('ganpo wasm kernel: tensor is not on the wasm backend');
  return d.memoryOffset;
}

const instances = new WeakMap<WebAssembly.Memory, Map<string, unknown>>();

/**
 * The instance of module `key` (bytes from `bytes()`) bound to the backend's memory, compiled once
 * per memory; null where that is impossible here. Synchronous compilation: fine in Node and
 * workers; a browser main thread may refuse modules over 4 KB, and then callers keep their tfjs-op
 * paths.
 */
export function instanceFor<T>(
  backend: WasmBackendLike,
  key: string,
  bytes: (sharedMemory: boolean) => Uint8Array,
): T | null {
  const memory = memoryOf(backend);
  if (!memory) return null;
  let cache = instances.get(memory);
  if (!cache) {
    cache = new Map();
    instances.set(memory, cache);
  }
  if (!cache.has(key)) {
    let exports: T | null = null;
    try {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const module = new WebAssembly.Module(bytes(shared) as BufferSource);
      exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as T;
    } catch {
      exports = null;
    }
    cache.set(key, exports);
  }
  return (cache.get(key) as T | null) ?? null;
}

/** Registers a wasm-only kernel once. */
export function registerOnce(kernelName: string, kernelFunc: tf.KernelFunc): void {
  if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
}

/**
 * True, with `kernels` registered for wasm, when the active backend is wasm and `exportsOf` gets
 * the SIMD module's exports from it (the module instantiates); false otherwise.
 */
export function registerWhenAvailable(
  exportsOf: (backend: WasmBackendLike) => unknown,
  kernels: Record<string, unknown>,
): boolean {
  const backend = activeWasmBackend();
  if (!backend || !exportsOf(backend)) return false;
  for (const [name, kernelFunc] of Object.entries(kernels)) registerOnce(name, kernelFunc as tf.KernelFunc);
  return true;
}

/** What tfjs passes to a kernel function (`tf.KernelFunc`'s argument, with the backend left opaque). */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: unknown;
}

/**
 * A kernel of one 2-D float32 input `x` (rows × cols) and one float32 output of shape
 * `outShape(rows, cols)`: `run` gets the module's exports, the input and output addresses and the
 * input's sizes.
 */
export function matrixKernel<T>(
  exportsOf: (backend: WasmBackendLike) => T | null,
  outShape: (rows: number, cols: number) => number[],
  run: (exports: T, x: number, y: number, rows: number, cols: number) => void,
): (args: KernelArgs) => tf.TensorInfo {
  return ({ inputs, backend }) => {
    const b = backend as WasmBackendLike;
    const x = inputs.x as tf.TensorInfo;
    const [rows, cols] = x.shape as [number, number];
    const y = b.makeOutput(outShape(rows, cols), 'float32');
    run(exportsOf(b) as T, pointer(b, x), pointer(b, y), rows, cols);
    return y;
  };
}

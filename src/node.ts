// `ganpo/node`: Node-only helpers (filesystem IO). Kept out of the main entry so that it bundles for
// browsers without Node built-ins. Everything in the main entry is re-exported for convenience.

export { readPreferenceJsonl } from './data/jsonl-file';
export * from './index';
export type { PyTorchHandoffOptions, PyTorchParameter } from './interop/handoff';
export { exportToPyTorch, importFromPyTorch } from './interop/handoff-files';
export { fileSystemHandler, registerFileSystemRouter } from './io/fs-handler';
export { readSafetensorsFile, writeSafetensorsFile } from './io/safetensors-file';

// Threaded wasm in Node (opt-in)
export { initWasmThreads, type WasmThreadsOptions } from './ops/wasm-threads';

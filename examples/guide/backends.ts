// docs/backends.md: choosing a backend. ganpo never imports or switches one; your application does.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { setValidationLevel } from 'ganpo';

export async function useWasm(wasmDirectoryUrl?: string): Promise<void> {
  // In Node the .wasm files are found next to the package; browsers and bundlers must say where they are
  // (a directory URL ending in '/', or a map of file name to URL as examples/browser/main.ts does).
  if (wasmDirectoryUrl !== undefined) setWasmPaths(wasmDirectoryUrl);
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  await tf.ready();
  // Value checks (NaN/Inf, label ranges, 0/1 masks) read tensors back: keep shape checks only once the
  // pipeline is trusted. GPU backends benefit most.
  setValidationLevel('shapes');
}

// Node only (exported from `ganpo/node`): imports Node built-ins.
import { resolveObjectURL } from 'node:buffer';
import os from 'node:os';
import workerThreads from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { assertNumber } from '../core/validate';
import { memoryOf, type WasmBackendLike } from './wasm/backend';
import { KernelPool, type PoolWorkerData, setKernelPool } from './wasm/kernel-pool';

/** Options of {@link initWasmThreads}. */
export interface WasmThreadsOptions {
  /**
   * XNNPACK threads (the calling thread included). Default: the machine's logical cores
   * (`os.cpus().length`), at most 8 (tfjs 4.22's prebuilt pool of 8 workers).
   */
  threads?: number;
  /**
   * Also split ganpo's own SIMD products (`fastLinear`, `TransformerBlock`, the discriminators'
   * linear layers) by rows over `threads` threads, with `threads − 1` workers of ganpo's beside
   * XNNPACK's. Same floats as one thread. Default true; false leaves them on one thread and the
   * largest on XNNPACK's pool.
   */
  parallelKernels?: boolean;
}

// Globals the threaded Emscripten factory expects from the CommonJS bundle it was cut out of
// (tf-backend-wasm.node.js names its Node built-ins require$$0..4), defined in each pthread worker.
const WORKER_PRELUDE = `
globalThis.require$$0 = require('fs'); globalThis.require$$1 = require('path');
globalThis.require$$3 = require('perf_hooks'); globalThis.require$$4 = require('os');
globalThis.commonjsGlobal = globalThis; globalThis._scriptDir = ''; globalThis.__dirname = process.cwd();
`;

// tfjs hands each worker the factory as a Blob (mainScriptUrlOrBlob) to be loaded with importScripts,
// which in Node reads a file path. Read the Blob's text instead, evaluate it, and replay the 'load'
// message with importScripts as a no-op; messages that arrive meanwhile are queued.
const WORKER_EPILOGUE = `
;(() => {
  const original = self.onmessage;
  const queue = [];
  let loading = false;
  self.onmessage = (e) => {
    if (loading) { queue.push(e); return; }
    const d = e.data;
    if (d && d.cmd === 'load' && d.urlOrBlob && typeof d.urlOrBlob !== 'string') {
      loading = true;
      d.urlOrBlob.text().then((code) => {
        (0, eval)(code);
        globalThis.importScripts = () => {};
        original({ data: Object.assign({}, d, { urlOrBlob: 'ganpo:preloaded' }) });
        loading = false;
        for (const q of queue.splice(0)) self.onmessage(q);
      });
      return;
    }
    original(e);
  };
})();
`;

// The worker itself: tfjs gives Emscripten a blob: URL for the pthread worker script, which Node's
// Worker cannot open; the Blob is handed over and evaluated inside the worker.
const WORKER_BOOTSTRAP = `
const { workerData } = require('worker_threads');
workerData.ganpoWorkerScript.text().then((text) => {
  (0, eval)(workerData.ganpoPrelude + text + workerData.ganpoEpilogue);
});
`;

interface EngineInternals {
  initializeBackend(name: string): { success: boolean | Promise<boolean>; asyncInit: boolean };
  registry: Record<string, unknown>;
}

/**
 * Initializes tfjs-backend-wasm 4.22's **threaded** SIMD build in Node (worker_threads +
 * SharedArrayBuffer), which tfjs itself disables in Node (tfjs issue #3830). Opt-in: call it once,
 * before anything initializes the wasm backend, then select the backend yourself:
 *
 * ```ts
 * import '@tensorflow/tfjs-backend-wasm';
 * import { initWasmThreads } from 'ganpo/node';
 * const threads = await initWasmThreads({ threads: 2 });
 * await tf.setBackend('wasm');
 * ```
 *
 * It never changes the active backend. What it does, all undone when it returns except the first:
 * sets tfjs's `WASM_HAS_MULTITHREAD_SUPPORT` flag and `setThreadsCount(threads)`; while the module
 * initializes, routes Emscripten's pthread workers (created from `blob:` URLs Node cannot load)
 * through a `worker_threads.Worker` subclass that evaluates the same scripts, and makes `os.cpus()`
 * report 2·threads cores — tfjs caps XNNPACK at `navigator.hardwareConcurrency / 2` (in Node,
 * `os.cpus().length / 2`), i.e. at 1 thread on a 2-core machine. Emscripten keeps the subclass as
 * its global `Worker`; it only intercepts `blob:nodedata:` scripts.
 *
 * Speed: tfjs's threaded build runs its XNNPACK kernels in parallel (2-D matMul without transposes,
 * conv, some element-wise ops); with `parallelKernels` (the default) ganpo's own SIMD kernels — the
 * products of `fastLinear`, the fused attention, GELU and the gradient transposes — split their
 * output into blocks over `threads` threads as well, with the floats of one thread. See
 * docs/benchmarks.md ("Whole training step") for measured steps. Unofficial: it relies on the
 * internals of tfjs-backend-wasm 4.22's Node bundle, so it checks what it needs and throws
 * rather than guess.
 *
 * @returns the thread count XNNPACK actually uses (`getThreadsCount()`).
 * @throws GanpoError INVALID_STATE outside Node, when the wasm backend is already initialized, or
 *   when tfjs-backend-wasm is not the expected build; INVALID_OPTION for a bad `threads`.
 */
export async function initWasmThreads(options: WasmThreadsOptions = {}): Promise<number> {
  const where = 'initWasmThreads';
  if (typeof process === 'undefined' || typeof process.versions?.node !== 'string') {
    throw new GanpoError('INVALID_STATE', `${where}: Node only (browsers: use tfjs's own threaded build)`);
  }
  if (options === null || typeof options !== 'object') {
    throw argumentError('INVALID_ARGUMENT', where, 'options', '{ threads? }', String(options));
  }
  const threads = assertNumber(where, 'threads', options.threads ?? Math.min(os.cpus().length, 8), {
    min: 1,
    max: 8,
    integer: true,
  });
  const parallelKernels = options.parallelKernels ?? true;
  if (typeof parallelKernels !== 'boolean') {
    throw argumentError('INVALID_OPTION', where, 'parallelKernels', 'a boolean', String(parallelKernels));
  }
  const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as {
    setThreadsCount?: (n: number) => void;
    getThreadsCount?: () => number;
  };
  const engine = tf.engine() as unknown as EngineInternals;
  if (typeof engine.initializeBackend !== 'function' || !wasm.setThreadsCount || !wasm.getThreadsCount) {
    throw new GanpoError('INVALID_STATE', `${where}: unsupported tfjs version (needs tfjs 4.x)`);
  }
  if (engine.registry.wasm !== undefined) {
    throw new GanpoError(
      'INVALID_STATE',
      `${where}: the wasm backend is already initialized; call initWasmThreads before tf.setBackend('wasm') / tf.ready()`,
    );
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);

  const BaseWorker = workerThreads.Worker;
  class PthreadWorker extends BaseWorker {
    constructor(script: string | URL, opts?: ConstructorParameters<typeof BaseWorker>[1]) {
      const blob =
        typeof script === 'string' && script.startsWith('blob:') ? resolveObjectURL(script) : undefined;
      if (blob) {
        super(WORKER_BOOTSTRAP, {
          ...opts,
          eval: true,
          workerData: {
            ganpoWorkerScript: blob,
            ganpoPrelude: WORKER_PRELUDE,
            ganpoEpilogue: WORKER_EPILOGUE,
          },
        });
      } else {
        super(script, opts);
      }
    }
  }
  const realCpus = os.cpus;
  workerThreads.Worker = PthreadWorker;
  os.cpus = () => {
    const c = realCpus();
    const one = c[0] as os.CpuInfo;
    return Array.from({ length: 2 * threads }, (_, i) => c[i] ?? one);
  };
  try {
    const init = engine.initializeBackend('wasm');
    const ok = await init.success;
    if (!ok) throw new GanpoError('INVALID_STATE', `${where}: the threaded wasm module failed to initialize`);
  } finally {
    workerThreads.Worker = BaseWorker;
    os.cpus = realCpus;
  }
  // XNNPACK's pool threads are pthreads that never exit, and Emscripten keeps a running pthread's
  // worker ref'd: without this, Node would never exit. They wait on Atomics, not on messages, so
  // unref'd workers keep working.
  const backend = tf.findBackend('wasm') as unknown as WasmBackendLike & { wasm?: { PThread?: PThreadPool } };
  const pthread = backend.wasm?.PThread;
  for (const w of [...(pthread?.runningWorkers ?? []), ...(pthread?.unusedWorkers ?? [])]) w.unref();
  const memory = memoryOf(backend);
  if (parallelKernels && threads > 1 && memory) {
    setKernelPool(
      new KernelPool(memory, threads, (source, data) => spawnPoolWorker(BaseWorker, source, data)),
    );
  }
  return wasm.getThreadsCount();
}

/** A ganpo kernel-pool worker on `worker_threads` (its program calls `ganpoPoolWorker(workerData)`). */
function spawnPoolWorker(Worker: typeof workerThreads.Worker, source: string, data: PoolWorkerData) {
  return new Worker(
    `const { workerData } = require('node:worker_threads');\n${source}\nganpoPoolWorker(workerData);`,
    {
      eval: true,
      workerData: data,
    },
  );
}

interface PThreadPool {
  runningWorkers: { unref(): void }[];
  unusedWorkers: { unref(): void }[];
}

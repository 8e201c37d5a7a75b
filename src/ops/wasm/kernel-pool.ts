/**
 * Row-parallel products on the threaded wasm build: extra threads that run ganpo's SIMD GEMM
 * (./matmul-simd.ts) on the backend's shared memory, each on its own block of C's rows, while the
 * calling thread computes the first block. tfjs-backend-wasm's threaded build runs only XNNPACK's
 * kernels on its thread pool, so without this the products of `fastLinear` and `TransformerBlock`
 * would use one core however many the backend has (docs/benchmarks.md, "Threads").
 *
 * Every element of C is the same sum in the same k order whichever thread computes it, so the
 * results are the floats of the single-threaded kernel, bit for bit.
 *
 * Hand-off through one SharedArrayBuffer of 16 int32 per worker: the caller writes a job's
 * arguments, bumps the job counter and `Atomics.notify`s; the worker, parked in `Atomics.wait`,
 * runs the product and publishes the counter back. The calling thread blocks in `Atomics.wait` for
 * it (allowed in Node's main thread and in workers, not on a browser's main thread).
 */
import { GanpoError } from '../../core/errors';
import { kernelFlags } from '../kernel-flags';
import { type MatMulVariant, matMulSimdModule } from './matmul-simd';

/** What a spawned worker must offer: ganpo only ever terminates it or lets the process exit. */
export interface PoolWorker {
  terminate(): unknown;
  unref?(): void;
}

/**
 * Starts one worker that evaluates `source` (plain JavaScript defining the function
 * `ganpoPoolWorker`) and then calls `ganpoPoolWorker(data)`; `data` (the shared memory, the control
 * buffer, the module bytes) is structured-cloned into the worker.
 */
export type SpawnPoolWorker = (source: string, data: PoolWorkerData) => PoolWorker;

/** A worker's input. */
export interface PoolWorkerData {
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** The module bytes of each variant, in the order of `VARIANTS`. */
  modules: Uint8Array[];
}

const VARIANTS: MatMulVariant[] = ['inPlace', 'transposedA', 'packedB'];

// Control block layout (int32 slots).
const JOB = 0;
const DONE = 1;
const VARIANT = 2;
const STATUS = 3;
const ARGS = 4;
const SLOTS = 16;

/**
 * The worker's program: `ganpoPoolWorker(data)` instantiates the modules on the shared memory, then waits for
 * jobs. A negative variant ends it.
 */
export const POOL_WORKER_SOURCE = `
function ganpoPoolWorker(d) {
  const ctl = new Int32Array(d.control);
  const kernels = d.modules.map((bytes) =>
    new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: d.memory } }).exports);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, ${JOB}, seen);
    seen = Atomics.load(ctl, ${JOB});
    const variant = ctl[${VARIANT}];
    if (variant < 0) return;
    let status = 0;
    try {
      const a = ctl.subarray(${ARGS}, ${ARGS + 9});
      kernels[variant].gemm(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);
    } catch (e) {
      status = 1;
    }
    ctl[${STATUS}] = status;
    Atomics.store(ctl, ${DONE}, seen);
    Atomics.notify(ctl, ${DONE});
  }
}
`;

/** Products below this many multiply-adds stay on one thread: waking a worker costs tens of µs. */
export const MIN_PARALLEL_WORK = 1 << 22;

/** How long the caller waits for a worker before it refuses to go on (a worker that died). */
const WORKER_TIMEOUT_MS = 120_000;

/** The gemm exports of one variant on the calling thread. */
interface Gemm {
  gemm(...args: number[]): void;
}

/** A pool of workers bound to one shared WebAssembly.Memory. */
export class KernelPool {
  readonly threads: number;
  /** Products split so far (what tests and benchmarks read to see that the pool ran). */
  splitProducts = 0;
  private readonly controls: Int32Array[];
  private readonly workers: PoolWorker[];
  private closed = false;

  /**
   * @param memory - the backend's shared memory.
   * @param threads - threads that compute a product, the calling one included (≥ 2).
   * @param spawn - starts one worker (Node: `worker_threads`, see `initWasmThreads`).
   */
  constructor(
    readonly memory: WebAssembly.Memory,
    threads: number,
    spawn: SpawnPoolWorker,
  ) {
    this.threads = threads;
    const modules = VARIANTS.map((v) => matMulSimdModule(v, true));
    this.controls = [];
    this.workers = [];
    try {
      for (let w = 1; w < threads; w++) {
        const control = new SharedArrayBuffer(SLOTS * 4);
        const worker = spawn(POOL_WORKER_SOURCE, { memory, control, modules });
        worker.unref?.();
        this.workers.push(worker);
        this.controls.push(new Int32Array(control));
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /**
   * C = A·B (+ bias) or Aᵀ·B split by rows of C over the pool: `local` computes the first block on the
   * calling thread; workers the others. Arguments as `MatMulSimdExports.gemm` (byte addresses; for
   * 'packedB' the panels already filled). Returns false, doing nothing, when the product is too small
   * to split or the pool is closed.
   */
  gemm(
    variant: MatMulVariant,
    local: Gemm,
    args: { a: number; b: number; panels: number; bias: number; c: number; m: number; k: number; n: number },
  ): boolean {
    const { a, b, panels, bias, c, m, k, n } = args;
    if (this.closed || !kernelFlags.parallelProducts || m * k * n < MIN_PARALLEL_WORK || m < 8) return false;
    const parts = Math.min(this.threads, Math.floor(m / 4));
    // Blocks of whole 4-row tiles, the remainder in the last block.
    const rows = 4 * Math.ceil(m / parts / 4);
    const transposedA = variant === 'transposedA';
    const lda = transposedA ? m : k;
    const block = (start: number, count: number): number[] => [
      transposedA ? a + 4 * start : a + 4 * start * k,
      b,
      panels,
      bias,
      c + 4 * start * n,
      count,
      k,
      n,
      lda,
    ];
    const posted: { ctl: Int32Array; job: number }[] = [];
    for (let p = 1, start = rows; p < parts && start < m; p++, start += rows) {
      const ctl = this.controls[p - 1] as Int32Array;
      ctl.set(block(start, Math.min(rows, m - start)), ARGS);
      ctl[VARIANT] = VARIANTS.indexOf(variant);
      const job = (Atomics.load(ctl, JOB) + 1) | 0;
      Atomics.store(ctl, JOB, job);
      Atomics.notify(ctl, JOB);
      posted.push({ ctl, job });
    }
    local.gemm(...block(0, Math.min(rows, m)));
    let failed = false;
    for (const { ctl, job } of posted) {
      const deadline = Date.now() + WORKER_TIMEOUT_MS;
      for (let done = Atomics.load(ctl, DONE); done !== job; done = Atomics.load(ctl, DONE)) {
        if (Date.now() > deadline) {
          this.close();
          throw new GanpoError('INVALID_STATE', 'ganpo kernel pool: a worker did not finish its product');
        }
        Atomics.wait(ctl, DONE, done, 100);
      }
      if (ctl[STATUS] !== 0) failed = true;
    }
    if (failed) throw new GanpoError('INVALID_STATE', 'ganpo kernel pool: a worker failed in its product');
    this.splitProducts++;
    return true;
  }

  /** Ends the workers; later products run on the calling thread. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ctl of this.controls) {
      ctl[VARIANT] = -1;
      Atomics.store(ctl, JOB, (Atomics.load(ctl, JOB) + 1) | 0);
      Atomics.notify(ctl, JOB);
    }
    for (const w of this.workers) w.terminate();
  }
}

let active: KernelPool | null = null;

/** The pool that runs products on `memory`, if one was started for it. */
export function kernelPoolFor(memory: WebAssembly.Memory | null): KernelPool | null {
  return active && memory && active.memory === memory ? active : null;
}

/** Installs (or, with null, removes and closes) the process's kernel pool. */
export function setKernelPool(pool: KernelPool | null): void {
  if (active && active !== pool) active.close();
  active = pool;
}

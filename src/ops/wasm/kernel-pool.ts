/**
 * Data-parallel kernels on the threaded wasm build: extra threads that run ganpo's SIMD modules on the
 * backend's shared memory, each on its own block of the output (rows of a product, sequences of an
 * attention call), while the calling thread computes the first block. tfjs-backend-wasm's threaded
 * build runs only XNNPACK's kernels on its thread pool, so without this the products and attention of
 * `fastLinear` and `TransformerBlock` would use one core however many the backend has
 * (docs/benchmarks.md, "Whole training step").
 *
 * The blocks are independent outputs computed by the same code as on one thread, so the results are
 * the floats of the single-threaded kernels, bit for bit.
 *
 * Hand-off through one SharedArrayBuffer per worker: the caller writes a job (load a module from the
 * mailbox, or call one of its exports with up to 16 arguments), bumps the job counter and
 * `Atomics.notify`s; the worker, parked in `Atomics.wait`, runs it and publishes the counter back. The
 * calling thread blocks in `Atomics.wait` for it (allowed in Node's main thread and in workers, not
 * on a browser's main thread).
 */
import { GanpoError } from '../../core/errors';
import { kernelFlags } from '../kernel-flags';

/** What a spawned worker must offer: ganpo only ever terminates it or lets the process exit. */
export interface PoolWorker {
  terminate(): unknown;
  unref?(): void;
}

/**
 * Starts one worker that evaluates `source` (plain JavaScript defining the function
 * `ganpoPoolWorker`) and then calls `ganpoPoolWorker(data)`; `data` (the shared memory and the
 * worker's control buffer) is structured-cloned into the worker.
 */
export type SpawnPoolWorker = (source: string, data: PoolWorkerData) => PoolWorker;

/** A worker's input. */
export interface PoolWorkerData {
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
}

// Control buffer layout: int32 slots, then float64 arguments, then the mailbox (module bytes or an
// export's name).
const JOB = 0;
const DONE = 1;
const STATUS = 2;
const OP = 3; // 1 load, 2 call, −1 quit
const MODULE = 4;
const LENGTH = 5; // bytes in the mailbox
const NARGS = 6;
const ARGS_BYTE = 64;
const MAX_ARGS = 16;
const MAILBOX_BYTE = ARGS_BYTE + 8 * MAX_ARGS;
const MAILBOX_BYTES = 1 << 16;
/**
 * How long a thread polls for its next job (a worker) or a worker's result (the caller) before it
 * sleeps in `Atomics.wait`, in ms: longer than the gap between two kernels of a step, short enough
 * that an idle process stops using the cores at once.
 */
const SPIN_MS = 0.5;

/** The worker's program: `ganpoPoolWorker(data)` waits for jobs until told to quit. */
export const POOL_WORKER_SOURCE = `
function ganpoPoolWorker(d) {
  const ctl = new Int32Array(d.control, 0, ${ARGS_BYTE / 4});
  const args = new Float64Array(d.control, ${ARGS_BYTE}, ${MAX_ARGS});
  const mailbox = new Uint8Array(d.control, ${MAILBOX_BYTE}, ${MAILBOX_BYTES});
  const modules = [];
  let seen = 0;
  for (;;) {
    // Spin a little before parking: during a training step the next job comes within microseconds,
    // and waking a parked thread costs far more (more still on a virtual machine).
    for (const end = performance.now() + ${SPIN_MS}; Atomics.load(ctl, ${JOB}) === seen && performance.now() < end; );
    Atomics.wait(ctl, ${JOB}, seen);
    seen = Atomics.load(ctl, ${JOB});
    const op = ctl[${OP}];
    if (op < 0) return;
    let status = 0;
    try {
      const bytes = mailbox.slice(0, ctl[${LENGTH}]);
      if (op === 1) {
        modules[ctl[${MODULE}]] = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
          env: { memory: d.memory },
        }).exports;
      } else {
        const name = String.fromCharCode(...bytes);
        modules[ctl[${MODULE}]][name](...args.subarray(0, ctl[${NARGS}]));
      }
    } catch (e) {
      status = 1;
    }
    ctl[${STATUS}] = status;
    Atomics.store(ctl, ${DONE}, seen);
    Atomics.notify(ctl, ${DONE});
  }
}
`;

/** Work (multiply-adds) below which a kernel stays on one thread: waking a worker costs tens of µs. */
export const MIN_PARALLEL_WORK = 1 << 22;

/** How long the caller waits for a worker before it refuses to go on (a worker that died). */
const WORKER_TIMEOUT_MS = 120_000;

interface Channel {
  worker: PoolWorker;
  ctl: Int32Array;
  args: Float64Array;
  mailbox: Uint8Array;
  /** Module keys this worker has instantiated, by id. */
  loaded: Set<number>;
}

/** A pool of workers bound to one shared WebAssembly.Memory. */
export class KernelPool {
  /** Threads that compute a kernel, the calling one included. */
  readonly threads: number;
  /** Kernels split so far (what tests and benchmarks read to see that the pool ran). */
  splitKernels = 0;
  private readonly channels: Channel[] = [];
  private readonly moduleIds = new Map<string, number>();
  private closed = false;

  /**
   * @param memory - the backend's shared memory.
   * @param threads - threads that compute a kernel, the calling one included (≥ 2).
   * @param spawn - starts one worker (Node: `worker_threads`, see `initWasmThreads`).
   */
  constructor(
    readonly memory: WebAssembly.Memory,
    threads: number,
    spawn: SpawnPoolWorker,
  ) {
    this.threads = threads;
    try {
      for (let w = 1; w < threads; w++) {
        const control = new SharedArrayBuffer(MAILBOX_BYTE + MAILBOX_BYTES);
        const worker = spawn(POOL_WORKER_SOURCE, { memory, control });
        worker.unref?.();
        this.channels.push({
          worker,
          ctl: new Int32Array(control, 0, ARGS_BYTE / 4),
          args: new Float64Array(control, ARGS_BYTE, MAX_ARGS),
          mailbox: new Uint8Array(control, MAILBOX_BYTE, MAILBOX_BYTES),
          loaded: new Set(),
        });
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** True when a kernel of `work` multiply-adds in `blocks` independent blocks is worth splitting. */
  worthSplitting(work: number, blocks: number): boolean {
    return !this.closed && kernelFlags.parallelProducts && blocks >= 2 && work >= MIN_PARALLEL_WORK;
  }

  /**
   * Calls export `name` of module `key` once per argument list of `calls` (at most `threads`):
   * `calls[0]` on the calling thread through `local`, the others on the workers, and returns when all
   * are done. `bytes` builds the module (for the shared memory) the first time a worker needs it.
   */
  run(
    key: string,
    bytes: () => Uint8Array,
    name: string,
    local: (...args: number[]) => void,
    calls: number[][],
  ): void {
    if (calls.length > this.threads) throw new Error('ganpo kernel pool: more blocks than threads');
    const id = this.moduleId(key);
    const posted: Channel[] = [];
    for (let p = 1; p < calls.length; p++) {
      const ch = this.channels[p - 1] as Channel;
      if (!ch.loaded.has(id)) {
        const code = bytes();
        if (code.length > MAILBOX_BYTES) throw new Error(`ganpo kernel pool: module ${key} too large`);
        ch.mailbox.set(code);
        this.post(ch, 1, id, code.length, []);
        this.wait(ch);
        ch.loaded.add(id);
      }
      const label = Array.from(name, (c) => c.charCodeAt(0));
      ch.mailbox.set(label);
      this.post(ch, 2, id, label.length, calls[p] as number[]);
      posted.push(ch);
    }
    let failed = false;
    try {
      local(...(calls[0] as number[]));
    } finally {
      // Even when the calling thread's block threw: no job may still run when the caller goes on.
      for (const ch of posted) failed = !this.wait(ch) || failed;
    }
    if (failed) throw new GanpoError('INVALID_STATE', `ganpo kernel pool: a worker failed in ${key} ${name}`);
    this.splitKernels++;
  }

  /** Ends the workers; later kernels run on the calling thread. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ch of this.channels) {
      ch.ctl[OP] = -1;
      Atomics.store(ch.ctl, JOB, (Atomics.load(ch.ctl, JOB) + 1) | 0);
      Atomics.notify(ch.ctl, JOB);
      ch.worker.terminate();
    }
  }

  private moduleId(key: string): number {
    let id = this.moduleIds.get(key);
    if (id === undefined) {
      id = this.moduleIds.size;
      this.moduleIds.set(key, id);
    }
    return id;
  }

  private post(ch: Channel, op: number, id: number, length: number, args: number[]): void {
    ch.ctl[OP] = op;
    ch.ctl[MODULE] = id;
    ch.ctl[LENGTH] = length;
    ch.ctl[NARGS] = args.length;
    ch.args.set(args);
    Atomics.store(ch.ctl, JOB, (Atomics.load(ch.ctl, JOB) + 1) | 0);
    Atomics.notify(ch.ctl, JOB);
  }

  /** Waits for `ch`'s last job; false when it failed. */
  private wait(ch: Channel): boolean {
    const job = Atomics.load(ch.ctl, JOB);
    for (
      const end = performance.now() + SPIN_MS;
      Atomics.load(ch.ctl, DONE) !== job && performance.now() < end;
    );
    const deadline = Date.now() + WORKER_TIMEOUT_MS;
    for (let done = Atomics.load(ch.ctl, DONE); done !== job; done = Atomics.load(ch.ctl, DONE)) {
      if (Date.now() > deadline) {
        this.close();
        throw new GanpoError('INVALID_STATE', 'ganpo kernel pool: a worker did not finish its job');
      }
      Atomics.wait(ch.ctl, DONE, done, 100);
    }
    return ch.ctl[STATUS] === 0;
  }
}

/**
 * Splits `count` items (rows, sequences) into at most `parts` consecutive blocks whose sizes are
 * multiples of `multiple` (the last takes the rest): [start, size] pairs, none empty.
 */
export function blocks(count: number, parts: number, multiple = 1): [number, number][] {
  const size = multiple * Math.ceil(count / parts / multiple);
  const out: [number, number][] = [];
  for (let start = 0; start < count; start += size) out.push([start, Math.min(size, count - start)]);
  return out;
}

let active: KernelPool | null = null;

/** The pool that runs kernels on `memory`, if one was started for it. */
export function kernelPoolFor(memory: WebAssembly.Memory | null): KernelPool | null {
  return active && memory && active.memory === memory ? active : null;
}

/** Installs (or, with null, removes and closes) the process's kernel pool. */
export function setKernelPool(pool: KernelPool | null): void {
  if (active && active !== pool) active.close();
  active = pool;
}

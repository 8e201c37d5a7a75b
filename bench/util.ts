// Shared benchmark utilities: timing with warm-up, median and spread, backend switching, and
// running a PyTorch baseline through Debian's python3 when it has torch.
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { matMul2d } from '../src/ops/matmul';
import { DEBIAN_PYTHON, hasTorch } from '../tools/python';

/** Summary of repeated timings, in milliseconds. */
export interface Timing {
  median: number;
  /** Median absolute deviation, a robust spread. */
  mad: number;
  min: number;
  max: number;
  runs: number;
}

/** One measured row of the benchmark report. */
export interface BenchRow {
  suite: string;
  name: string;
  backend: string;
  timing?: Timing;
  /** Free-form extra figures (peak bytes, GFLOP/s, ratios). */
  extra?: Record<string, number | string>;
}

/** What every suite receives. */
export interface BenchContext {
  /** Repetitions after warm-up (smaller under --quick). */
  runs: number;
  warmup: number;
  quick: boolean;
  /** Independent repetitions of the suites that support them (`--repeat N`, default 1). */
  repeat: number;
  /** Backends available in this process, e.g. ['wasm', 'cpu']. */
  backends: string[];
  /** Runs a python script (path relative to the repo) with Debian's torch; null when unavailable. */
  python: (script: string, args?: string[]) => unknown | null;
  /** Starts a python step server (see bench/python/discriminator_step.py serve); null without torch. */
  pythonServer: (script: string, args?: string[]) => Promise<StepServer | null>;
}

export function summarize(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const med = (xs: number[]): number => {
    const n = xs.length;
    return n % 2 ? (xs[(n - 1) / 2] as number) : ((xs[n / 2 - 1] as number) + (xs[n / 2] as number)) / 2;
  };
  const m = med(s);
  return {
    median: m,
    mad: med(s.map((x) => Math.abs(x - m)).sort((a, b) => a - b)),
    min: s[0] as number,
    max: s[s.length - 1] as number,
    runs: s.length,
  };
}

/**
 * Times `fn` (which must finish its work, e.g. by reading a result back with dataSync) `runs`
 * times after `warmup` calls.
 */
export async function time(fn: () => void | Promise<void>, runs: number, warmup: number): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

export async function useBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} unavailable`);
  await tf.ready();
}

export { hasTorch };
/** Runs a python benchmark script that prints one JSON object on its last stdout line. */
export function runPython(script: string, args: string[] = []): unknown {
  const out = execFileSync(DEBIAN_PYTHON, [script, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const last = out.trim().split('\n').pop() ?? '{}';
  return JSON.parse(last);
}

export const fmtMs = (t: Timing): string => `${t.median.toFixed(1)} ms ±${t.mad.toFixed(1)} (n=${t.runs})`;

/**
 * Other processes may share the cores: measure variants round-robin (A B C A B C …) so that a burst of
 * load hits all of them alike, and compare medians. Each function must finish its work (read back).
 */
export async function interleaved(fns: (() => void)[], runs: number, warmup: number): Promise<Timing[]> {
  for (let i = 0; i < warmup; i++) for (const f of fns) f();
  const samples = fns.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    fns.forEach((f, i) => {
      const t0 = performance.now();
      f();
      (samples[i] as number[]).push(performance.now() - t0);
    });
  }
  return samples.map(summarize);
}

/** Interleaved timing where some variants are async (e.g. a PyTorch step in a subprocess). A
 * variant may return its own measured milliseconds (used instead of the wall time around it). */
export async function interleavedAsync(
  fns: (() => unknown)[],
  runs: number,
  warmup: number,
): Promise<{ timings: Timing[]; samples: number[][] }> {
  for (let i = 0; i < warmup; i++) for (const f of fns) await f();
  const samples = fns.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < fns.length; i++) {
      const t0 = performance.now();
      const own = await (fns[i] as () => unknown)();
      (samples[i] as number[]).push(typeof own === 'number' ? own : performance.now() - t0);
    }
  }
  return { timings: samples.map(summarize), samples };
}

/** Median and MAD of per-round ratios a[r] / b[r] (rounds measured back to back). */
export function ratioStats(a: number[], b: number[]): { median: number; mad: number } {
  const r = a.map((x, i) => x / (b[i] as number));
  const t = summarize(r);
  return { median: t.median, mad: t.mad };
}

/**
 * A persistent process (a PyTorch script under Debian's python3, or a Node script) that prints one
 * JSON line of information when ready, then answers each stdin line "step" with its own step time in
 * ms, "stats" with one JSON line, and exits on "quit".
 */
export class StepServer {
  readonly info: Record<string, unknown>;

  private constructor(
    private readonly proc: ChildProcessWithoutNullStreams,
    info: Record<string, unknown>,
  ) {
    this.info = info;
  }

  /** A python script (absolute path) under Debian's python3. */
  static python(script: string, args: string[]): Promise<StepServer> {
    return StepServer.start(DEBIAN_PYTHON, ['-u', script, ...args]);
  }

  /** A TypeScript script (absolute path) under this Node with tsx. */
  static node(script: string, args: string[]): Promise<StepServer> {
    return StepServer.start(process.execPath, ['--import', 'tsx', script, ...args]);
  }

  static async start(executable: string, args: string[]): Promise<StepServer> {
    const proc = spawn(executable, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4000);
    });
    const lines: string[] = [];
    const waiters: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
    let exited: Error | null = null;
    let buffer = '';
    proc.stdout.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const w = waiters.shift();
        if (w) w.resolve(line);
        else lines.push(line);
        nl = buffer.indexOf('\n');
      }
    });
    proc.once('exit', (code) => {
      exited = new Error(
        `${args.find((a) => /\.(py|ts)$/.test(a)) ?? executable} exited (${code}): ${stderr}`,
      );
      for (const w of waiters.splice(0)) w.reject(exited);
    });
    const next = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const l = lines.shift();
        if (l !== undefined) resolve(l);
        else if (exited) reject(exited);
        else waiters.push({ resolve, reject });
      });
    const info = JSON.parse(await next()) as Record<string, unknown>;
    const server = new StepServer(proc, info);
    server.next = next;
    return server;
  }

  private next: () => Promise<string> = async () => '';

  /** One step; resolves to the step's own time in ms. */
  async step(): Promise<number> {
    this.proc.stdin.write('step\n');
    return Number(await this.next());
  }

  /** The server's statistics (e.g. peak memory). */
  async stats(): Promise<Record<string, unknown>> {
    this.proc.stdin.write('stats\n');
    return JSON.parse(await this.next()) as Record<string, unknown>;
  }

  /** Asks the process to quit and resolves when it has exited. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      this.proc.once('exit', () => resolve());
      this.proc.stdin.end('quit\n');
    });
  }
}

/** Peak tensor memory of one call (tf.profile): absolute peak and the peak above the starting bytes. */
export async function peakMemory(fn: () => void): Promise<{ peakMB: string; workingSetMB: string }> {
  const start = tf.memory().numBytes;
  const info = await tf.profile(fn);
  const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
  return { peakMB: mb(info.peakBytes), workingSetMB: mb(Math.max(0, info.peakBytes - start)) };
}

/** Best 2-D matMul GFLOP/s of the active backend over a few shapes (a · b, no transposes). */
export async function bestMatMulGflops(
  shapes: [number, number, number][],
  runs: number,
  withGanpo = true,
): Promise<{ gflops: number; shape: string }> {
  let best = { gflops: 0, shape: '' };
  for (const [m, k, n] of shapes) {
    const a = tf.randomNormal([m, k]) as tf.Tensor2D;
    const b = tf.randomNormal([k, n]) as tf.Tensor2D;
    // tfjs's matMul (XNNPACK on wasm) and ganpo's (its own SIMD GEMM on wasm where it applies, else
    // the same tfjs call): the best rate either reaches is the one the step is held to.
    const impls = [
      ['tfjs', tf.matMul],
      ['ganpo', matMul2d],
    ] as const;
    for (const [name, mul] of withGanpo ? impls : impls.slice(0, 1)) {
      const t = await time(
        () => {
          const c = mul(a, b);
          c.dataSync();
          c.dispose();
        },
        runs,
        1,
      );
      // Median, like the step timings it is compared with (both feel the same load).
      const g = (2 * m * k * n) / (t.median * 1e6);
      if (g > best.gflops) best = { gflops: g, shape: `${m}×${k}·${k}×${n}, ${name}` };
    }
    tf.dispose([a, b]);
  }
  return best;
}

/** Time and kernel counts of one step under `tf.profile`, after two warm-up steps. */
export interface StepProfile {
  /** Wall time of one unprofiled step (ms). */
  wallMs: number;
  /** The profiled step's kernels, as tf.profile reports them. */
  kernels: Awaited<ReturnType<typeof tf.profile>>['kernels'];
  /** Time and calls per kernel name. */
  byKernel: Map<string, { ms: number; n: number }>;
  /** Time in kernels (ms). */
  totalMs: number;
}

/** Profiles `step` (for the bench/profile-*.ts scripts). */
export async function profileStep(step: () => void): Promise<StepProfile> {
  step();
  step();
  const t0 = performance.now();
  step();
  const wallMs = performance.now() - t0;
  const info = await tf.profile(() => step());
  const byKernel = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    e.n += 1;
    byKernel.set(k.name, e);
  }
  const totalMs = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  return { wallMs, kernels: info.kernels, byKernel, totalMs };
}

/** Prints the `count` kernels with the most time (or calls), one line each. */
export function printKernels(p: StepProfile, by: 'ms' | 'n', count: number): void {
  for (const [name, e] of [...p.byKernel.entries()].sort((a, b) => b[1][by] - a[1][by]).slice(0, count)) {
    console.log(
      `${name.padEnd(22)} ${e.ms.toFixed(1).padStart(8)} ms  ${String(e.n).padStart(6)} calls  ${((100 * e.ms) / p.totalMs).toFixed(1)}%`,
    );
  }
}

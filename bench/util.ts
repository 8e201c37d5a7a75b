// Shared benchmark utilities: timing with warm-up, median and spread, backend switching, and
// running a PyTorch baseline through Debian's python3 when it has torch.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';

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
  /** Backends available in this process, e.g. ['wasm', 'cpu']. */
  backends: string[];
  /** Runs a python script (path relative to the repo) with Debian's torch; null when unavailable. */
  python: (script: string, args?: string[]) => unknown | null;
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

const DEBIAN_PYTHON = '/usr/bin/python3';

/** Whether Debian's python3 with torch is present (the PyTorch baseline). */
export function hasTorch(): boolean {
  if (!existsSync(DEBIAN_PYTHON)) return false;
  try {
    execFileSync(DEBIAN_PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

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

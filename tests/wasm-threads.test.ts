import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initWasmThreads } from 'ganpo/node';
import { describe, expect, it } from 'vitest';

import { expectClose } from './support/helpers';

const here = dirname(fileURLToPath(import.meta.url));
const onWasm = process.env.GANPO_BACKEND === 'wasm';

describe('initWasmThreads', () => {
  it('refuses a bad thread count before touching anything', async () => {
    for (const threads of [0, 9, 1.5, Number.NaN]) {
      await expect(initWasmThreads({ threads })).rejects.toMatchObject({ name: 'GanpoError' });
    }
    await expect(initWasmThreads({ threads: 0 })).rejects.toThrow(/threads/);
    await expect(
      initWasmThreads({ threads: 2, parallelKernels: 'yes' as unknown as boolean }),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/parallelKernels.*boolean.*yes/),
    });
  });

  it.runIf(onWasm)('refuses once the wasm backend is initialized', async () => {
    await expect(initWasmThreads({ threads: 2 })).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it.runIf(onWasm)('runs the threaded build in Node with 2 threads, same values as 1 thread', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(here, 'support', 'wasm-threads-child.ts')],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    const got = JSON.parse(out.trim().split('\n').pop() as string) as {
      threads: number;
      backend: string;
      values: number[];
      fusedAvailable: boolean;
      fusedMaxDiff: number;
      poolThreads: number;
      products: { name: string; bitIdentical: boolean; maxDiffVsMatMul: number }[];
      attentionSplit: { causal: boolean; bitIdentical: boolean; nonZero: boolean }[];
      geluSplit: boolean;
      transposeSplit: boolean;
    };
    expect(got.transposeSplit, 'transpose split over the pool: exactly tf.transpose').toBe(true);
    expect(got.geluSplit, 'GELU split over the pool: the floats of one thread').toBe(true);
    // The fused attention split by sequences: the floats of one thread, forward and backward.
    expect(got.attentionSplit).toEqual([
      { causal: false, bitIdentical: true, nonZero: true },
      { causal: true, bitIdentical: true, nonZero: true },
    ]);
    // ganpo's products split over its 2-thread kernel pool: the floats of one thread, bit for bit.
    expect(got.poolThreads).toBe(2);
    expect(got.products.map((p) => p.name)).toEqual(['inPlace+bias', 'packedB', 'transposedA']);
    for (const p of got.products) {
      expect(p.bitIdentical, p.name).toBe(true);
      expect(p.maxDiffVsMatMul, p.name).toBeLessThan(1e-4);
    }
    expect(got.threads).toBe(2);
    expect(got.fusedAvailable).toBe(true);
    expect(got.fusedMaxDiff).toBeLessThan(1e-5);
    expect(got.backend).toBe('wasm');
    const n = 96;
    const expected = tf.tidy(() => {
      const a = tf.tensor2d(
        Array.from({ length: n * n }, (_, i) => Math.sin(i)),
        [n, n],
      );
      const b = tf.tensor2d(
        Array.from({ length: n * n }, (_, i) => Math.cos(0.5 * i)),
        [n, n],
      );
      return Array.from(tf.softmax(tf.matMul(a, b)).dataSync());
    });
    expectClose(got.values, expected, {
      rtol: 1e-4,
      atol: 1e-6,
      label: 'softmax(matMul) threaded vs single',
    });
  });
});

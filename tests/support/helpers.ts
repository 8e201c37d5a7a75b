import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { GanpoError, type GanpoErrorCode } from 'ganpo';
import { expect } from 'vitest';

const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** The backend this test project runs on ('cpu', 'wasm' or 'tensorflow'). */
export const backendName = (): string => tf.getBackend();

/** Reads `tests/fixtures/<name>` as JSON (fixtures are written by tools/reference/*.py). */
export function loadFixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(join(fixturesDir, name), 'utf8')) as T;
}

/** Reads `tests/fixtures/<name>` as raw bytes. */
export function loadFixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(fixturesDir, name)));
}

/**
 * Runs `fn` and asserts `tf.memory().numTensors` is back at its baseline afterwards. `fn` must
 * dispose whatever it creates (including returned tensors). Runs `warmup` times first so that
 * lazily created state (optimizer slots, spectral-norm vectors) is not counted as a leak.
 */
export async function expectNoLeak(fn: () => void | Promise<void>, warmup = 1): Promise<void> {
  for (let i = 0; i < warmup; i++) await fn();
  const before = tf.memory().numTensors;
  await fn();
  const after = tf.memory().numTensors;
  expect(after, `tensor leak: ${after - before} tensor(s) left behind`).toBe(before);
}

/** Flattens a tensor, typed array, nested array or number to a plain number[]. */
export function toArray(x: tf.Tensor | ArrayLike<number> | number | number[][] | number[][][]): number[] {
  if (typeof x === 'number') return [x];
  if (x instanceof tf.Tensor) return Array.from(x.dataSync());
  const out: number[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'number') out.push(v);
    else if (v !== null && typeof v === 'object' && 'length' in (v as object)) {
      for (const e of Array.from(v as ArrayLike<unknown>)) walk(e);
    }
  };
  walk(x);
  return out;
}

/**
 * Asserts elementwise |actual − expected| ≤ atol + rtol·|expected| (numpy's allclose rule), with a
 * message that shows the first offending index.
 */
export function expectClose(
  actual: tf.Tensor | ArrayLike<number> | number,
  expected: ArrayLike<number> | number | number[][] | number[][][],
  { rtol = 1e-4, atol = 1e-6, label = '' }: { rtol?: number; atol?: number; label?: string } = {},
): void {
  const a = toArray(actual as tf.Tensor);
  const e = toArray(expected as number[]);
  expect(a.length, `${label} length`).toBe(e.length);
  for (let i = 0; i < e.length; i++) {
    const ai = a[i] as number;
    const ei = e[i] as number;
    const tol = atol + rtol * Math.abs(ei);
    if (!(Math.abs(ai - ei) <= tol)) {
      expect.fail(`${label}[${i}]: got ${ai}, expected ${ei} (tol ${tol.toExponential(2)})`);
    }
  }
}

/**
 * Asserts `fn` throws a GanpoError with `code` whose message mentions `argument`, and that the
 * refused call left no tensor behind.
 */
export function expectGanpoError(fn: () => unknown, code: GanpoErrorCode, argument?: string): GanpoError {
  let caught: unknown;
  const before = tf.memory().numTensors;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(tf.memory().numTensors, 'a refused call leaked tensors').toBe(before);
  expect(caught, 'expected a GanpoError to be thrown').toBeInstanceOf(GanpoError);
  const err = caught as GanpoError;
  expect(err.code).toBe(code);
  if (argument !== undefined) {
    expect(err.message).toContain(`'${argument}'`);
    expect(err.argument).toBe(argument);
  }
  return err;
}

/** Saves anything with a tfjs-style `save(handler)` into memory and returns its artifacts. */
export async function saveToMemory(model: {
  save(handler: tf.io.IOHandler): Promise<unknown>;
}): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved as tf.io.ModelArtifacts;
}

/**
 * The transformer-discriminator config as ganpo takes it. The PyTorch fixture scripts write the
 * latent width as `inputDim` (the modules' `input_dim`); {@link withLatentDim} renames it.
 */
export interface DiscriminatorFixtureConfig {
  latentDim: number;
  hiddenDim: number;
  numLayers: number;
  numHeads: number;
  ffnDim: number;
  maxSeqLen: number;
}

/**
 * A discriminator fixture with its config in ganpo's names: the fixture scripts write the latent
 * width as `inputDim` (the PyTorch modules' `input_dim`), ganpo calls it `latentDim`.
 */
export function withLatentDim<T extends { config: object }>(fixture: T): T {
  const { inputDim, ...rest } = fixture.config as { inputDim?: number };
  return { ...fixture, config: { latentDim: inputDim, ...rest } };
}

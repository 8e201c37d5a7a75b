import * as tf from '@tensorflow/tfjs-core';
import { GanpoError, type GanpoErrorCode } from 'ganpo';
import { afterAll, expect } from 'vitest';

/**
 * Counts of hostile-input cases in one test file: how many were tried, refused cleanly (the right
 * `GanpoError`, nothing leaked, state unchanged, within the bounds), leaked tensors, or left a
 * partial state. Printed once per file so that the totals can be reported.
 */
export interface Tally {
  tried: number;
  clean: number;
  leaks: number;
  partial: number;
}

/** A tally printed after the file's tests as `[hostile] <label>: tried … clean … leaks … partial …`. */
export function hostileTally(label: string): Tally {
  const tally: Tally = { tried: 0, clean: 0, leaks: 0, partial: 0 };
  afterAll(() => {
    console.log(
      `[hostile] ${label} (${tf.getBackend()}): tried ${tally.tried}, refused cleanly ${tally.clean}, leaks ${tally.leaks}, partial states ${tally.partial}`,
    );
  });
  return tally;
}

/** Options of {@link expectRefusal}. */
export interface RefusalBounds {
  /** Argument the error must name (`err.argument`). */
  argument?: string;
  /** A snapshot of the state the refusal must not change (compared with `toEqual`). */
  snapshot?: () => unknown;
  /**
   * Largest tfjs allocation allowed during the refused call, in bytes (peak of `numBytes`). Default
   * 1 MiB: the refusal happens before any large allocation. Pass `null` to skip.
   */
  maxPeakBytes?: number | null;
  /**
   * Generous wall-clock bound in ms (default 10 000): hostile inputs used to cost tens of seconds,
   * a refusal before parsing or allocating costs milliseconds, so this cannot flake.
   */
  maxMs?: number;
}

/**
 * Runs a call that must be refused and records the outcome in `tally`: a `GanpoError` with `code`
 * (and `argument`), `tf.memory().numTensors` and `numBytes` unchanged, the snapshot unchanged, tfjs's
 * peak allocation and the elapsed time within bounds.
 */
export async function expectRefusal(
  tally: Tally,
  fn: () => unknown,
  code: GanpoErrorCode,
  bounds: RefusalBounds = {},
): Promise<GanpoError> {
  tally.tried++;
  const before = bounds.snapshot?.();
  const tensors = tf.memory().numTensors;
  const bytes = tf.memory().numBytes;
  let caught: unknown;
  const t0 = performance.now();
  const peak = await peakBytesDuring(async () => {
    try {
      await fn();
    } catch (e) {
      caught = e;
    }
  });
  const ms = performance.now() - t0;
  const leaked = tf.memory().numTensors - tensors;
  const after = bounds.snapshot?.();
  const changed = bounds.snapshot !== undefined && JSON.stringify(after) !== JSON.stringify(before);
  if (leaked !== 0 || tf.memory().numBytes !== bytes) tally.leaks++;
  if (changed) tally.partial++;
  const ok =
    caught instanceof GanpoError &&
    caught.code === code &&
    (bounds.argument === undefined || caught.argument === bounds.argument) &&
    leaked === 0 &&
    !changed &&
    ms <= (bounds.maxMs ?? 10_000) &&
    (bounds.maxPeakBytes === null || peak - bytes <= (bounds.maxPeakBytes ?? 2 ** 20));
  if (ok) tally.clean++;
  expect(caught, `expected a GanpoError, got ${String(caught)}`).toBeInstanceOf(GanpoError);
  const err = caught as GanpoError;
  expect(err.code, err.message).toBe(code);
  if (bounds.argument !== undefined) expect(err.argument, err.message).toBe(bounds.argument);
  expect(leaked, `${leaked} tensor(s) leaked by a refusal: ${err.message}`).toBe(0);
  expect(tf.memory().numBytes).toBe(bytes);
  if (bounds.snapshot) expect(after, 'a refusal changed the state').toEqual(before);
  expect(ms, `refusal took ${ms.toFixed(0)} ms`).toBeLessThanOrEqual(bounds.maxMs ?? 10_000);
  if (bounds.maxPeakBytes !== null) {
    expect(peak - bytes, 'tfjs allocated before refusing').toBeLessThanOrEqual(
      bounds.maxPeakBytes ?? 2 ** 20,
    );
  }
  return err;
}

/**
 * The highest `tf.memory().numBytes` reached while `fn` runs, observed at every tensor the engine
 * registers (tfjs's own `tf.profile` only samples at kernels, and creating a tensor from values or
 * a variable runs none).
 */
export async function peakBytesDuring(fn: () => Promise<void>): Promise<number> {
  const engine = tf.engine() as unknown as {
    trackTensor: (...a: unknown[]) => void;
    state: { numBytes: number };
  };
  const original = engine.trackTensor;
  let peak = engine.state.numBytes;
  engine.trackTensor = function (this: unknown, ...a: unknown[]) {
    original.apply(this, a);
    peak = Math.max(peak, engine.state.numBytes);
  };
  try {
    await fn();
  } finally {
    engine.trackTensor = original;
  }
  return peak;
}

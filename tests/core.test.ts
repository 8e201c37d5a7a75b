import * as tf from '@tensorflow/tfjs-core';
import { GanpoError, getValidationLevel, setValidationLevel, withValidationLevel } from 'ganpo';
import { afterEach, describe, expect, it } from 'vitest';

import {
  assertBinary,
  assertDtype,
  assertFinite,
  assertNumber,
  assertOneOf,
  assertRank,
  assertSameLength,
  assertSameShape,
  assertShape,
  assertTensor,
  assertValueRange,
} from '../src/core/validate';
import { expectGanpoError } from './support/helpers';

const W = 'fn';

describe('GanpoError', () => {
  it('carries a stable code and names argument, expected and received', () => {
    const x = tf.zeros([2, 3]);
    const err = expectGanpoError(() => assertRank(W, 'logits', x, 3), 'SHAPE_MISMATCH', 'logits');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('GanpoError');
    expect(err.message).toBe("fn: 'logits' expected rank 3, received rank 2 [2,3]");
    expect(err.expected).toBe('rank 3');
    expect(err.received).toBe('rank 2 [2,3]');
    x.dispose();
  });
});

describe('validation helpers reject each bad-input class', () => {
  afterEach(() => setValidationLevel('full'));

  it('non-tensor and disposed tensors', () => {
    expectGanpoError(() => assertTensor(W, 'x', [1, 2]), 'INVALID_ARGUMENT', 'x');
    expectGanpoError(() => assertTensor(W, 'x', undefined), 'INVALID_ARGUMENT', 'x');
    const t = tf.scalar(1);
    t.dispose();
    expectGanpoError(() => assertTensor(W, 'x', t), 'DISPOSED', 'x');
  });

  it('rank, shape and same-shape', () => {
    const a = tf.zeros([2, 3, 4]);
    const b = tf.zeros([2, 3]);
    expect(() => assertRank(W, 'a', a, [2, 3])).not.toThrow();
    expectGanpoError(() => assertShape(W, 'a', a, [2, null, 5], '[B,T,V]'), 'SHAPE_MISMATCH', 'a');
    expect(() => assertShape(W, 'a', a, [2, null, 4])).not.toThrow();
    const e = expectGanpoError(() => assertSameShape(W, 'a', a, 'b', b), 'SHAPE_MISMATCH', 'b');
    expect(e.message).toContain('[2,3,4]');
    const c = tf.zeros([3]);
    const d = tf.zeros([4]);
    expectGanpoError(
      () =>
        assertSameLength(W, [
          ['c', c],
          ['d', d],
        ]),
      'SHAPE_MISMATCH',
      'd',
    );
    tf.dispose([a, b, c, d]);
  });

  it('dtype', () => {
    const f = tf.zeros([2]);
    expectGanpoError(() => assertDtype(W, 'labels', f, ['int32']), 'INVALID_DTYPE', 'labels');
    f.dispose();
  });

  it('finite values', () => {
    const x = tf.tensor1d([1, Number.NaN, Number.POSITIVE_INFINITY]);
    const err = expectGanpoError(() => assertFinite(W, 'x', x), 'NON_FINITE', 'x');
    expect(err.received).toBe('2 NaN/Infinity value(s)');
    const ok = tf.tensor1d([1, -1e30]);
    expect(() => assertFinite(W, 'x', ok)).not.toThrow();
    x.dispose();
    ok.dispose();
  });

  it('index ranges and 0/1 masks', () => {
    const ids = tf.tensor1d([0, 4, 5], 'int32');
    expectGanpoError(() => assertValueRange(W, 'labels', ids, 0, 5), 'OUT_OF_RANGE', 'labels');
    expect(() => assertValueRange(W, 'labels', ids, 0, 6)).not.toThrow();
    const neg = tf.tensor1d([-1, 0], 'int32');
    expectGanpoError(() => assertValueRange(W, 'labels', neg, 0, 6), 'OUT_OF_RANGE', 'labels');
    const mask = tf.tensor1d([0, 1, 0.5]);
    expectGanpoError(() => assertBinary(W, 'mask', mask), 'OUT_OF_RANGE', 'mask');
    ids.dispose();
    neg.dispose();
    mask.dispose();
  });

  it('number options and enums', () => {
    expectGanpoError(() => assertNumber(W, 'beta', 0, { greaterThan: 0 }), 'OUT_OF_RANGE', 'beta');
    expectGanpoError(() => assertNumber(W, 'beta', Number.NaN), 'NON_FINITE', 'beta');
    expectGanpoError(() => assertNumber(W, 'beta', '0.1'), 'INVALID_OPTION', 'beta');
    expectGanpoError(() => assertNumber(W, 'steps', 1.5, { integer: true }), 'OUT_OF_RANGE', 'steps');
    expect(assertNumber(W, 'eps', 0.5, { min: 0, lessThan: 1 })).toBe(0.5);
    const e = expectGanpoError(
      () => assertOneOf(W, 'lossType', 'sigmoidd', ['sigmoid', 'hinge']),
      'INVALID_OPTION',
    );
    expect(e.message).toContain("'sigmoid' | 'hinge'");
  });
});

describe('validation levels', () => {
  afterEach(() => setValidationLevel('full'));

  it("'shapes' skips value checks (no read-back) but keeps shape checks", () => {
    const x = tf.tensor1d([Number.NaN]);
    setValidationLevel('shapes');
    expect(() => assertFinite(W, 'x', x)).not.toThrow();
    expectGanpoError(() => assertRank(W, 'x', x, 2), 'SHAPE_MISMATCH', 'x');
    x.dispose();
  });

  it("'off' skips shape checks too, but never option checks", () => {
    const x = tf.zeros([2]);
    withValidationLevel('off', () => {
      expect(() => assertRank(W, 'x', x, 3)).not.toThrow();
      expectGanpoError(() => assertNumber(W, 'beta', -1, { greaterThan: 0 }), 'OUT_OF_RANGE', 'beta');
    });
    expect(getValidationLevel()).toBe('full');
    x.dispose();
  });

  it('rejects an unknown level', () => {
    expect(() => setValidationLevel('most' as never)).toThrow(GanpoError);
  });
});

describe('versions', () => {
  it('reports the package.json version and the tfjs versions in use', async () => {
    const { readFileSync } = await import('node:fs');
    const { versions } = await import('ganpo');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(versions.ganpo).toBe(pkg.version);
    expect(versions.tfjsCore).toBe(tf.version_core);
    expect(versions.tfjsLayers).toMatch(/^4\./);
  });
});

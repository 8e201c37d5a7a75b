import * as tf from '@tensorflow/tfjs-core';
import { embeddingLookup, withSharedClones } from 'ganpo/ops';
import { describe, expect, it } from 'vitest';

import { kernelFlags } from '../../src/ops/kernel-flags';
import { GATHER_ROWS } from '../../src/ops/wasm/gather-rows-kernel';
import { gatherRowsSimdModule } from '../../src/ops/wasm/gather-rows-simd';
import { expectGanpoError, expectNoLeak } from '../support/helpers';

// embeddingLookup against tf.gather on the same backend (cpu or wasm project): the same floats bit
// for bit, forward and gradient, since both are plain row copies and the same segment sum.

/** The float32 bit patterns of a tensor's values (so -0 ≠ 0 and every NaN payload counts). */
const bits = (t: tf.Tensor): number[] => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));

/** Ids in [0, vocab) of the given shape, with repeats (a JS LCG: no tfjs, same on every backend). */
function randomIds(shape: number[], vocab: number, seed: number): tf.Tensor {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Int32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % vocab;
  });
  return tf.tensor(values, shape, 'int32');
}

const onWasm = tf.getBackend() === 'wasm';

describe('embeddingLookup', () => {
  // D = 256 and 8: whole 4-float groups; 7 and 1: the scalar tail (alone for D < 4). The cpu
  // backend's segment sum loops over every table row for every id: a smaller first case there.
  it.each([
    onWasm ? [256, 256, [1024]] : [32, 64, [200]],
    [37, 8, [5, 9]],
    [37, 7, [3, 11]],
    [5, 1, [2, 3, 4]],
  ])('equals tf.gather bit for bit, values and table gradient (V %i, D %i, ids %j)', (vocab, dim, shape) => {
    const table = tf.randomNormal([vocab, dim], 0, 1, 'float32', 7) as tf.Tensor2D;
    const ids = randomIds(shape, vocab, vocab + dim);
    // repeated ids make the gradient a sum of several rows per table row
    expect(new Set(ids.dataSync()).size).toBeLessThan(ids.size);
    const dy = tf.randomNormal([...shape, dim], 0, 1, 'float32', 11);
    const got = embeddingLookup(table, ids);
    const want = tf.gather(table, ids);
    expect(got.shape).toEqual([...shape, dim]);
    expect(bits(got)).toEqual(bits(want));
    const grad = (lookup: (t: tf.Tensor2D) => tf.Tensor) =>
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(lookup(t as tf.Tensor2D), dy)))(table);
    const gGot = grad((t) => embeddingLookup(t, ids));
    const gWant = grad((t) => tf.gather(t, ids));
    expect(bits(gGot)).toEqual(bits(gWant));
    tf.dispose([table, ids, dy, got, want, gGot, gWant]);
  });

  it('copies NaN, ±Infinity and -0 rows exactly', () => {
    const table = tf.tensor2d(
      [Number.NaN, Number.POSITIVE_INFINITY, -0, 1, Number.NEGATIVE_INFINITY, 2],
      [2, 3],
    );
    const ids = tf.tensor1d([1, 0, 0], 'int32');
    const got = embeddingLookup(table, ids);
    const want = tf.gather(table, ids);
    expect(bits(got)).toEqual(bits(want));
    tf.dispose([table, ids, got, want]);
  });

  it("runs ganpo's kernel on wasm (tfjs's GatherV2 elsewhere)", async () => {
    const table = tf.randomNormal([16, 12]) as tf.Tensor2D;
    const ids = randomIds([4, 5], 16, 3);
    const info = await tf.profile(() => {
      embeddingLookup(table, ids).dispose();
    });
    const names = info.kernels.map((k) => k.name);
    expect(names.includes(GATHER_ROWS)).toBe(onWasm);
    expect(names.includes('GatherV2')).toBe(!onWasm);
    tf.dispose([table, ids]);
  });

  it("gives tf.gather's values with the wasm kernel switched off", () => {
    const table = tf.randomNormal([9, 6]) as tf.Tensor2D;
    const ids = randomIds([7], 9, 5);
    const fast = embeddingLookup(table, ids);
    kernelFlags.wasmGatherRows = false;
    try {
      const plain = embeddingLookup(table, ids);
      expect(bits(plain)).toEqual(bits(fast));
      plain.dispose();
    } finally {
      kernelFlags.wasmGatherRows = true;
    }
    tf.dispose([table, ids, fast]);
  });

  it('works inside withSharedClones (the saved ids share their buffer)', () => {
    const table = tf.randomNormal([9, 8]) as tf.Tensor2D;
    const ids = randomIds([2, 6], 9, 8);
    const g = withSharedClones(() =>
      tf.grad((t: tf.Tensor) => tf.sum(embeddingLookup(t as tf.Tensor2D, ids)))(table),
    );
    const want = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids)))(table);
    expect(bits(g)).toEqual(bits(want));
    tf.dispose([table, ids, g, want]);
  });

  it('leaves no tensor behind, forward and backward', async () => {
    const table = tf.randomNormal([11, 6]) as tf.Tensor2D;
    const ids = randomIds([3, 4], 11, 2);
    await expectNoLeak(() => {
      embeddingLookup(table, ids).dispose();
      tf.grad((t: tf.Tensor) => tf.sum(embeddingLookup(t as tf.Tensor2D, ids)))(table).dispose();
    });
    tf.dispose([table, ids]);
  });

  it('refuses bad input with a GanpoError and no tensor left behind', () => {
    const table = tf.randomNormal([5, 4]) as tf.Tensor2D;
    const ids = tf.tensor1d([0, 4, 2], 'int32');
    const floatIds = tf.tensor1d([0, 1, 2]);
    const high = tf.tensor2d([[0, 5]], [1, 2], 'int32');
    const negative = tf.tensor1d([3, -1], 'int32');
    const flat = tf.zeros([5]);
    const cube = tf.zeros([5, 4, 1]);
    const intTable = tf.zeros([5, 4], 'int32');
    expectGanpoError(() => embeddingLookup(table, floatIds), 'INVALID_DTYPE', 'ids');
    const err = expectGanpoError(() => embeddingLookup(table, high), 'OUT_OF_RANGE', 'ids');
    expect(err.expected).toBe('values in [0, 5)');
    expect(err.received).toBe('values in [0, 5]');
    expectGanpoError(() => embeddingLookup(table, negative), 'OUT_OF_RANGE', 'ids');
    expectGanpoError(() => embeddingLookup(flat, ids), 'SHAPE_MISMATCH', 'table');
    expectGanpoError(() => embeddingLookup(cube, ids), 'SHAPE_MISMATCH', 'table');
    expectGanpoError(() => embeddingLookup(intTable, ids), 'INVALID_DTYPE', 'table');
    expectGanpoError(() => embeddingLookup(table, null as unknown as tf.Tensor), 'INVALID_ARGUMENT', 'ids');
    tf.dispose([table, ids, floatIds, high, negative, flat, cube, intTable]);
  });

  it('refuses out-of-range ids inside a gradient tape too (host-memory backends)', () => {
    const table = tf.variable(tf.randomNormal([5, 4]));
    const high = tf.tensor1d([1, 7], 'int32');
    expectGanpoError(
      () => tf.variableGrads(() => tf.sum(embeddingLookup(table, high)) as tf.Scalar, [table]),
      'OUT_OF_RANGE',
      'ids',
    );
    tf.dispose([table, high]);
  });
});

describe.skipIf(!onWasm)('wasm GanpoGatherRows kernel', () => {
  it('compiles and never reads outside the table (ids clamped to [0, V − 1] in the kernel)', () => {
    expect(WebAssembly.validate(gatherRowsSimdModule() as BufferSource)).toBe(true);
    const table = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const ids = tf.tensor1d([-5, 1, 9], 'int32');
    // the kernel itself, without embeddingLookup's check in front of it
    const out = tf.engine().runKernel(GATHER_ROWS, { table, ids }) as tf.Tensor;
    expect(Array.from(out.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    tf.dispose([table, ids, out]);
  });
});

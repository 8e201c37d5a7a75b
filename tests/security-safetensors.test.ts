import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, writeSafetensors } from 'ganpo';
import { describe, expect, it } from 'vitest';
import {
  SAFETENSORS_MAX_DEPTH,
  SAFETENSORS_MAX_HEADER_BYTES,
  SAFETENSORS_MAX_RANK,
} from '../src/io/safetensors';
import { expectRefusal, hostileTally } from './support/hostile';

const tally = hostileTally('safetensors');

/** A safetensors buffer from a header (object or raw text) and raw data. */
function craft(header: unknown, data: Uint8Array = new Uint8Array(0), declaredLength?: bigint): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(h.byteLength), true);
  out.set(h, 8);
  out.set(data, 8 + h.byteLength);
  return out;
}

function f32(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function f64(values: number[]): Uint8Array {
  return new Uint8Array(new Float64Array(values).buffer);
}

const entry = (dtype: string, shape: number[], begin: number, end: number) => ({
  dtype,
  shape,
  data_offsets: [begin, end],
});

const refuse = (
  bytes: Uint8Array,
  code: 'INVALID_FORMAT' | 'OUT_OF_RANGE' = 'INVALID_FORMAT',
  argument?: string,
) => expectRefusal(tally, () => readSafetensors(bytes), code, { argument });

describe('readSafetensors: any Uint8Array view, Node Buffers included', () => {
  const bytes = () => {
    const t = {
      w: tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      n: tf.tensor1d([7, -8], 'int32'),
    };
    const b = writeSafetensors(t);
    tf.dispose(Object.values(t));
    return b;
  };
  const check = (state: Record<string, tf.Tensor>) => {
    expect(Object.getPrototypeOf(state)).toBeNull();
    expect(Array.from((state.w as tf.Tensor).dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from((state.n as tf.Tensor).dataSync())).toEqual([7, -8]);
    tf.dispose(Object.values(state));
  };

  it('reads a pooled Buffer, a Buffer at an offset, an odd-offset view, a file read with readFileSync', () => {
    const b = bytes();
    const before = tf.memory().numTensors;
    // Buffer.from of a small array is carved out of Node's shared pool: .buffer is the whole pool.
    check(readSafetensors(Buffer.from(b)));
    const padded = Buffer.concat([Buffer.alloc(3, 0xff), Buffer.from(b), Buffer.alloc(5, 0xee)]);
    check(readSafetensors(padded.subarray(3, 3 + b.byteLength)));
    const odd = new Uint8Array(b.byteLength + 1);
    odd.set(b, 1);
    check(readSafetensors(odd.subarray(1)));
    check(readSafetensors(b.slice().buffer));
    const dir = mkdtempSync(join(tmpdir(), 'ganpo-st-buf-'));
    try {
      writeFileSync(join(dir, 'x.safetensors'), b);
      check(readSafetensors(readFileSync(join(dir, 'x.safetensors'))));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('returns a null-prototype map, so tensor names like constructor or toString are plain keys', () => {
    const file = craft(
      { constructor: entry('F32', [1], 0, 4), toString: entry('F32', [1], 4, 8) },
      f32([1, 2]),
    );
    const state = readSafetensors(file);
    expect(Object.getPrototypeOf(state)).toBeNull();
    expect(Object.keys(state).sort()).toEqual(['constructor', 'toString']);
    expect(state.constructor).toBeInstanceOf(tf.Tensor);
    tf.dispose(Object.values(state));
  });

  it('refuses what is not bytes with INVALID_ARGUMENT', async () => {
    for (const x of [null, undefined, 'abc', 12, [1, 2, 3], new Float32Array(4), {}]) {
      await expectRefusal(tally, () => readSafetensors(x as unknown as Uint8Array), 'INVALID_ARGUMENT', {
        argument: 'bytes',
      });
    }
  });
});

describe('readSafetensors: hostile headers are refused before parsing or allocating', () => {
  it('prototype keys: a tensor named __proto__ (alone or among others)', async () => {
    await refuse(
      craft('{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32([1])),
      'INVALID_FORMAT',
      '__proto__',
    );
    await refuse(
      craft(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        f32([1, 2]),
      ),
      'INVALID_FORMAT',
      '__proto__',
    );
    await refuse(craft('{"__metadata__":{"__proto__":"x"}}'), 'INVALID_FORMAT', '__metadata__');
  });

  it(`nesting deeper than ${SAFETENSORS_MAX_DEPTH}: small, and 20 MB of brackets, refused in a single pass`, async () => {
    await refuse(craft('{"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}}', f32([1])));
    await refuse(craft('{"__metadata__":{"a":{"b":"c"}}}'));
    const n = 10_000_000;
    const deep = `{"a":${'['.repeat(n)}${']'.repeat(n)}}`;
    await expectRefusal(tally, () => readSafetensors(craft(deep)), 'INVALID_FORMAT', { maxMs: 10_000 });
    const objects = `{"a":${'{"b":'.repeat(100_000)}1${'}'.repeat(100_000)}}`;
    await refuse(craft(objects));
  });

  it('header lengths: over the limit, beyond the file, zero, not starting with {', async () => {
    await refuse(craft({}, undefined, BigInt(SAFETENSORS_MAX_HEADER_BYTES) + 1n));
    await refuse(craft({}, undefined, 2n ** 64n - 1n));
    await refuse(craft({}, undefined, 1000n));
    await refuse(craft('', undefined, 0n));
    await refuse(craft(' {}'));
    await refuse(craft('[]'));
    await refuse(craft('"x"'));
    await refuse(craft('{"a": '));
    await refuse(new Uint8Array(7));
    const notUtf8 = craft('{"a":1}');
    notUtf8[10] = 0xff;
    await refuse(notUtf8);
  });

  it('duplicate keys at the top and inside an entry (JSON.parse would keep the last)', async () => {
    await refuse(
      craft(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        f32([1]),
      ),
    );
    await refuse(craft('{"a":{"dtype":"F32","shape":[1],"shape":[2],"data_offsets":[0,4]}}', f32([1])));
    await refuse(craft('{"__metadata__":{"k":"1","k":"2"}}'));
  });

  it('metadata that is not a string → string map', async () => {
    for (const m of [{ k: 1 }, { k: null }, { k: ['x'] }, { k: true }, 'text', null, [1]]) {
      await refuse(craft({ __metadata__: m }), 'INVALID_FORMAT', '__metadata__');
    }
  });

  it('data offsets that overlap, leave a gap, leave trailing bytes or run past the data', async () => {
    const two = (a: number[], b: number[], data: Uint8Array) =>
      craft(
        {
          a: entry('F32', [1], a[0] as number, a[1] as number),
          b: entry('F32', [1], b[0] as number, b[1] as number),
        },
        data,
      );
    await refuse(two([0, 4], [0, 4], f32([1])), 'INVALID_FORMAT', 'b');
    await refuse(two([0, 4], [2, 6], f32([1, 2])));
    await refuse(two([0, 4], [8, 12], f32([1, 2, 3])), 'INVALID_FORMAT', 'b');
    await refuse(craft({ a: entry('F32', [1], 4, 8) }, f32([1, 2])), 'INVALID_FORMAT', 'a');
    await refuse(craft({ a: entry('F32', [1], 0, 4) }, f32([1, 2])), 'INVALID_FORMAT', 'bytes');
    await refuse(craft({ a: entry('F32', [2], 0, 8) }, f32([1])), 'INVALID_FORMAT', 'a');
    await refuse(craft({ a: entry('F32', [1], 4, 0) }, f32([1])), 'INVALID_FORMAT', 'a');
    await refuse(
      craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4.5] } }, f32([1])),
      'INVALID_FORMAT',
      'a',
    );
    await refuse(craft({ a: { dtype: 'F32', shape: [1] } }, f32([1])), 'INVALID_FORMAT', 'a');
    await refuse(
      craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 2 ** 60] } }, f32([1])),
      'INVALID_FORMAT',
      'a',
    );
  });

  it('shapes: negative, fractional, huge products, rank over the limit, and element counts that disagree', async () => {
    const one = (shape: unknown, dtype = 'F32') =>
      craft({ a: { dtype, shape, data_offsets: [0, 4] } }, f32([1]));
    for (const shape of [
      [-1],
      [1.5],
      ['1'],
      [null],
      'x',
      null,
      [2 ** 53],
      [1e7],
      [1e7, 1e7, 1e7],
      [4294967296, 4294967296],
    ]) {
      await refuse(one(shape), 'INVALID_FORMAT', 'a');
    }
    await refuse(one(new Array(SAFETENSORS_MAX_RANK + 1).fill(1)), 'INVALID_FORMAT', 'a');
    // A 0 anywhere makes an empty tensor, whatever the other sizes.
    const empty = readSafetensors(craft({ a: entry('F32', [1e9, 0, 1e9], 0, 0) }));
    expect((empty.a as tf.Tensor).size).toBe(0);
    tf.dispose(Object.values(empty));
  });

  it('dtypes the reader does not know, and entries that are not objects', async () => {
    for (const dtype of ['U8', 'string', 'f32', '', 'toString', '__proto__', 7, null]) {
      await refuse(
        craft({ a: { dtype, shape: [1], data_offsets: [0, 4] } }, f32([1])),
        'INVALID_FORMAT',
        'a',
      );
    }
    for (const info of [null, 1, 'x', [1, 2]]) {
      await refuse(craft({ a: info }), 'INVALID_FORMAT', 'a');
    }
  });

  it('values that do not fit: F64 beyond float32, I64 beyond int32; F64 ±Infinity and NaN are kept', async () => {
    await refuse(craft({ a: entry('F64', [2], 0, 16) }, f64([1, 1e39])), 'OUT_OF_RANGE', 'a');
    await refuse(craft({ a: entry('F64', [1], 0, 8) }, f64([-3.5e38])), 'OUT_OF_RANGE', 'a');
    const big = new Uint8Array(8);
    new DataView(big.buffer).setBigInt64(0, -(2n ** 40n), true);
    await refuse(craft({ n: entry('I64', [1], 0, 8) }, big), 'OUT_OF_RANGE', 'n');
    const ok = readSafetensors(
      craft({ a: entry('F64', [4], 0, 32) }, f64([Infinity, -Infinity, Number.NaN, 3.4e38])),
    );
    const v = Array.from((ok.a as tf.Tensor).dataSync());
    expect(v.slice(0, 2)).toEqual([Infinity, -Infinity]);
    expect(Number.isNaN(v[2])).toBe(true);
    expect(v[3]).toBeCloseTo(3.4e38, -33);
    tf.dispose(Object.values(ok));
  });

  it('a bad entry after good ones leaves no tensor behind', async () => {
    const data = new Uint8Array(12);
    data.set(f32([1]), 0);
    new DataView(data.buffer).setBigInt64(4, 2n ** 40n, true);
    const file = craft({ a: entry('F32', [1], 0, 4), z: entry('I64', [1], 4, 12) }, data);
    await refuse(file, 'OUT_OF_RANGE', 'z');
  });
});

describe('writeSafetensors: writes only what the reader accepts', () => {
  it('refuses string and complex tensors, reserved names, bad metadata, non-objects', async () => {
    const s = tf.tensor1d(['a', 'b'], 'string');
    // wasm has no Complex kernel; where a backend can make one, it must be refused too.
    const c = tf.getBackend() === 'wasm' ? undefined : tf.complex([1], [2]);
    const x = tf.tensor1d([1, 2]);
    await expectRefusal(tally, () => writeSafetensors({ s }), 'INVALID_DTYPE', { argument: 's' });
    if (c) await expectRefusal(tally, () => writeSafetensors({ c }), 'INVALID_DTYPE', { argument: 'c' });
    await expectRefusal(tally, () => writeSafetensors({ __metadata__: x }), 'INVALID_ARGUMENT', {
      argument: '__metadata__',
    });
    await expectRefusal(tally, () => writeSafetensors(JSON.parse('{"a":1}')), 'INVALID_ARGUMENT', {
      argument: 'a',
    });
    const withProto = Object.create(null) as Record<string, tf.Tensor>;
    Object.defineProperty(withProto, '__proto__', { value: x, enumerable: true });
    await expectRefusal(tally, () => writeSafetensors(withProto), 'INVALID_ARGUMENT', {
      argument: '__proto__',
    });
    for (const m of [{ k: 1 }, { k: null }, { k: { a: 'b' } }, 'x', [1], null]) {
      await expectRefusal(
        tally,
        () => writeSafetensors({ x }, m as unknown as Record<string, string>),
        'INVALID_ARGUMENT',
        {
          argument: 'metadata',
        },
      );
    }
    const metaProto = Object.create(null) as Record<string, string>;
    Object.defineProperty(metaProto, '__proto__', { value: 'x', enumerable: true });
    await expectRefusal(tally, () => writeSafetensors({ x }, metaProto), 'INVALID_ARGUMENT', {
      argument: 'metadata',
    });
    for (const t of [null, undefined, 3, 'x', [x]]) {
      await expectRefusal(
        tally,
        () => writeSafetensors(t as unknown as Record<string, tf.Tensor>),
        'INVALID_ARGUMENT',
        {
          argument: 'tensors',
        },
      );
    }
    // What it writes, it reads back: bool as int32, metadata checked.
    const b = tf.tensor1d([true, false], 'bool');
    const back = readSafetensors(writeSafetensors({ b, x }, { format: 'pt' }));
    expect(Array.from((back.b as tf.Tensor).dataSync())).toEqual([1, 0]);
    tf.dispose([s, x, b, ...(c ? [c] : []), ...Object.values(back)]);
  });
});

// The bounded JSON readers against JSON.parse: the JSONL record reader accepts exactly the lines
// JSON.parse accepts (within the nesting bound) and keeps the same values; the safetensors reader
// turns every corruption of a real file into a GanpoError, never a raw error or a leak.
import * as tf from '@tensorflow/tfjs-core';
import { GanpoError, parsePreferenceJsonl, readSafetensors, writeSafetensors } from 'ganpo';
import { describe, expect, it } from 'vitest';
import { readRecordLine } from '../../src/data/jsonl-record';
import { mulberry32 } from '../../src/trainer/random';
import { expectRefusal, hostileTally } from '../support/hostile';

const tally = hostileTally('JSON readers');

const random = mulberry32;

const KEYS = ['prompt', 'chosen', 'rejected', 'role', 'content', 'x', 'ch\\u006fsen', '', '__proto__', 'é'];
const STRINGS = [
  '',
  'a b',
  'say \\"hi\\"',
  'tab\\tnew\\nline',
  '\\u00e9\\ud83d\\ude00',
  'é😀',
  '\\\\',
  '\\/',
];
const NUMBERS = ['0', '-0', '1', '-12', '3.25', '1e5', '-2.5E-3', '123456789012345678901234567890'];

/** Random JSON text (each string and key in raw JSON form), nested up to `depth`. */
function jsonText(rnd: () => number, depth: number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)] as T;
  const r = rnd();
  if (depth > 0 && r < 0.3) {
    const n = Math.floor(rnd() * 4);
    const members = Array.from({ length: n }, () => `"${pick(KEYS)}":${jsonText(rnd, depth - 1)}`);
    return `{${members.join(rnd() < 0.5 ? ',' : ' , ')}}`;
  }
  if (depth > 0 && r < 0.55) {
    const n = Math.floor(rnd() * 4);
    return `[${Array.from({ length: n }, () => jsonText(rnd, depth - 1)).join(',')}]`;
  }
  if (r < 0.75) return `"${pick(STRINGS)}"`;
  if (r < 0.9) return pick(NUMBERS);
  return pick(['true', 'false', 'null']);
}

/** One random edit: a deleted, inserted or replaced character. */
function mutate(rnd: () => number, text: string): string {
  const at = Math.floor(rnd() * (text.length + 1));
  const c = '{}[]",:\\ 0aetn-.\u0001'[Math.floor(rnd() * 19)] as string;
  const r = rnd();
  if (r < 0.33) return text.slice(0, at) + text.slice(at + 1);
  if (r < 0.66) return text.slice(0, at) + c + text.slice(at);
  return text.slice(0, at) + c + text.slice(at + 1);
}

/** What the record reader keeps of a JSON.parse result (kinds for what no check reads). */
function projection(value: unknown, level: 'top' | 'field' | 'message' | 'leaf'): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (level === 'top' && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (const k of ['prompt', 'chosen', 'rejected']) {
      if (Object.hasOwn(value, k)) out[k] = projection((value as Record<string, unknown>)[k], 'field');
    }
    return out;
  }
  if (level === 'field' && Array.isArray(value)) return value.map((m) => projection(m, 'message'));
  if (level === 'message' && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (const k of ['role', 'content']) {
      if (Object.hasOwn(value, k)) out[k] = projection((value as Record<string, unknown>)[k], 'leaf');
    }
    return out;
  }
  return Array.isArray(value) ? [] : {};
}

describe('readRecordLine: the same verdicts and values as JSON.parse', () => {
  it('on 6 000 random lines, half of them corrupted', () => {
    const rnd = random(7);
    let accepted = 0;
    for (let n = 0; n < 6000; n++) {
      let text = jsonText(rnd, 5);
      if (rnd() < 0.5) text = `{"chosen":${text},"rejected":${jsonText(rnd, 3)},"x":${jsonText(rnd, 4)}}`;
      if (n % 2 === 1) text = mutate(rnd, text);
      let expected: unknown;
      let valid = true;
      try {
        expected = JSON.parse(text);
      } catch {
        valid = false;
      }
      let got: unknown;
      let ok = true;
      try {
        got = readRecordLine(text, 64, (kind, reason) => new Error(`${kind}: ${reason}`)).record;
      } catch {
        ok = false;
      }
      expect(ok, `verdict on ${JSON.stringify(text)}`).toBe(valid);
      if (valid) {
        accepted++;
        expect(got, text).toEqual(projection(expected, 'top'));
      }
    }
    expect(accepted).toBeGreaterThan(2500);
  });

  it('nesting is refused at the bound, as OUT_OF_RANGE with the line, wherever it is', async () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const row = (x: string) => `{"chosen":"a b","rejected":"a c","x":${x}}`;
    expect(parsePreferenceJsonl(row(deep(63))).examples).toHaveLength(1);
    for (const line of [row(deep(64)), `{"chosen":[{"role":"user","content":${deep(70)}}],"rejected":"a"}`]) {
      const err = await expectRefusal(
        tally,
        () => parsePreferenceJsonl(`${row('1')}\n${line}`),
        'OUT_OF_RANGE',
        {
          argument: 'line',
        },
      );
      expect(err.line).toBe(2);
    }
    expect(parsePreferenceJsonl(row(deep(100)), { maxDepth: 128 }).examples).toHaveLength(1);
  });

  it('a missing field names the keys the line has (the first 8)', async () => {
    const err = await expectRefusal(
      tally,
      () => parsePreferenceJsonl('{"question": "q", "answer": "a", "rejected": "b"}'),
      'INVALID_FORMAT',
      { argument: 'chosen' },
    );
    expect(err.received).toBe('keys question, answer, rejected');
  });
});

describe('readSafetensors on corrupted files: a GanpoError, never a raw error, nothing left behind', () => {
  it('every single-byte change of a real file’s header', async () => {
    const t = {
      'a.weight': tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      b: tf.tensor1d([5, 6, 7], 'int32'),
    };
    const good = writeSafetensors(t, { format: 'pt' });
    tf.dispose(Object.values(t));
    const headerEnd = 8 + Number(new DataView(good.buffer).getBigUint64(0, true));
    const rnd = random(11);
    for (let at = 8; at < headerEnd; at++) {
      for (const value of [0x22, 0x7b, 0x5d, 0x30 + Math.floor(rnd() * 10), Math.floor(rnd() * 256)]) {
        if (good[at] === value) continue;
        const bytes = good.slice();
        bytes[at] = value;
        const before = tf.memory().numTensors;
        try {
          tf.dispose(Object.values(readSafetensors(bytes)));
        } catch (e) {
          tally.tried++;
          expect(e, `byte ${at} = ${value}: ${String(e)}`).toBeInstanceOf(GanpoError);
          tally.clean++;
        }
        expect(tf.memory().numTensors).toBe(before);
      }
    }
  });
});

describe('readSafetensors counts: exactly the documented 32 768 tensors and 32 768 metadata keys', () => {
  /** A safetensors file of `header` (JSON text) and no data. */
  const file = (header: string) => {
    const text = new TextEncoder().encode(header);
    const bytes = new Uint8Array(8 + text.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(text.length), true);
    bytes.set(text, 8);
    return bytes;
  };
  const tensors = (n: number) =>
    Array.from({ length: n }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`).join(',');
  const metadata = (n: number) => Array.from({ length: n }, (_, i) => `"k${i}":"v"`).join(',');

  it('accepts the bound (with __metadata__ besides) and refuses one more, as INVALID_FORMAT', async () => {
    const read = readSafetensors(file(`{"__metadata__":{${metadata(32_768)}},${tensors(32_768)}}`));
    expect(Object.keys(read)).toHaveLength(32_768);
    tf.dispose(Object.values(read));
    for (const header of [`{${tensors(32_769)}}`, `{"__metadata__":{${metadata(32_769)}}}`]) {
      await expectRefusal(tally, () => readSafetensors(file(header)), 'INVALID_FORMAT', {
        argument: 'bytes',
      });
    }
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, TransformerDiscriminator, writeSafetensors } from 'ganpo';
import {
  fileSystemHandler,
  readSafetensorsFile,
  registerFileSystemRouter,
  writeSafetensorsFile,
} from 'ganpo/node';
import { describe, expect, it } from 'vitest';

import { DEBIAN_PYTHON, hasTorch as hasTorchInstalled } from '../tools/python';
import {
  type DiscriminatorFixtureConfig,
  expectClose,
  expectGanpoError,
  loadFixture,
  loadFixtureBytes,
  withLatentDim,
} from './support/helpers';

interface Case {
  config: DiscriminatorFixtureConfig;
  x: number[][][];
  mask: number[][];
  scores: number[];
}

/** A safetensors buffer from a header object and raw data, for malformed-file tests. */
function craft(header: unknown, data = new Uint8Array(0), declaredLength?: bigint): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(h.byteLength), true);
  out.set(h, 8);
  out.set(data, 8 + h.byteLength);
  return out;
}

const hasTorch = hasTorchInstalled();

describe('readSafetensors', () => {
  it('reads F32, F16, BF16, I32 and I64 written by the Python reference', () => {
    const want =
      loadFixture<Record<string, { shape: number[]; values: number[] }>>('safetensors_dtypes.json');
    const got = readSafetensors(loadFixtureBytes('safetensors_dtypes.safetensors'));
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const [k, { shape, values }] of Object.entries(want)) {
      const t = got[k] as tf.Tensor;
      expect(t.shape, k).toEqual(shape);
      expect(t.dtype, k).toBe(k.startsWith('i') ? 'int32' : 'float32');
      expectClose(t, values, { rtol: 1e-6, atol: 0, label: k });
    }
    tf.dispose(Object.values(got));
  });

  it('a PyTorch-saved discriminator loads and scores identically', () => {
    const c = withLatentDim(loadFixture<Case>('discriminator_torch_safetensors.json'));
    const state = readSafetensors(loadFixtureBytes('discriminator_torch.safetensors'));
    const d = new TransformerDiscriminator({ ...c.config, dropout: 0 });
    d.loadStateDict(state);
    const x = tf.tensor3d(c.x);
    const mask = tf.tensor2d(c.mask);
    const s = d.apply(x, { mask });
    expectClose(s, c.scores, { rtol: 1e-4, atol: 1e-5 });
    tf.dispose([x, mask, s, ...Object.values(state)]);
    d.dispose();
  });

  it('rejects malformed, truncated and oversized files with INVALID_FORMAT', () => {
    expectGanpoError(() => readSafetensors(new Uint8Array(5)), 'INVALID_FORMAT', 'bytes');
    expectGanpoError(() => readSafetensors(craft({}, undefined, 10n ** 12n)), 'INVALID_FORMAT', 'bytes');
    expectGanpoError(() => readSafetensors(craft({}, undefined, 100n)), 'INVALID_FORMAT', 'bytes');
    expectGanpoError(() => readSafetensors(craft('{"a": ')), 'INVALID_FORMAT', 'bytes');
    expectGanpoError(() => readSafetensors(craft('[1,2]')), 'INVALID_FORMAT', 'bytes');
    const entry = (o: object) =>
      craft({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...o } }, new Uint8Array(8));
    expectGanpoError(() => readSafetensors(entry({ dtype: 'U8' })), 'INVALID_FORMAT', 'w');
    expectGanpoError(() => readSafetensors(entry({ shape: [-1] })), 'INVALID_FORMAT', 'w');
    expectGanpoError(() => readSafetensors(entry({ shape: [3] })), 'INVALID_FORMAT', 'w');
    expectGanpoError(() => readSafetensors(entry({ data_offsets: [0, 16] })), 'INVALID_FORMAT', 'w');
    expectGanpoError(() => readSafetensors(entry({ data_offsets: [8, 0] })), 'INVALID_FORMAT', 'w');
    const big = new Uint8Array(8);
    new DataView(big.buffer).setBigInt64(0, 2n ** 40n, true);
    expectGanpoError(
      () => readSafetensors(craft({ n: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, big)),
      'OUT_OF_RANGE',
      'n',
    );
  });
});

describe('writeSafetensors', () => {
  it('round-trips through readSafetensors, F32 for floats, sorted keys, 8-byte aligned header', () => {
    const t = {
      b: tf.tensor2d([
        [1.5, -2],
        [3, 4],
      ]),
      a: tf.tensor1d([7, -8], 'int32'),
      s: tf.scalar(0.25),
    };
    const bytes = writeSafetensors(t, { format: 'pt' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(Object.keys(header)).toEqual(['a', 'b', 's', '__metadata__']);
    expect(header.b.dtype).toBe('F32');
    const back = readSafetensors(bytes);
    expectClose(back.b as tf.Tensor, [1.5, -2, 3, 4]);
    expect((back.b as tf.Tensor).shape).toEqual([2, 2]);
    expect((back.s as tf.Tensor).shape).toEqual([]);
    expect((back.a as tf.Tensor).dtype).toBe('int32');
    tf.dispose([...Object.values(t), ...Object.values(back)]);
    const disposed = tf.scalar(1);
    disposed.dispose();
    expectGanpoError(() => writeSafetensors({ x: disposed }), 'INVALID_ARGUMENT', 'x');
  });

  it.runIf(hasTorch)(
    'our file loads into the official PyTorch module and scores the same (runs only where /usr/bin/python3 imports torch)',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ganpo-st-'));
      try {
        const cfg = { latentDim: 6, hiddenDim: 8, numLayers: 2, numHeads: 2, ffnDim: 12, maxSeqLen: 5 };
        const d = new TransformerDiscriminator({ ...cfg, seed: 5, dropout: 0 });
        const x = tf.randomNormal([3, 4, 6], 0, 1, 'float32', 3) as tf.Tensor3D;
        const mask = tf.tensor2d([
          [1, 1, 1, 1],
          [1, 1, 0, 0],
          [0, 1, 1, 0],
        ]);
        // A training call first, so u and v hold non-initial values that PyTorch must pick up.
        d.apply(x, { mask, training: true }).dispose();
        const s = d.apply(x, { mask });
        const st = d.stateDict();
        await writeSafetensorsFile(join(dir, 'd.safetensors'), st, { format: 'pt' });
        const caseJson = {
          config: cfg,
          x: x.arraySync(),
          mask: mask.arraySync(),
          scores: Array.from(s.dataSync()),
        };
        writeFileSync(join(dir, 'case.json'), JSON.stringify(caseJson));
        const out = execFileSync(
          DEBIAN_PYTHON,
          [
            join('tools', 'reference', 'check_safetensors.py'),
            join(dir, 'd.safetensors'),
            join(dir, 'case.json'),
          ],
          { encoding: 'utf8' },
        );
        expect(JSON.parse(out.trim().split('\n').pop() ?? '{}').ok).toBe(true);
        const again = await readSafetensorsFile(join(dir, 'd.safetensors'));
        expect(Object.keys(again).sort()).toEqual(Object.keys(st).sort());
        tf.dispose([x, mask, s, ...Object.values(st), ...Object.values(again)]);
        d.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('filesystem IO handler (ganpo/node)', () => {
  it('saves and loads a discriminator to a directory, directly and via file://', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ganpo-fs-'));
    try {
      const d = new TransformerDiscriminator({
        latentDim: 6,
        hiddenDim: 8,
        numLayers: 1,
        numHeads: 2,
        maxSeqLen: 5,
        seed: 2,
      });
      const x = tf.randomNormal([2, 3, 6], 0, 1, 'float32', 4) as tf.Tensor3D;
      const s = d.apply(x);
      await d.save(fileSystemHandler(join(dir, 'a')));
      const a = await TransformerDiscriminator.load(fileSystemHandler(join(dir, 'a')));
      registerFileSystemRouter();
      await d.save(`file://${join(dir, 'b')}`);
      const b = await TransformerDiscriminator.load(`file://${join(dir, 'b')}`);
      for (const m of [a, b]) {
        const got = m.apply(x);
        expectClose(got, Array.from(s.dataSync()), { rtol: 0, atol: 0 });
        got.dispose();
        m.dispose();
      }
      await expect(
        TransformerDiscriminator.load(fileSystemHandler(join(dir, 'missing'))),
      ).rejects.toMatchObject({
        code: 'INVALID_FORMAT',
      });
      tf.dispose([x, s]);
      d.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GanpoRegularizer, MLPDiscriminator, setValidationLevel, TransformerDiscriminator } from 'ganpo';
import { fileSystemHandler } from 'ganpo/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DISCRIMINATOR_LIMITS } from '../src/discriminators/limits';

import { MODEL_JSON_LIMITS } from '../src/io/fs-handler';

import { saveToMemory } from './support/helpers';
import { expectRefusal, hostileTally } from './support/hostile';

const tally = hostileTally('checkpoints and discriminator configs');

const SMALL = { latentDim: 4, hiddenDim: 8, numLayers: 1, numHeads: 2, ffnDim: 8, maxSeqLen: 4, seed: 1 };

function values(d: { stateDict(): Record<string, tf.Tensor> }): Record<string, number[]> {
  const s = d.stateDict();
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(s)) out[k] = Array.from(t.dataSync());
  tf.dispose(Object.values(s));
  return out;
}

describe('fileSystemHandler: nothing is read outside the checkpoint folder', () => {
  let root: string;
  let ckpt: string;
  let good: { json: Record<string, unknown>; bin: Buffer };
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'ganpo-sec-fs-'));
    ckpt = join(root, 'ckpt');
    const d = new TransformerDiscriminator(SMALL);
    await d.save(fileSystemHandler(ckpt));
    d.dispose();
    // The layout of earlier versions and of tfjs-node (one `weights.bin`, no SHA-256): these tests
    // rewrite the weights and the manifest's paths by hand.
    const json = JSON.parse(readFileSync(join(ckpt, 'model.json'), 'utf8'));
    const [group] = json.weightsManifest;
    const bin = readFileSync(join(ckpt, group.paths[0]));
    rmSync(join(ckpt, group.paths[0]));
    json.weightsManifest = [{ paths: ['weights.bin'], weights: group.weights }];
    writeFileSync(join(ckpt, 'weights.bin'), bin);
    writeFileSync(join(ckpt, 'model.json'), JSON.stringify(json));
    good = { json, bin };
    // A perfectly valid weights file outside the folder: if a path could reach it, loading would succeed.
    writeFileSync(join(root, 'outside.bin'), good.bin);
    mkdirSync(join(root, 'ckpt', 'sub'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** Rewrites ckpt/model.json with the given manifest paths (weights.bin untouched). */
  const withPaths = (paths: unknown[]) => {
    const manifest = good.json.weightsManifest as { paths: unknown[]; weights: unknown[] }[];
    const json = { ...good.json, weightsManifest: [{ ...manifest[0], paths }] };
    writeFileSync(join(ckpt, 'model.json'), JSON.stringify(json));
  };
  const refuseLoad = (argument?: string) =>
    expectRefusal(tally, () => TransformerDiscriminator.load(fileSystemHandler(ckpt)), 'INVALID_FORMAT', {
      argument,
    });

  it('loads the untouched checkpoint', async () => {
    withPaths(['weights.bin']);
    const d = await TransformerDiscriminator.load(fileSystemHandler(ckpt));
    d.dispose();
  });

  it('refuses ../, deeper ../, absolute, sub/../.., empty and non-string manifest paths', async () => {
    const cases: unknown[] = [
      '../outside.bin',
      '../../../../../../../../etc/hostname',
      'sub/../../outside.bin',
      './../outside.bin',
      join(root, 'outside.bin'),
      '/etc/hostname',
      '',
      '.',
      'sub',
      'weights.bin\0.txt',
      7,
      null,
      { toString: () => '../outside.bin' },
    ];
    for (const p of cases) {
      withPaths([p]);
      const err = await refuseLoad();
      expect(err.argument).toMatch(/^weightsManifest\[0\]\.paths\[0\]$/);
    }
  });

  it('refuses a symbolic link that leads out of the folder (file or model.json)', async () => {
    symlinkSync(join(root, 'outside.bin'), join(ckpt, 'link.bin'));
    withPaths(['link.bin']);
    await refuseLoad('weightsManifest[0].paths[0]');
    const other = join(root, 'linked');
    mkdirSync(other);
    writeFileSync(join(root, 'model.json'), JSON.stringify(good.json));
    symlinkSync(join(root, 'model.json'), join(other, 'model.json'));
    await expectRefusal(
      tally,
      () => TransformerDiscriminator.load(fileSystemHandler(other)),
      'INVALID_FORMAT',
      {
        argument: 'dir',
      },
    );
  });

  it('missing, truncated, padded weights; missing, unparseable, huge or deep model.json', async () => {
    withPaths(['nope.bin']);
    await refuseLoad('weightsManifest[0].paths[0]');
    withPaths(['weights.bin']);
    for (const bin of [
      good.bin.subarray(0, good.bin.byteLength - 4),
      good.bin.subarray(0, 3),
      Buffer.alloc(0),
    ]) {
      writeFileSync(join(ckpt, 'weights.bin'), bin);
      const err = await refuseLoad();
      expect(err.argument).toMatch(/^weightSpecs\[\d+\]$/);
    }
    writeFileSync(join(ckpt, 'weights.bin'), Buffer.concat([good.bin, Buffer.alloc(4)]));
    await refuseLoad('weightsManifest');
    writeFileSync(join(ckpt, 'weights.bin'), good.bin);
    await expectRefusal(
      tally,
      () => TransformerDiscriminator.load(fileSystemHandler(join(root, 'none'))),
      'INVALID_FORMAT',
      {
        argument: 'dir',
      },
    );
    writeFileSync(join(ckpt, 'model.json'), '{"modelTopology": ');
    await refuseLoad('model.json');
    writeFileSync(join(ckpt, 'model.json'), '[1,2]');
    await refuseLoad('model.json');
    writeFileSync(join(ckpt, 'model.json'), `{"a":${'['.repeat(5_000_000)}${']'.repeat(5_000_000)}}`);
    await refuseLoad('model.json');
    // A sparse file: its size is refused from stat, before a byte is read.
    writeFileSync(join(ckpt, 'model.json'), '');
    truncateSync(join(ckpt, 'model.json'), MODEL_JSON_LIMITS.maxBytes + 1);
    await refuseLoad('dir');
    withPaths(['weights.bin']);
  });

  it('manifest weight specs: string dtype with shape [1e7], huge shapes, duplicates, __proto__, quantized', async () => {
    const manifest = good.json.weightsManifest as { paths: unknown[]; weights: { name: string }[] }[];
    const specs = manifest[0]?.weights ?? [];
    const withSpecs = (weights: unknown[]) =>
      writeFileSync(
        join(ckpt, 'model.json'),
        JSON.stringify({ ...good.json, weightsManifest: [{ paths: ['weights.bin'], weights }] }),
      );
    const cases: unknown[][] = [
      [{ name: 'x', shape: [1e7], dtype: 'string' }],
      [{ name: 'x', shape: [1e7, 1e7], dtype: 'float32' }],
      [{ name: 'x', shape: [2 ** 53], dtype: 'float32' }],
      [{ name: 'x', shape: [-1], dtype: 'float32' }],
      [{ name: 'x', shape: new Array(17).fill(1), dtype: 'float32' }],
      [{ name: 'x', shape: [1], dtype: 'float64' }],
      [{ name: 'x', shape: [1] }],
      [{ shape: [1], dtype: 'float32' }],
      [{ name: '__proto__', shape: [1], dtype: 'float32' }],
      [...specs, specs[0]],
      [null],
      [{ name: 'x', shape: [1], dtype: 'float32', quantization: { dtype: 'int64' } }],
    ];
    for (const w of cases) {
      withSpecs(w);
      await refuseLoad();
    }
    writeFileSync(join(ckpt, 'model.json'), JSON.stringify({ ...good.json, weightsManifest: 'x' }));
    await refuseLoad('weightsManifest');
    writeFileSync(
      join(ckpt, 'model.json'),
      JSON.stringify({ ...good.json, weightsManifest: [{ paths: 'weights.bin' }] }),
    );
    await refuseLoad('weightsManifest[0]');
    withPaths(['weights.bin']);
  });
});

describe('load(): untrusted artifacts, configs and weights', () => {
  let saved: tf.io.ModelArtifacts;
  let savedMlp: tf.io.ModelArtifacts;
  beforeAll(async () => {
    const d = new TransformerDiscriminator(SMALL);
    saved = await saveToMemory(d);
    d.dispose();
    const m = new MLPDiscriminator({ latentDim: 4, hiddenDims: [3], seed: 1 });
    savedMlp = await saveToMemory(m);
    m.dispose();
  });
  const withConfig = (base: tf.io.ModelArtifacts, patch: Record<string, unknown>) => {
    const topo = base.modelTopology as { config: Record<string, unknown> };
    return tf.io.fromMemory({ ...base, modelTopology: { ...topo, config: { ...topo.config, ...patch } } });
  };

  it('resource bombs in config are refused before any allocation', async () => {
    const bombs: [
      Record<string, unknown>,
      'OUT_OF_RANGE' | 'INVALID_OPTION' | 'NON_FINITE' | 'INVALID_FORMAT',
    ][] = [
      [{ maxSeqLen: 5e7 }, 'OUT_OF_RANGE'],
      [{ maxSeqLen: DISCRIMINATOR_LIMITS.maxSeqLen + 1 }, 'OUT_OF_RANGE'],
      [{ maxSeqLen: DISCRIMINATOR_LIMITS.maxSeqLen, hiddenDim: 512, numHeads: 8 }, 'OUT_OF_RANGE'],
      [{ hiddenDim: 30_000, numHeads: 1 }, 'OUT_OF_RANGE'],
      [{ hiddenDim: 65_537, numHeads: 1 }, 'OUT_OF_RANGE'],
      [{ ffnDim: 1e9 }, 'OUT_OF_RANGE'],
      [{ ffnDim: 60_000, hiddenDim: 4096, numHeads: 8 }, 'OUT_OF_RANGE'],
      [{ numLayers: 1e6 }, 'OUT_OF_RANGE'],
      [{ numLayers: 200, hiddenDim: 2048, numHeads: 8 }, 'OUT_OF_RANGE'],
      [{ latentDim: 1e12 }, 'OUT_OF_RANGE'],
      [{ latentDim: 'abc' }, 'INVALID_OPTION'],
      [{ latentDim: null }, 'INVALID_OPTION'],
      [{ maxSeqLen: Number.NaN }, 'NON_FINITE'],
      [{ maxSeqLen: 1.5 }, 'OUT_OF_RANGE'],
      [{ numHeads: 3 }, 'INVALID_OPTION'],
      [{ dropout: 1 }, 'OUT_OF_RANGE'],
      [{ spectralNorm: 'yes' }, 'INVALID_OPTION'],
      [{ evil: 1 }, 'INVALID_FORMAT'],
      [{ seed: 3 }, 'INVALID_FORMAT'],
    ];
    for (const [patch, code] of bombs) {
      await expectRefusal(tally, () => TransformerDiscriminator.load(withConfig(saved, patch)), code, {
        maxMs: 2000,
      });
    }
    for (const [patch, code] of [
      [{ hiddenDims: [3e4, 3e4] }, 'OUT_OF_RANGE'],
      [{ hiddenDims: [65_537] }, 'OUT_OF_RANGE'],
      [{ hiddenDims: new Array(257).fill(1) }, 'INVALID_OPTION'],
      [{ hiddenDims: 'x' }, 'INVALID_OPTION'],
      [{ latentDim: 2e9 }, 'OUT_OF_RANGE'],
    ] as const) {
      await expectRefusal(tally, () => MLPDiscriminator.load(withConfig(savedMlp, patch)), code, {
        maxMs: 2000,
      });
    }
  });

  it('the same limits hold for constructors, GanpoRegularizer.create', async () => {
    const ctors: [() => unknown, string][] = [
      [() => new TransformerDiscriminator({ latentDim: 8, maxSeqLen: 5e7 }), 'OUT_OF_RANGE'],
      [() => new MLPDiscriminator({ latentDim: 8, hiddenDims: [3e4, 3e4] }), 'OUT_OF_RANGE'],
      [() => new GanpoRegularizer({ latentDim: 8, critic: { maxSeqLen: 5e7 } }), 'OUT_OF_RANGE'],
      [
        () => new GanpoRegularizer({ latentDim: 8, critic: { kind: 'mlp', hiddenDims: [3e4, 3e4] } }),
        'OUT_OF_RANGE',
      ],
      [() => new GanpoRegularizer({ latentDim: 1e9 }), 'OUT_OF_RANGE'],
    ];
    const vars = Object.keys(tf.engine().registeredVariables).length;
    for (const [fn, code] of ctors) {
      await expectRefusal(tally, fn, code as 'OUT_OF_RANGE', { maxMs: 2000 });
    }
    expect(Object.keys(tf.engine().registeredVariables).length).toBe(vars);
  });

  it('truncated, padded, corrupt or mislabelled weight data', async () => {
    const data = saved.weightData as ArrayBuffer;
    const specs = saved.weightSpecs as tf.io.WeightsManifestEntry[];
    const variants: [tf.io.ModelArtifacts, string][] = [
      [{ ...saved, weightData: data.slice(0, data.byteLength - 4) }, 'INVALID_FORMAT'],
      [{ ...saved, weightData: data.slice(0, 7) }, 'INVALID_FORMAT'],
      [{ ...saved, weightData: new ArrayBuffer(0) }, 'INVALID_FORMAT'],
      [{ ...saved, weightData: new Uint8Array(data.byteLength + 8).buffer }, 'INVALID_FORMAT'],
      [{ ...saved, weightData: 'abc' as unknown as ArrayBuffer }, 'INVALID_FORMAT'],
      [{ ...saved, weightData: undefined }, 'INVALID_FORMAT'],
      [{ ...saved, weightSpecs: undefined }, 'INVALID_FORMAT'],
      [
        { ...saved, weightSpecs: specs.map((s, i) => (i === 0 ? { ...s, dtype: 'string' as const } : s)) },
        'INVALID_FORMAT',
      ],
      [
        { ...saved, weightSpecs: specs.map((s, i) => (i === 0 ? { ...s, dtype: 'bool' as const } : s)) },
        'INVALID_FORMAT',
      ],
      [
        { ...saved, weightSpecs: specs.map((s, i) => (i === 1 ? { ...s, name: 'other' } : s)) },
        'STATE_DICT_MISMATCH',
      ],
      [
        { ...saved, modelTopology: { ...(saved.modelTopology as object), className: 'MLPDiscriminator' } },
        'INVALID_FORMAT',
      ],
      [{ ...saved, modelTopology: null as unknown as object }, 'INVALID_FORMAT'],
      [{ ...saved, modelTopology: { ...(saved.modelTopology as object), config: [1] } }, 'INVALID_FORMAT'],
    ];
    for (const [art, code] of variants) {
      await expectRefusal(
        tally,
        () => TransformerDiscriminator.load(tf.io.fromMemory(art)),
        code as 'INVALID_FORMAT',
      );
    }
    // Every prefix of every tensor's bytes removed: never a raw tfjs error, never a leak.
    let at = 0;
    for (const s of specs) {
      const n = 4 * s.shape.reduce((a, b) => a * b, 1);
      const cut = new Uint8Array(data.byteLength - n);
      cut.set(new Uint8Array(data, 0, at), 0);
      cut.set(new Uint8Array(data, at + n), at);
      at += n;
      await expectRefusal(
        tally,
        () => TransformerDiscriminator.load(tf.io.fromMemory({ ...saved, weightData: cut.buffer })),
        'INVALID_FORMAT',
      );
    }
  });

  it("NaN and ±Infinity weights are refused at level 'full', accepted at 'shapes'", async () => {
    const specs = saved.weightSpecs as tf.io.WeightsManifestEntry[];
    let at = 0;
    for (const [i, s] of specs.entries()) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      for (const bad of [Number.NaN, Infinity, -Infinity]) {
        if (i % 5 !== 0 && !Number.isNaN(bad)) continue;
        const copy = (saved.weightData as ArrayBuffer).slice(0);
        new Float32Array(copy, at * 4, n)[n - 1] = bad;
        await expectRefusal(
          tally,
          () => TransformerDiscriminator.load(tf.io.fromMemory({ ...saved, weightData: copy })),
          'NON_FINITE',
          { argument: s.name },
        );
      }
      at += n;
    }
    const copy = (saved.weightData as ArrayBuffer).slice(0);
    new Float32Array(copy)[0] = Number.NaN;
    const previous = setValidationLevel('shapes');
    try {
      const d = await TransformerDiscriminator.load(tf.io.fromMemory({ ...saved, weightData: copy }));
      d.dispose();
    } finally {
      setValidationLevel(previous);
    }
  });
});

describe('loadStateDict: every refusal leaves the weights and the tensor count unchanged', () => {
  const discriminators = () => [
    new TransformerDiscriminator(SMALL),
    new TransformerDiscriminator({ ...SMALL, spectralNorm: false, seed: 2 }),
    new MLPDiscriminator({ latentDim: 4, hiddenDims: [3, 2], seed: 3 }),
    new MLPDiscriminator({ latentDim: 4, hiddenDims: [3], spectralNorm: false, seed: 4 }),
  ];

  it('missing, unexpected, mis-shaped, mistyped, disposed, non-finite: each key of each discriminator', async () => {
    for (const d of discriminators()) {
      const snapshot = () => values(d);
      const full = d.stateDict();
      const keys = Object.keys(full);
      for (const key of keys) {
        const { [key]: dropped, ...missing } = full;
        await expectRefusal(tally, () => d.loadStateDict(missing), 'STATE_DICT_MISMATCH', {
          argument: key,
          snapshot,
        });
        const t = full[key] as tf.Tensor;
        const reshaped = tf.zeros([...t.shape, 1]);
        const boolT = tf.zeros(t.shape, 'bool');
        const nan = tf.fill(t.shape, Number.NaN);
        const dead = tf.zeros(t.shape);
        dead.dispose();
        for (const [value, code] of [
          [reshaped, 'STATE_DICT_MISMATCH'],
          [boolT, 'STATE_DICT_MISMATCH'],
          [dead, 'STATE_DICT_MISMATCH'],
          [[1, 2], 'STATE_DICT_MISMATCH'],
          [null, 'STATE_DICT_MISMATCH'],
          [nan, 'NON_FINITE'],
        ] as const) {
          // The bad key comes last in iteration order, after every good key has been checked.
          await expectRefusal(
            tally,
            () => d.loadStateDict({ ...missing, [key]: value } as Record<string, tf.Tensor>),
            code,
            {
              argument: key,
              snapshot,
            },
          );
        }
        tf.dispose([reshaped, boolT, nan]);
        expect(dropped).toBeDefined();
      }
      const extra = tf.scalar(1);
      await expectRefusal(tally, () => d.loadStateDict({ ...full, extra }), 'STATE_DICT_MISMATCH', {
        argument: 'extra',
        snapshot,
      });
      extra.dispose();
      for (const state of [null, undefined, 3, 'x', [1]]) {
        await expectRefusal(
          tally,
          () => d.loadStateDict(state as unknown as Record<string, tf.Tensor>),
          'INVALID_ARGUMENT',
          {
            snapshot,
          },
        );
      }
      await expectRefusal(
        tally,
        () => d.loadStateDict(full, { strict: 'yes' as unknown as boolean }),
        'INVALID_OPTION',
        {
          snapshot,
        },
      );
      d.loadStateDict(full, null as unknown as { strict?: boolean });
      tf.dispose(Object.values(full));
      d.dispose();
      await expectRefusal(tally, () => d.loadStateDict({}), 'DISPOSED');
      await expectRefusal(tally, () => d.stateDict(), 'DISPOSED');
      await expectRefusal(
        tally,
        () =>
          d.save(
            tf.io.withSaveHandler(async () => ({
              modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' },
            })),
          ),
        'DISPOSED',
      );
    }
  });
});

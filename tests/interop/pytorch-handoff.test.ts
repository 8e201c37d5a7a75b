// The PyTorch handoff: a run trained in ganpo (official preset, transformer critics, tiny policy)
// is exported after 2 steps; tools/reference/ganpo_handoff.py continues it with the official GANPO
// training step in PyTorch (tests/fixtures/handoff/expected.json) and writes its state back
// (tests/fixtures/handoff/after/). Here:
//   1. ganpo's own export matches the committed one (tests/fixtures/handoff/state/), so the Python
//      continuation below started from this very state;
//   2. ganpo's own steps 3 and 4 match the official steps continued in PyTorch (losses, the six
//      means, both critics' weights, the policy's weights);
//   3. the way back: the PyTorch state after step 3 imports into a fresh trainer, whose step 4
//      matches PyTorch's step 4.
// Regenerate: GANPO_WRITE_HANDOFF=1 npx vitest run tests/interop/pytorch-handoff.test.ts --project cpu
// (writes state/), then /usr/bin/python3 tools/reference/ganpo_handoff.py (writes the rest).
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  type CausalLM,
  GanpoTrainer,
  type PreferencePair,
  parsePreferenceJsonl,
  readSafetensors,
  tokenizePreferenceData,
} from 'ganpo';
import { exportToPyTorch, importFromPyTorch } from 'ganpo/node';
import { afterAll, describe, expect, it } from 'vitest';
import { CharTokenizer } from '../../examples/tokenizers/char-tokenizer';
import { DEBIAN_PYTHON, hasTorch } from '../../tools/python';
import { expectClose } from '../support/helpers';

const FIXTURES = 'tests/fixtures/handoff';
const ALPHABET = 'abcdefgh';
const H = 8;
/** Steps trained before the export, and the batches (indices into ROWS) of steps 1-4. */
const K = 2;
const BATCHES = [
  [0, 1, 2, 3],
  [4, 5, 6, 7],
  [2, 5, 0, 7],
  [1, 3, 4, 6],
];
const ROWS = [
  { prompt: 'cfh', chosen: 'fbh', rejected: 'gfc' },
  { prompt: 'bebb', chosen: 'ggad', rejected: 'ccc' },
  { prompt: 'gddg', chosen: 'b', rejected: 'de' },
  { prompt: 'ah', chosen: 'hhe', rejected: 'a' },
  { prompt: 'dcfa', chosen: 'ce', rejected: 'bbgh' },
  { prompt: 'ebd', chosen: 'f', rejected: 'hdc' },
  { prompt: 'hgh', chosen: 'aabe', rejected: 'gd' },
  { prompt: 'fa', chosen: 'dge', rejected: 'eh' },
];
const NAMES = ['W1', 'b1', 'W2', 'b2'];

const tok = new CharTokenizer({ alphabet: ALPHABET });
/** What the Python side needs besides the bundle: its model, tokenizer and next batches. */
const CONTINUE = {
  tokenizer: { kind: 'char', alphabet: ALPHABET, pad_token_id: tok.padTokenId, eos_token_id: tok.eosTokenId },
  policy_model: { kind: 'tiny', vocab_size: tok.vocabSize, hidden_size: H },
  batches: BATCHES.slice(K),
};
const V = tok.vocabSize;
const { examples } = parsePreferenceJsonl(ROWS.map((r) => JSON.stringify(r)).join('\n'));
const data = tokenizePreferenceData(examples, tok);

let instances = 0;

/** The tiny policy of the Python side: one-hot(ids)·W1 + b1 → tanh (the latent) → ·W2 + b2. */
function tinyPolicy(): CausalLM & { dispose(): void } {
  let seed = 7;
  const v = (name: string, shape: number[], scale: number) =>
    tf.tidy(() =>
      tf.variable(
        tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed++), scale),
        true,
        `tiny/${name}_${++instances}`,
      ),
    );
  const vars = [v('W1', [V, H], 0.5), v('b1', [H], 0.1), v('W2', [H, V], 0.5), v('b2', [V], 0.1)] as const;
  return {
    trainableVariables: [...vars],
    forward(ids) {
      return tf.tidy(() => {
        const [b, t] = ids.shape;
        const h = tf.tanh(tf.add(tf.matMul(tf.reshape(tf.oneHot(ids, V), [b * t, V]), vars[0]), vars[1]));
        const logits = tf.add(tf.matMul(h, vars[2]), vars[3]);
        return {
          logits: tf.reshape(logits, [b, t, V]) as tf.Tensor3D,
          hidden: tf.reshape(h, [b, t, H]) as tf.Tensor3D,
        };
      });
    },
    dispose: () => tf.dispose([...vars]),
  };
}

function makeTrainer(policy: CausalLM): GanpoTrainer {
  return new GanpoTrainer({
    model: { policy, reference: 'initial', latentDim: H },
    data: { collate: { padTokenId: tok.padTokenId, eosTokenId: data.eosTokenId }, batchSize: 4 },
    training: { learningRate: 1e-2, totalSteps: 10, warmupRatio: 0.1 },
    objective: { kind: 'dpo', beta: 0.1 },
    regularizer: {
      preset: 'official',
      seed: 0,
      // Dropout 0: PyTorch and tfjs draw different masks.
      critic: { hiddenDim: 16, numLayers: 1, numHeads: 2, ffnDim: 64, maxSeqLen: 32, dropout: 0 },
    },
  });
}

const step = (trainer: GanpoTrainer, k: number) =>
  trainer.trainStep(
    (BATCHES[k] as number[]).map((i) => data.pairs[i] as PreferencePair),
    BATCHES[k],
  );

interface Stored {
  shape: number[];
  data: number[];
}
interface Expected {
  start_step: number;
  steps: {
    batch: number[];
    metrics: Record<string, number>;
    after: {
      running_means: Record<string, number>;
      policy: Record<string, Stored>;
      disc_chosen: Record<string, Stored>;
      disc_rejected: Record<string, Stored>;
    };
  }[];
}

// Official attribute → ganpo mean, written out here from GANPO_trl.py's compute_loss_disc rather than
// read from the exporter's table, so that a wrong mapping there fails.
const MEANS: [string, 'chosen' | 'rejected', 'reference' | 'policy' | 'opposite'][] = [
  ['running_mean_pos', 'chosen', 'reference'],
  ['running_mean_neg', 'chosen', 'opposite'],
  ['running_mean_policy', 'chosen', 'policy'],
  ['running_mean_pos_rej', 'rejected', 'opposite'],
  ['running_mean_neg_rej', 'rejected', 'reference'],
  ['running_mean_policy_rejected_rej', 'rejected', 'policy'],
];

/** Largest |ganpo − PyTorch| per group, after one continued step (also returned for reading). */
function compareStep(
  trainer: GanpoTrainer,
  metrics: Record<string, number>,
  expected: Expected['steps'][number],
) {
  const worst = { losses: 0, means: 0, critics: 0, policy: 0 };
  const e = expected.metrics;
  const pairs: [number, number][] = [
    [metrics.loss as number, e.loss as number],
    [metrics['ganpo/regularizer_loss'] as number, e.adversarial_loss as number],
    [metrics['ganpo/discriminator_loss_chosen'] as number, e.disc_loss_pos as number],
    [metrics['ganpo/discriminator_loss_rejected'] as number, e.disc_loss_neg as number],
  ];
  for (const [a, b] of pairs) worst.losses = Math.max(worst.losses, Math.abs(a - b));
  expectClose(
    pairs.map((p) => p[0]),
    pairs.map((p) => p[1]),
    { rtol: 1e-5, atol: 1e-6, label: 'losses' },
  );
  const reg = trainer.regularizer;
  if (reg === null) throw new Error('no regularizer');
  const means = reg.means;
  for (const [name, side, set] of MEANS) {
    const a = means[side][set] as number;
    worst.means = Math.max(worst.means, Math.abs(a - (expected.after.running_means[name] as number)));
    expectClose(a, expected.after.running_means[name] as number, { rtol: 1e-5, atol: 1e-6, label: name });
  }
  for (const side of ['chosen', 'rejected'] as const) {
    const state = reg.discriminators[side].stateDict();
    for (const [key, want] of Object.entries(expected.after[`disc_${side}`])) {
      let got = Array.from((state[key] as tf.Tensor).dataSync());
      if (key.endsWith('in_proj_bias')) {
        // The key bias has an exactly zero gradient (softmax ignores a per-query constant); Adam
        // turns float32 noise into ±lr steps. The Python side zeroes it; so do we.
        const n = got.length / 3;
        got = got.map((x, i) => (i >= n && i < 2 * n ? 0 : x));
      }
      for (let i = 0; i < got.length; i++)
        worst.critics = Math.max(worst.critics, Math.abs((got[i] as number) - (want.data[i] as number)));
      expectClose(got, want.data, { rtol: 1e-4, atol: 1e-5, label: `disc_${side} ${key}` });
    }
    tf.dispose(Object.values(state));
  }
  trainer.policy.trainableVariables.forEach((v, i) => {
    const want = expected.after.policy[NAMES[i] as string] as Stored;
    const got = v.dataSync();
    for (let j = 0; j < got.length; j++)
      worst.policy = Math.max(worst.policy, Math.abs((got[j] as number) - (want.data[j] as number)));
    expectClose(got, want.data, { rtol: 1e-4, atol: 1e-6, label: `policy ${NAMES[i]}` });
  });
  return worst;
}

/**
 * The key bias (middle third of in_proj_bias) cannot change any output (softmax over keys ignores a
 * per-query constant): its gradient is exactly 0 and Adam turns float32 noise into ±lr steps, which
 * differ between backends. Zeroed before comparing, in the weights and in the optimizer moments.
 */
function withoutKeyBias(tensors: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  for (const [k, t] of Object.entries(tensors)) {
    if (!k.endsWith('in_proj_bias')) continue;
    const n = (t.shape[0] as number) / 3;
    tensors[k] = tf.tidy(() => tf.mul(t, tf.concat([tf.ones([n]), tf.zeros([n]), tf.ones([n])])));
    t.dispose();
  }
  return tensors;
}

const exportOptions = {
  policy: NAMES,
  reference: NAMES,
  data: examples,
};

describe('PyTorch handoff (official GANPO step continued in PyTorch)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ganpo-handoff-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const writing = Boolean(process.env.GANPO_WRITE_HANDOFF);
  const expected = (
    writing ? null : JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'))
  ) as Expected;

  it('exports after 2 steps what the committed state holds, then continues as the official step does in PyTorch', async () => {
    const policy = tinyPolicy();
    const trainer = makeTrainer(policy);
    for (let k = 0; k < K; k++) step(trainer, k);
    const cache = trainer.precomputeReference(data.pairs);
    const out = writing ? join(FIXTURES, 'state') : join(tmp, 'state');
    const written = await exportToPyTorch(trainer, out, { ...exportOptions, referenceCache: cache });
    if (writing) {
      writeFileSync(join(FIXTURES, 'continue.json'), `${JSON.stringify(CONTINUE, null, 1)}\n`);
      trainer.dispose();
      policy.dispose();
      return;
    }
    expect(written.sort()).toEqual(readdirSync(join(FIXTURES, 'state')).sort());
    // 1. The export equals the committed state (the input of the PyTorch continuation).
    for (const file of written.filter((f) => f.endsWith('.safetensors'))) {
      const got = withoutKeyBias(readSafetensors(readFileSync(join(out, file))));
      const want = withoutKeyBias(readSafetensors(readFileSync(join(FIXTURES, 'state', file))));
      expect(Object.keys(got).sort(), file).toEqual(Object.keys(want).sort());
      for (const [k, t] of Object.entries(want)) {
        expectClose(got[k] as tf.Tensor, Array.from(t.dataSync()), {
          rtol: 1e-4,
          atol: 1e-6,
          label: `${file} ${k}`,
        });
      }
      tf.dispose([...Object.values(got), ...Object.values(want)]);
    }
    const meta = JSON.parse(readFileSync(join(out, 'ganpo_handoff.json'), 'utf8'));
    const committed = JSON.parse(readFileSync(join(FIXTURES, 'state', 'ganpo_handoff.json'), 'utf8'));
    expect(meta.dpo_config).toEqual(committed.dpo_config);
    expect(meta.ganpo_trainer).toEqual(committed.ganpo_trainer);
    expect(meta.global_step).toBe(K);
    for (const [name, value] of Object.entries(committed.running_means)) {
      expectClose(meta.running_means[name], value as number, { rtol: 1e-5, atol: 1e-7, label: name });
    }
    // TRL JSONL with the precomputed-reference columns, one line per example.
    const lines = readFileSync(join(out, 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected }))).toEqual(ROWS);
    expectClose(
      lines.map((l) => l.ref_chosen_logps),
      cache.map((c) => c.chosenLogp),
      { rtol: 0, atol: 0, label: 'ref_chosen_logps' },
    );
    // 2. ganpo's own next steps against the official step continued in PyTorch.
    for (let j = 0; j < expected.steps.length; j++) {
      const m = step(trainer, K + j) as unknown as Record<string, number>;
      compareStep(trainer, m, expected.steps[j] as Expected['steps'][number]);
    }
    trainer.dispose();
    policy.dispose();
  });

  it.skipIf(writing)(
    'imports the state PyTorch wrote back after step 3, and its step 4 matches PyTorch step 4 (the way back)',
    async () => {
      const policy = tinyPolicy(); // the same initial weights: the 'initial' reference is the exported one
      const trainer = makeTrainer(policy);
      await importFromPyTorch(trainer, join(FIXTURES, 'after'), { policy: NAMES });
      expect(trainer.step).toBe(K + 1);
      const m = step(trainer, K + 1) as unknown as Record<string, number>;
      compareStep(trainer, m, expected.steps[1] as Expected['steps'][number]);
      trainer.dispose();
      policy.dispose();
    },
  );

  it.skipIf(writing)('refuses bad options and a broken folder, leaving the trainer as it was', async () => {
    const policy = tinyPolicy();
    const trainer = makeTrainer(policy);
    step(trainer, 0);
    const before = JSON.stringify(trainer.stateDict());
    await expect(exportToPyTorch(trainer, join(tmp, 'bad'), { policy: ['W1'] })).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
    });
    await expect(exportToPyTorch(trainer, join(tmp, 'bad'), { polcy: NAMES } as never)).rejects.toMatchObject(
      {
        code: 'INVALID_OPTION',
      },
    );
    await expect(importFromPyTorch(trainer, join(tmp, 'nothing-here'))).rejects.toMatchObject({
      code: 'INVALID_FORMAT',
    });
    // A folder whose critic state does not fit this trainer: refused whole, nothing changed.
    const broken = join(tmp, 'broken');
    mkdirSync(broken, { recursive: true });
    for (const f of readdirSync(join(FIXTURES, 'after')))
      copyFileSync(join(FIXTURES, 'after', f), join(broken, f));
    copyFileSync(join(FIXTURES, 'after', 'policy.safetensors'), join(broken, 'disc_rejected.safetensors'));
    await expect(importFromPyTorch(trainer, broken, { policy: NAMES })).rejects.toMatchObject({
      code: 'STATE_DICT_MISMATCH',
    });
    expect(JSON.stringify(trainer.stateDict())).toBe(before);
    trainer.dispose();
    policy.dispose();
  });

  it.skipIf(writing || !hasTorch())(
    'continues a fresh export in PyTorch now (Debian python3-torch)',
    async () => {
      const policy = tinyPolicy();
      const trainer = makeTrainer(policy);
      for (let k = 0; k < K; k++) step(trainer, k);
      const cache = trainer.precomputeReference(data.pairs);
      const dir = join(tmp, 'live', 'state');
      await exportToPyTorch(trainer, dir, { ...exportOptions, referenceCache: cache });
      writeFileSync(join(tmp, 'live', 'continue.json'), JSON.stringify(CONTINUE));
      execFileSync(DEBIAN_PYTHON, ['tools/reference/ganpo_handoff.py', dir, '1'], {
        stdio: 'ignore',
      });
      const live = JSON.parse(readFileSync(join(tmp, 'live', 'expected.json'), 'utf8')) as Expected;
      const m = step(trainer, K) as unknown as Record<string, number>;
      compareStep(trainer, m, live.steps[0] as Expected['steps'][number]);
      trainer.dispose();
      policy.dispose();
    },
  );
});

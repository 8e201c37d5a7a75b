// The documentation's code is real code: every TypeScript block in the guide is the verbatim content
// of a file under examples/guide/ (checked here, so the text cannot drift from what typecheck covers),
// and those files run here on every backend.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { ganpoStep } from '../examples/guide/existing-loop';
import { withHook, withLatentView } from '../examples/guide/latents';
import { exportForPyTorch, importOfficial, toSafetensorsBytes } from '../examples/guide/pytorch-interop';
import { quickstart } from '../examples/guide/quickstart-trainer';
import { loadPreferenceData } from '../examples/guide/trl-data';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../examples/task/index';
import { TinyLM } from '../examples/tiny-lm/index';
import { CharTokenizer } from '../examples/tokenizers/char-tokenizer';
import {
  AdamW,
  collatePreferencePairs,
  disposePreferenceBatch,
  GanpoRegularizer,
  readSafetensors,
  TransformerDiscriminator,
} from '../src/index';
import { expectClose, expectNoLeak } from './support/helpers';

const INCLUDE = /<!-- include: (\S+) -->\n```ts\n([\s\S]*?)```/g;

describe('docs/*.md code blocks', () => {
  // The guide's pages (docs/losses.md and docs/benchmarks.md have their own owners and conventions).
  const others = new Set(['losses.md', 'benchmarks.md']);
  const docs = readdirSync('docs').filter((f) => f.endsWith('.md') && !others.has(f));

  it('every TypeScript block is an include of a typechecked file, verbatim', () => {
    let included = 0;
    for (const file of docs) {
      const text = readFileSync(join('docs', file), 'utf8');
      const tsBlocks = text.match(/```ts\n/g)?.length ?? 0;
      const matches = [...text.matchAll(INCLUDE)];
      expect(matches.length, `${file}: a \`\`\`ts block without an include marker`).toBe(tsBlocks);
      for (const [, path, body] of matches) {
        expect(body, `${file} shows ${path}`).toBe(readFileSync(path as string, 'utf8'));
        included++;
      }
    }
    expect(included).toBeGreaterThanOrEqual(5);
  });

  it('the "existing loop" snippet is at most 40 lines', () => {
    const lines = readFileSync('examples/guide/existing-loop.ts', 'utf8').trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(40);
  });
});

describe('examples/guide', () => {
  it('existing-loop: DPO + GANPO steps train the policy and both discriminators, leak-free', async () => {
    const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
    const pairs = encodePairs(
      tok,
      makeTaskSplits({ seed: 3, trainSize: 8, testSize: 1, shiftedSize: 1 }).train,
    );
    const policy = new TinyLM({
      vocabSize: tok.vocabSize,
      maxSeqLen: 32,
      dim: 16,
      numLayers: 1,
      numHeads: 2,
    });
    const reference = policy.clone();
    const reg = GanpoRegularizer.create({
      inputDim: 16,
      kind: 'mlp',
      discriminator: { hiddenDims: [16] },
      seed: 0,
    });
    const opt = new AdamW({ learningRate: 1e-2, weightDecay: 0 });
    const batch = collatePreferencePairs(pairs.slice(0, 4), {
      padTokenId: tok.padId,
      eosTokenId: tok.eosId,
      maxLength: 32,
    });
    const before = policy.getWeights();
    const step = () => ganpoStep(policy, reference, policy.trainableVariables, reg, opt, batch);
    const losses = [step(), step()];
    await expectNoLeak(() => {
      losses.push(step());
    });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(reg.stepCount).toBe(4);
    for (const side of ['chosen', 'rejected'] as const) expect(reg.means[side].reference).not.toBeNull();
    const after = policy.getWeights();
    const moved = after.some((w, i) => tf.max(tf.abs(tf.sub(w, before[i] as tf.Tensor))).dataSync()[0] !== 0);
    expect(moved).toBe(true);
    tf.dispose([before, after]);
    disposePreferenceBatch(batch);
    opt.dispose();
    reg.dispose();
    reference.dispose();
    policy.dispose();
  });

  it('trl-data: an implicit-prompt JSONL file becomes pairs the collator takes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ganpo-docs-data-'));
    try {
      writeFileSync(
        join(dir, 'train.jsonl'),
        `${JSON.stringify({ chosen: 'rev:12=21', rejected: 'rev:12=12' })}\n`,
      );
      const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
      const { pairs, collate } = await loadPreferenceData(dir, 'train.jsonl', tok);
      // extract_prompt: the common prefix 'rev:12=' is the prompt.
      expect(pairs).toEqual([
        { prompt: tok.encode('rev:12='), chosen: tok.encode('21'), rejected: tok.encode('12') },
      ]);
      expect(collate).toMatchObject({ padTokenId: tok.padId, eosTokenId: tok.eosId });
      const batch = collatePreferencePairs(pairs, collate);
      expect(batch.chosen.inputIds.shape).toEqual([1, 10]);
      disposePreferenceBatch(batch);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('quickstart-trainer: GanpoTrainer runs and reports finite losses', async () => {
    const losses = await quickstart(2);
    expect(losses).toHaveLength(2);
    expect(losses.every(Number.isFinite)).toBe(true);
  });

  it('latents: LatentView and LayerOutputHook return the layer output of the same forward pass', () => {
    const input = tfl.input({ shape: [3, 4] });
    const hidden = tfl.layers.dense({ units: 5, name: 'hidden', kernelInitializer: 'glorotUniform' });
    const h = hidden.apply(input) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 2 }).apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 7) as unknown as tf.Tensor2D;
    // Expected: plain tfjs, independent of ganpo (the layer applied to x, and the model's predict).
    const wantHidden = hidden.apply(x) as tf.Tensor;
    const wantLogits = model.predict(x) as tf.Tensor;
    for (const get of [withLatentView, withHook]) {
      const got = get(model, 'hidden', x);
      expectClose(got.hidden, wantHidden.arraySync() as number[][][], { rtol: 1e-5, atol: 1e-6 });
      expectClose(got.logits, wantLogits.arraySync() as number[][][], { rtol: 1e-5, atol: 1e-6 });
      tf.dispose([got.hidden, got.logits]);
    }
    tf.dispose([x, wantHidden, wantLogits]);
    model.dispose();
  });

  it('pytorch-interop: export then import gives discriminators that score identically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ganpo-docs-'));
    const cfg = { inputDim: 8, hiddenDim: 512, seed: 5 };
    const reg = new GanpoRegularizer({
      chosen: new TransformerDiscriminator(cfg),
      rejected: new TransformerDiscriminator({ ...cfg, seed: 6 }),
    });
    try {
      await exportForPyTorch(reg, dir);
      const back = await importOfficial(dir, 8);
      const x = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 1) as tf.Tensor3D;
      for (const side of ['chosen', 'rejected'] as const) {
        const want = reg.discriminators[side].apply(x);
        const got = back.discriminators[side].apply(x);
        expectClose(got, Array.from(want.dataSync()), { rtol: 1e-6, atol: 1e-6 });
        tf.dispose([want, got]);
      }
      const bytes = toSafetensorsBytes(reg.discriminators.chosen as TransformerDiscriminator);
      const state = readSafetensors(bytes);
      expect(state['project_in.weight_orig']?.shape).toEqual([512, 8]);
      expect(state.pos_embedding?.shape).toEqual([1, 2048, 512]);
      tf.dispose(Object.values(state));
      tf.dispose(x);
      back.dispose();
    } finally {
      reg.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

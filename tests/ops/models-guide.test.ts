import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { buildGpt, gptPolicy, sftStep } from '../../examples/guide/transformer-model';
import { expectNoLeak } from '../support/helpers';

// docs/models.md's example: the GPT built from ganpo's layers trains (loss falls), yields logits and
// latents from one pass as a CausalLM, and its lean step leaves nothing behind.
const config = { vocabSize: 13, dim: 16, numLayers: 2, numHeads: 2, maxSeqLen: 12 };

describe('examples/guide/transformer-model', () => {
  it('a few steps of next-token training lower the loss, without leaks', async () => {
    const model = buildGpt(config);
    const optimizer = tf.train.adam(1e-2);
    const ids = tf.tensor2d(
      [
        [1, 2, 3, 4, 5, 6, 7, 8],
        [2, 4, 6, 8, 10, 12, 1, 3],
      ],
      undefined,
      'int32',
    );
    const first = sftStep(model, optimizer, ids);
    let last = first;
    for (let i = 0; i < 15; i++) last = sftStep(model, optimizer, ids);
    expect(last).toBeLessThan(first);
    await expectNoLeak(() => void sftStep(model, optimizer, ids));
    tf.dispose(ids);
    optimizer.dispose();
    model.dispose();
  });

  it('as a CausalLM: logits [B,T,V] and the final LayerNorm output [B,T,d] from one forward pass', () => {
    const policy = gptPolicy(config);
    const ids = tf.tensor2d(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      undefined,
      'int32',
    );
    const { logits, hidden } = policy.forward(ids, { training: false });
    expect(logits.shape).toEqual([2, 3, config.vocabSize]);
    expect(hidden.shape).toEqual([2, 3, config.dim]);
    tf.dispose([ids, logits, hidden]);
    policy.dispose?.();
  });
});

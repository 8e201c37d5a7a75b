// docs/guide.md, "Quickstart": the whole loop with GanpoTrainer on the example LM and task.
import '@tensorflow/tfjs-backend-wasm';
import { GanpoTrainer } from 'ganpo';
import { encodePairs, makeTaskSplits, TASK_ALPHABET } from '../task/index';
import { TinyLM } from '../tiny-lm/index';
import { CharTokenizer } from '../tokenizers/char-tokenizer';

export async function quickstart(steps = 20): Promise<number[]> {
  const tok = new CharTokenizer({ alphabet: TASK_ALPHABET });
  const pairs = encodePairs(tok, makeTaskSplits({ seed: 0, trainSize: 256 }).train);
  const policy = new TinyLM({ vocabSize: tok.vocabSize, maxSeqLen: 32, dim: 32, seed: 0 });
  const reference = policy.clone(); // frozen: never give its variables to an optimizer
  const trainer = new GanpoTrainer({
    policy,
    reference,
    hiddenSize: 32, // size of forward(...).hidden: the discriminators' input
    objective: { kind: 'dpo', beta: 0.1 },
    ganpo: { weight: 1, kind: 'mlp', discriminator: { hiddenDims: [64] } },
    collate: { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: 32 },
    learningRate: 5e-4,
    batchSize: 8,
    totalSteps: steps,
  });
  const metrics = await trainer.train(pairs, {});
  for (const m of metrics) console.log(m.step, m.loss, m['rewards/accuracies'], m['ganpo/divergence']);
  trainer.dispose();
  reference.dispose();
  policy.dispose();
  return metrics.map((m) => m.loss);
}

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
    model: { policy, reference, latentDim: 32 }, // latentDim: size of forward(...).hidden
    data: { collate: { padTokenId: tok.padId, eosTokenId: tok.eosId, maxLength: 32 }, batchSize: 8 },
    training: { learningRate: 5e-4, totalSteps: steps },
    objective: { kind: 'dpo', beta: 0.1 },
    regularizer: { weight: 1, critic: { kind: 'mlp', hiddenDims: [64] } },
  });
  const metrics = await trainer.train(pairs, {});
  for (const m of metrics) console.log(m.step, m.loss, m['rewards/accuracies'], m['ganpo/divergence']);
  trainer.dispose();
  reference.dispose();
  policy.dispose();
  return metrics.map((m) => m.loss);
}

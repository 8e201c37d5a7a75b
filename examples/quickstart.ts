// README "Quickstart": TRL-format preference data → a small tfjs-layers language model → DPO + GANPO.
// Run it with `npx tsx quickstart.ts` (an ES module or CommonJS project alike: no top-level await).
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  ByteTokenizer,
  causalLMFromLayersModel,
  GanpoTrainer,
  parsePreferenceJsonl,
  tokenizePreferenceData,
} from 'ganpo';

// TRL's conversational preference format, one JSON object per line (a file: `readPreferenceJsonl`
// from 'ganpo/node').
const ask = (q: string, good: string, bad: string) =>
  JSON.stringify({
    prompt: [{ role: 'user', content: q }],
    chosen: [{ role: 'assistant', content: good }],
    rejected: [{ role: 'assistant', content: bad }],
  });
const jsonl = [
  ask('Colour of the sky?', 'Blue.', 'Green.'),
  ask('Colour of grass?', 'Green.', 'Blue.'),
  ask('2 + 2?', '4.', '5.'),
  ask('Capital of France?', 'Paris.', 'Rome.'),
  ask('Opposite of hot?', 'Cold.', 'Warm.'),
  ask('Legs on a cat?', 'Four.', 'Three.'),
  ask('Days in a week?', 'Seven.', 'Six.'),
  ask('Freezing point of water?', '0 °C.', '10 °C.'),
].join('\n');

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  const tokenizer = new ByteTokenizer(); // UTF-8 bytes + ChatML template; any Tokenizer works
  const { pairs, collate } = tokenizePreferenceData(parsePreferenceJsonl(jsonl).examples, tokenizer);
  // Any model whose forward gives logits; GANPO's latent is the output of `hiddenLayer`.
  const model = tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: tokenizer.vocabSize, outputDim: 32, inputShape: [null] }),
      tfl.layers.dense({ units: 32, activation: 'relu' }),
      tfl.layers.layerNormalization({ name: 'final_norm' }),
      tfl.layers.dense({ units: tokenizer.vocabSize }),
    ],
  });
  const policy = causalLMFromLayersModel(model, { hiddenLayer: 'final_norm' });
  const trainer = new GanpoTrainer({
    model: { policy, reference: 'initial', latentDim: 32 },
    data: { collate, batchSize: 4 },
    training: { learningRate: 1e-3, totalSteps: 10 },
    regularizer: { critic: { kind: 'mlp', hiddenDims: [64] } }, // a critic sized for a small model
  });
  for (const m of await trainer.train(pairs)) {
    console.log(`step ${m.step}  loss ${m.loss.toFixed(4)}  reward accuracy ${m['rewards/accuracies']}`);
  }
  trainer.dispose();
  policy.dispose();
}

main();

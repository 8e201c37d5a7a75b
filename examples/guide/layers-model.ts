// docs/guide.md, "Your own model": a tfjs-layers LM with an Embedding, trained with DPO + GANPO.
import * as tfl from '@tensorflow/tfjs-layers';
import { type CollateOptions, causalLMFromLayersModel, GanpoTrainer, type PreferencePair } from 'ganpo';

/** `data`: what loadPreferenceData (the TRL-data snippet) returns; `vocabSize`: the tokenizer's. */
export async function trainLayersModel(
  data: { pairs: PreferencePair[]; collate: CollateOptions },
  vocabSize: number,
  steps = 4,
) {
  const model = tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: vocabSize, outputDim: 32, inputShape: [null] }), // built: weights exist
      tfl.layers.dense({ units: 32, activation: 'relu' }),
      tfl.layers.layerNormalization({ name: 'final_norm' }), // the last hidden state
      tfl.layers.dense({ units: vocabSize }), // logits: no softmax
    ],
  });
  const policy = causalLMFromLayersModel(model, { hiddenLayer: 'final_norm' });
  const trainer = new GanpoTrainer({
    // reference 'initial': a snapshot of the policy's weights, no second model
    model: { policy, reference: 'initial', latentDim: 32 },
    data: { collate: data.collate, batchSize: 4 },
    training: { learningRate: 1e-3, totalSteps: steps },
    regularizer: { critic: { kind: 'mlp', hiddenDims: [64] } }, // sized for a small model
  });
  const metrics = await trainer.train(data.pairs);
  trainer.dispose(); // frees the snapshot and the discriminators, not your model
  policy.dispose();
  return { model, metrics };
}

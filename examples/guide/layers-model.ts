// docs/guide.md, "Your own model": a tfjs-layers LM with an Embedding, trained with DPO + GANPO.
import * as tfl from '@tensorflow/tfjs-layers';
import { causalLMFromLayersModel, GanpoTrainer, type PreferencePair } from 'ganpo';

export async function trainLayersModel(pairs: PreferencePair[], vocabSize: number, steps = 4) {
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
    data: { collate: { padTokenId: 0, eosTokenId: 1, maxLength: 64 }, batchSize: 4 },
    training: { learningRate: 1e-3, totalSteps: steps },
    regularizer: { critic: { kind: 'mlp', hiddenDims: [64] } }, // sized for a small model
  });
  const metrics = await trainer.train(pairs);
  trainer.dispose(); // frees the snapshot and the discriminators, not your model
  policy.dispose();
  return { model, metrics };
}

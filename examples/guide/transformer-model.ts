// docs/models.md: a GPT of your own built from ganpo's transformer layers, for GanpoTrainer or your loop.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { causalLMFromLayersModel } from 'ganpo';
import {
  Dense,
  LayerNorm,
  PositionEmbedding,
  TokenEmbedding,
  TransformerBlock,
  withLeanGradients,
} from 'ganpo/ops';

export interface GptConfig {
  vocabSize: number;
  dim: number;
  numLayers: number;
  numHeads: number;
  maxSeqLen: number;
}

/** ids [B,T] int32 → logits [B,T,V]; the layer 'final_norm' holds the last hidden state (the latent). */
export function buildGpt({ vocabSize, dim, numLayers, numHeads, maxSeqLen }: GptConfig): tfl.LayersModel {
  const ids = tfl.input({ shape: [null], dtype: 'int32' });
  const init = tfl.initializers.randomNormal({ mean: 0, stddev: 0.02 }); // GPT-2
  // tf.layers.embedding's arguments; on wasm a SIMD row copy instead of tfjs's gather
  const tokens = new TokenEmbedding({ inputDim: vocabSize, outputDim: dim, embeddingsInitializer: init });
  let x = new PositionEmbedding({ maxSeqLen }).apply(tokens.apply(ids)) as tfl.SymbolicTensor;
  for (let i = 0; i < numLayers; i++) {
    // causal by default; ganpo's fused attention, GEMM, LayerNorm and GELU kernels on wasm
    x = new TransformerBlock({ numHeads, numLayers }).apply(x) as tfl.SymbolicTensor;
  }
  const hidden = new LayerNorm({ name: 'final_norm' }).apply(x) as tfl.SymbolicTensor;
  const logits = new Dense({ units: vocabSize }).apply(hidden) as tfl.SymbolicTensor;
  return tfl.model({ inputs: ids, outputs: logits });
}

/** The same model as GanpoTrainer's `policy` (logits and latents from one forward pass). */
export const gptPolicy = (config: GptConfig) =>
  causalLMFromLayersModel(buildGpt(config), { hiddenLayer: 'final_norm' });

/** In your own loop: wrap the whole step so that backward passes free memory as they go. */
export function sftStep(model: tfl.LayersModel, optimizer: tf.Optimizer, ids: tf.Tensor2D): number {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = withLeanGradients(() =>
    optimizer.minimize(
      () => {
        const [b, t] = ids.shape;
        const logits = model.apply(ids, { training: true }) as tf.Tensor3D;
        const predicted = tf.slice(logits, [0, 0, 0], [b, t - 1, -1]);
        const next = tf.cast(tf.oneHot(tf.slice(ids, [0, 1], [b, t - 1]), logits.shape[2]), 'float32');
        return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(predicted), next), -1))) as tf.Scalar;
      },
      true,
      variables,
    ),
  );
  const value = (loss as tf.Scalar).dataSync()[0] as number;
  (loss as tf.Scalar).dispose();
  return value;
}

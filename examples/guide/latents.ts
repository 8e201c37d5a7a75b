// docs/guide.md, "Getting hidden states out of your model": the two latent extractors.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { findLayer, LatentView, LayerOutputHook } from 'ganpo';

// 1. Sequential or functional model: a multi-output view that shares the model's weights.
export function withLatentView(model: tfl.LayersModel, hiddenLayer: string, ids: tf.Tensor2D) {
  const view = new LatentView(model, hiddenLayer); // never disposes your weights
  const { outputs, latents } = view.apply(ids, { training: true }); // one forward pass
  return { logits: outputs[0] as tf.Tensor3D, hidden: latents[0] as tf.Tensor3D };
}

// 2. Nested models and custom layers: intercept the layer's call during the normal forward pass.
export function withHook(model: tfl.LayersModel, hiddenLayer: string, ids: tf.Tensor2D) {
  const hook = new LayerOutputHook(findLayer(model, hiddenLayer)); // searches nested models
  try {
    const logits = model.apply(ids, { training: true }) as tf.Tensor3D;
    const hidden = tf.clone(hook.last as tf.Tensor3D); // the hook owns its captures: copy what you keep
    hook.clear();
    return { logits, hidden };
  } finally {
    hook.remove(); // restores the layer's own call
  }
}

// `npm run demo`: the main job. Until the trainer and the end-to-end experiment land (see
// CHANGELOG), it runs the smallest working example: a stable log-sigmoid preference loss on toy
// margins, differentiated on the backend of your choice, so that a fresh checkout shows the
// pieces working together.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { logSigmoid, stopGradient } from '../src/index';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

async function main(): Promise<void> {
  await tf.setBackend(arg('backend') ?? 'wasm');
  await tf.ready();
  const beta = 0.1;
  const margins = tf.variable(tf.tensor1d([0, 10, 20]), true, 'margins');
  const lr = 50;
  for (let step = 0; step < (process.argv.includes('--quick') ? 3 : 10); step++) {
    const { value, grads } = tf.variableGrads(
      () => tf.neg(tf.mean(logSigmoid(tf.mul(margins, beta)))) as tf.Scalar,
      [margins],
    );
    const g = grads.margins as tf.Tensor;
    margins.assign(tf.tidy(() => tf.sub(margins, tf.mul(stopGradient(g), lr))));
    console.log(`step ${step}  loss ${value.dataSync()[0]?.toFixed(6)}  backend ${tf.getBackend()}`);
    tf.dispose([value, g]);
  }
  margins.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

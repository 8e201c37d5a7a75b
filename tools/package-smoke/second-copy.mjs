// `require('ganpo')` next to `import 'ganpo'` in one process loads two copies of ganpo (the CommonJS
// and the ES module build). A regularizer made by one and given to the other is refused with an
// error that names the second copy and what to do, not just "received object".
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as esm from 'ganpo';

const cjs = createRequire(import.meta.url)('ganpo');
await tf.setBackend('cpu');
cjs.setLogger(null);
const reg = new cjs.GanpoRegularizer({ latentDim: 4, critic: { kind: 'mlp', hiddenDims: [4] }, seed: 0 });
const h = tf.zeros([1, 2, 4]);
try {
  esm.ganpoLoss({
    regularizer: reg,
    preference: tf.scalar(0.5),
    policyChosenLatents: h,
    policyRejectedLatents: h,
    referenceChosenLatents: h,
    referenceRejectedLatents: h,
  });
  console.error('a regularizer of the CommonJS copy was accepted by the ES module copy');
  process.exit(1);
} catch (e) {
  if (!/from another copy of ganpo: this process has loaded ganpo 2 times/.test(e.message)) {
    console.error(`the error does not name the second copy: ${e.message}`);
    process.exit(1);
  }
}
console.log('require + import: the second copy is named in the error ok');

// Selects the tfjs backend for this vitest project (see vitest.config.ts). Library code never
// chooses a backend; tests do, exactly as a user's program would.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

const backend = process.env.GANPO_BACKEND ?? 'cpu';
if (backend === 'tensorflow') {
  await import('@tensorflow/tfjs-node' as string);
}
const ok = await tf.setBackend(backend);
if (!ok) throw new Error(`could not initialise tfjs backend '${backend}'`);
await tf.ready();

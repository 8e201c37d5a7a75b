// ESM twin of same-instance.cjs: `import 'ganpo'` and `import 'ganpo/node'` share one instance.
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as main from 'ganpo';
import * as node from 'ganpo/node';

await createRequire(import.meta.url)('./same-instance-checks.cjs')(tf, main, node, 'ESM');

// A child process that saves a checkpoint and SIGKILLs itself just before its n-th file-system
// write (open for writing, write, flush, close, rename, unlink, mkdir): the crash test's subject.
// Usage: node --import tsx crash-child.ts <fs|safetensors> <target> <n> <seed>
import { createRequire, syncBuiltinESMExports } from 'node:module';

const [mode, target, killAtText, seedText] = process.argv.slice(2);
const killAt = Number(killAtText);
const require = createRequire(import.meta.url);
const fsp = require('node:fs/promises') as Record<string, (...a: unknown[]) => Promise<unknown>>;
let count = 0;
const point = (name: string) => {
  count++;
  if (count === killAt) {
    process.stdout.write(`killed at ${count} ${name}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
};
const { open } = await import('node:fs/promises');
const probe = await open(process.argv[1] as string, 'r');
const handleProto = Object.getPrototypeOf(probe) as Record<string, (...a: unknown[]) => unknown>;
await probe.close();
for (const name of ['writeFile', 'write', 'sync', 'datasync', 'close'] as const) {
  const original = handleProto[name] as (...a: unknown[]) => unknown;
  handleProto[name] = function (this: unknown, ...a: unknown[]) {
    point(`handle.${name}`);
    return original.apply(this, a);
  };
}
for (const name of ['open', 'rename', 'unlink', 'mkdir', 'writeFile', 'rm'] as const) {
  const original = fsp[name] as (...a: unknown[]) => Promise<unknown>;
  fsp[name] = (...a: unknown[]) => {
    // Opening for reading is not a write point.
    if (name !== 'open' || (a[1] !== undefined && a[1] !== 'r' && typeof a[1] !== 'number')) point(name);
    return original(...a);
  };
}
syncBuiltinESMExports();

// The same weights and specs as `crashArtifacts(seed)` in the test.
const values = Float32Array.from({ length: 16 }, (_, i) => Number(seedText) * 100 + i);
count = 0;
if (mode === 'fs') {
  const { fileSystemHandler } = await import('../../src/io/fs-handler');
  await fileSystemHandler(target as string).save({
    modelTopology: { seed: Number(seedText) },
    weightSpecs: [{ name: 'w', shape: [4, 4], dtype: 'float32' }],
    weightData: values.buffer,
  });
} else {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  const { writeSafetensorsFile } = await import('../../src/io/safetensors-file');
  const w = tf.tensor(values, [4, 4]);
  count = 0;
  await writeSafetensorsFile(target as string, { w });
  w.dispose();
}
process.stdout.write(`done ${count}\n`);

// Reads every hostile file of a case list in a fresh process and reports, per case, the refusal and
// its CPU and wall time, and at the end how far the process's peak RSS rose over the warm-up's.
// Usage: node --expose-gc --import tsx cost-child.ts <cases.json> <scratch dir>
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { FileCase } from './hostile-files';

await tf.setBackend('cpu');
const ganpo = await import('ganpo/node');
const [casesPath, scratch] = process.argv.slice(2) as [string, string];
const cases = JSON.parse(readFileSync(casesPath, 'utf8')) as FileCase[];

const read = async (c: Pick<FileCase, 'kind' | 'path' | 'file'>) => {
  if (c.kind === 'folder') (await ganpo.MLPDiscriminator.load(ganpo.fileSystemHandler(c.path))).dispose();
  else if (c.kind === 'safetensors') tf.dispose(Object.values(await ganpo.readSafetensorsFile(c.path)));
  else await ganpo.readPreferenceJsonl(c.path, c.file as string);
};

// Warm-up: every reader once on a valid file, so that the baseline holds the code and tfjs.
const d = new ganpo.MLPDiscriminator({ latentDim: 8, hiddenDims: [16], seed: 1 });
await d.save(ganpo.fileSystemHandler(join(scratch, 'valid')));
const state = d.stateDict();
await ganpo.writeSafetensorsFile(join(scratch, 'valid.safetensors'), state);
tf.dispose(Object.values(state));
d.dispose();
for (let i = 0; i < 3; i++) {
  await read({ kind: 'folder', path: join(scratch, 'valid') });
  await read({ kind: 'safetensors', path: join(scratch, 'valid.safetensors') });
}
(globalThis as { gc?: () => void }).gc?.();
const baseline = process.resourceUsage().maxRSS;

const { gc } = globalThis as { gc?: () => void };
for (const c of cases) {
  // Each case starts from a collected heap, so that the peak is one case's, not the sum's.
  gc?.();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  let outcome: Record<string, unknown>;
  try {
    await read(c);
    outcome = { accepted: true };
  } catch (e) {
    const err = e as { name?: string; code?: string; argument?: string; message?: string };
    outcome = {
      error: err.name,
      code: err.code,
      argument: err.argument,
      message: err.message?.slice(0, 300),
    };
  }
  const used = process.cpuUsage(cpu);
  const rssRiseMB = (process.resourceUsage().maxRSS - baseline) / 1024;
  const line = {
    name: c.name,
    ...outcome,
    wallMs: performance.now() - t0,
    cpuMs: (used.user + used.system) / 1000,
    rssRiseMB,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
process.stdout.write(
  `${JSON.stringify({ rssRiseMB: (process.resourceUsage().maxRSS - baseline) / 1024 })}\n`,
);

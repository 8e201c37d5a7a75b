// Saves never destroy the last good checkpoint: a child process saving over a checkpoint is killed
// (SIGKILL, no cleanup) just before each of its file-system writes in turn, and the folder must
// then load as the old checkpoint or the new one, never as a mix and never not at all.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { fileSystemHandler, readSafetensorsFile, writeSafetensorsFile } from 'ganpo/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRefusal, hostileTally } from '../support/hostile';

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const tally = hostileTally('atomic saves');

const load = (dir: string) => fileSystemHandler(dir).load();
const save = (dir: string, artifacts: tf.io.ModelArtifacts) => fileSystemHandler(dir).save(artifacts);

/** The artifacts the crash child saves with `seed` (see crash-child.ts). */
function crashArtifacts(seed: number): tf.io.ModelArtifacts {
  const values = Float32Array.from({ length: 16 }, (_, i) => seed * 100 + i);
  return {
    modelTopology: { seed },
    weightSpecs: [{ name: 'w', shape: [4, 4], dtype: 'float32' }],
    weightData: values.buffer,
  };
}

/** Runs the crash child; resolves with how it ended: killed at a write point, or done after `n` writes. */
async function crashChild(mode: 'fs' | 'safetensors', target: string, killAt: number): Promise<string> {
  try {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', join(here, 'crash-child.ts'), mode, target, String(killAt), '2'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    return stdout.trim().split('\n').pop() as string;
  } catch (e) {
    const err = e as { signal?: string; stdout?: string };
    if (err.signal !== 'SIGKILL') throw e;
    return (err.stdout ?? '').trim().split('\n').pop() as string;
  }
}

/** The seed of the checkpoint a folder or file holds now (1 = old, 2 = new), checking it whole. */
async function savedSeed(mode: 'fs' | 'safetensors', target: string): Promise<number> {
  if (mode === 'fs') {
    const art = await load(target);
    const seed = (art.modelTopology as { seed: number }).seed;
    expect(Array.from(new Float32Array(art.weightData as ArrayBuffer))).toEqual(
      Array.from(new Float32Array(crashArtifacts(seed).weightData as ArrayBuffer)),
    );
    return seed;
  }
  const state = await readSafetensorsFile(target);
  const w = Array.from((state.w as tf.Tensor).dataSync());
  tf.dispose(Object.values(state));
  const seed = Math.floor((w[0] as number) / 100);
  expect(w).toEqual(Array.from(new Float32Array(crashArtifacts(seed).weightData as ArrayBuffer)));
  return seed;
}

/** The files of a folder other than model.json and one `weights.<hash>.bin`: leftovers. */
function leftovers(dir: string, target?: string): string[] {
  return readdirSync(dir).filter((n) =>
    target === undefined
      ? n !== 'model.json' && !/^weights\.[0-9a-f]{16}\.bin$/.test(n)
      : n.startsWith(`.${basename(target)}.`),
  );
}

/**
 * Kills a save at every write point (4 children at a time); returns the seed loaded after each.
 * After each crash, a save in this process must also succeed and clear what the crash left.
 */
async function killAtEveryPoint(
  mode: 'fs' | 'safetensors',
  root: string,
  template: string,
): Promise<number[]> {
  const seeds: number[] = [];
  for (let start = 1; ; start += 4) {
    const batch = [start, start + 1, start + 2, start + 3].map(async (k) => {
      const target = join(root, `${mode}-${k}${mode === 'fs' ? '' : '.safetensors'}`);
      cpSync(template, target, { recursive: true });
      const end = await crashChild(mode, target, k);
      return { k, end, seed: await savedSeed(mode, target), target };
    });
    for (const { k, end, seed, target } of await Promise.all(batch)) {
      if (end.startsWith('done')) {
        expect(seed, `completed save ${end}`).toBe(2);
        expect(mode === 'fs' ? leftovers(target) : leftovers(root, target)).toEqual([]);
        return seeds;
      }
      expect(end, `kill point ${k}`).toMatch(/^killed at \d+/);
      seeds.push(seed);
      if (mode === 'fs') {
        await save(target, crashArtifacts(3));
        expect(await savedSeed(mode, target)).toBe(3);
        expect(leftovers(target), `after the crash at ${end}, then a save`).toEqual([]);
      }
    }
  }
}

describe.runIf(tf.getBackend() === 'cpu')(
  'atomic saves: a crash at any write leaves the old or the new state',
  () => {
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), 'ganpo-crash-'));
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it('fileSystemHandler.save over a checkpoint, killed before each write', async () => {
      const template = join(root, 'template');
      await save(template, crashArtifacts(1));
      const seeds = await killAtEveryPoint('fs', root, template);
      // Every point was tried: the old checkpoint until model.json is renamed, the new one after.
      expect(seeds.length).toBeGreaterThanOrEqual(8);
      expect(seeds[0]).toBe(1);
      expect(seeds.at(-1)).toBe(2);
      const commit = seeds.indexOf(2);
      expect(seeds.slice(0, commit).every((s) => s === 1)).toBe(true);
      expect(seeds.slice(commit).every((s) => s === 2)).toBe(true);
    }, 240_000);

    it('writeSafetensorsFile over a file, killed before each write', async () => {
      const template = join(root, 'template.safetensors');
      const w = tf.tensor(new Float32Array(crashArtifacts(1).weightData as ArrayBuffer), [4, 4]);
      await writeSafetensorsFile(template, { w });
      w.dispose();
      const seeds = await killAtEveryPoint('safetensors', root, template);
      expect(seeds.length).toBeGreaterThanOrEqual(4);
      expect(seeds[0]).toBe(1);
      expect(seeds.every((s) => s === 1 || s === 2)).toBe(true);
    }, 240_000);

    it('a model.json paired with another save’s weights is refused (the SHA-256 it lists)', async () => {
      const a = join(root, 'pair-a');
      const b = join(root, 'pair-b');
      await save(a, crashArtifacts(1));
      await save(b, crashArtifacts(2));
      const name = (dir: string) => readdirSync(dir).find((n) => n.endsWith('.bin')) as string;
      // B's weights under the name A's model.json lists: same size, other bytes.
      cpSync(join(b, name(b)), join(a, name(a)));
      await expectRefusal(tally, () => load(a), 'INVALID_FORMAT', {
        argument: 'weightsManifest[0].sha256',
      });
      const json = JSON.parse(readFileSync(join(b, 'model.json'), 'utf8'));
      for (const sha256 of ['0'.repeat(63), 'x'.repeat(64), 7]) {
        json.weightsManifest[0].sha256 = sha256;
        writeFileSync(join(b, 'model.json'), JSON.stringify(json));
        await expectRefusal(tally, () => load(b), 'INVALID_FORMAT', {
          argument: 'weightsManifest[0].sha256',
        });
      }
    });

    it('saving over the earlier layout (weights.bin) removes it once model.json is replaced', async () => {
      const dir = join(root, 'legacy');
      await save(dir, crashArtifacts(1));
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      const bin = json.weightsManifest[0].paths[0];
      cpSync(join(dir, bin), join(dir, 'weights.bin'));
      rmSync(join(dir, bin));
      json.weightsManifest = [{ paths: ['weights.bin'], weights: json.weightsManifest[0].weights }];
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      expect(await savedSeed('fs', dir)).toBe(1);
      await save(dir, crashArtifacts(2));
      expect(await savedSeed('fs', dir)).toBe(2);
      expect(readdirSync(dir).sort()).toEqual([
        'model.json',
        expect.stringMatching(/^weights\.[0-9a-f]{16}\.bin$/),
      ]);
    });
  },
);

// Only regular files inside the folder are read, and every path refusal reads the same wherever the
// path came from: a manifest (fileSystemHandler) or a caller (readPreferenceJsonl).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  fileSystemHandler,
  MLPDiscriminator,
  readPreferenceJsonl,
  readSafetensorsFile,
  writeSafetensorsFile,
} from 'ganpo/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRefusal, hostileTally } from '../support/hostile';

const tally = hostileTally('files and paths');
const ROW = '{"prompt": "p", "chosen": "a", "rejected": "b"}\n';

/** A FIFO at `path` (mkfifo(1)); opening it for reading would block until a writer comes. */
function fifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

describe.runIf(process.platform !== 'win32')(
  'only regular files: FIFOs, devices, folders refused without blocking',
  () => {
    let root: string;
    let ckpt: string;
    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), 'ganpo-files-'));
      ckpt = join(root, 'ckpt');
      const d = new MLPDiscriminator({ latentDim: 4, hiddenDims: [3], seed: 1 });
      await d.save(fileSystemHandler(ckpt));
      d.dispose();
      fifo(join(root, 'data.fifo'));
      fifo(join(root, 'model.fifo'));
      mkdirSync(join(root, 'folder.jsonl'));
      symlinkSync('/dev/zero', join(root, 'zero.jsonl'));
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it('readPreferenceJsonl: a FIFO, a folder, a link to a device', async () => {
      for (const file of ['data.fifo', 'folder.jsonl', 'zero.jsonl']) {
        await expectRefusal(tally, () => readPreferenceJsonl(root, file), 'INVALID_ARGUMENT', {
          argument: 'file',
          maxMs: 2000,
        });
      }
    });

    it('readSafetensorsFile: a FIFO, a folder, a device', async () => {
      for (const path of [join(root, 'data.fifo'), root, '/dev/zero', '/dev/null']) {
        await expectRefusal(tally, () => readSafetensorsFile(path), 'INVALID_FORMAT', {
          argument: 'path',
          maxMs: 2000,
        });
      }
    });

    it('fileSystemHandler: model.json or a weight file that is a FIFO or a folder', async () => {
      const json = JSON.parse(readFileSync(join(ckpt, 'model.json'), 'utf8'));
      const dir = join(root, 'fifo-ckpt');
      mkdirSync(dir);
      fifo(join(dir, 'model.json'));
      await expectRefusal(tally, () => MLPDiscriminator.load(fileSystemHandler(dir)), 'INVALID_FORMAT', {
        argument: 'dir',
        maxMs: 2000,
      });
      fifo(join(ckpt, 'w.fifo'));
      mkdirSync(join(ckpt, 'w.dir'));
      for (const path of ['w.fifo', 'w.dir']) {
        writeFileSync(
          join(ckpt, 'model.json'),
          JSON.stringify({ ...json, weightsManifest: [{ ...json.weightsManifest[0], paths: [path] }] }),
        );
        await expectRefusal(tally, () => MLPDiscriminator.load(fileSystemHandler(ckpt)), 'INVALID_FORMAT', {
          argument: 'weightsManifest[0].paths[0]',
          maxMs: 2000,
        });
      }
      writeFileSync(join(ckpt, 'model.json'), JSON.stringify(json));
    });
  },
);

describe('one path check: the same rules and the same words everywhere', () => {
  let root: string;
  let ckpt: string;
  let json: { weightsManifest: { paths: string[]; weights: unknown[] }[] };
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'ganpo-paths-'));
    ckpt = join(root, 'ckpt');
    const d = new MLPDiscriminator({ latentDim: 4, hiddenDims: [3], seed: 1 });
    await d.save(fileSystemHandler(ckpt));
    d.dispose();
    json = JSON.parse(readFileSync(join(ckpt, 'model.json'), 'utf8'));
    writeFileSync(join(root, 'outside.jsonl'), ROW);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const withPath = (path: string) => {
    const [group] = json.weightsManifest;
    const bin = readFileSync(join(ckpt, group?.paths[0] as string));
    writeFileSync(join(ckpt, path.replace(/^\.\//, '')), bin, { flag: 'w' });
    writeFileSync(
      join(ckpt, 'model.json'),
      JSON.stringify({ ...json, weightsManifest: [{ paths: [path], weights: group?.weights }] }),
    );
  };

  it('names that start with two dots are inside the folder: ..weights.bin, ..train.jsonl', async () => {
    withPath('..weights.bin');
    const d = await MLPDiscriminator.load(fileSystemHandler(ckpt));
    d.dispose();
    writeFileSync(join(ckpt, '..train.jsonl'), ROW);
    expect((await readPreferenceJsonl(ckpt, '..train.jsonl')).examples).toHaveLength(1);
    writeFileSync(join(ckpt, '...'), ROW);
    expect((await readPreferenceJsonl(ckpt, '...')).examples).toHaveLength(1);
  });

  it('the same refusals, worded the same, from a manifest and from a caller', async () => {
    symlinkSync(join(root, 'outside.jsonl'), join(ckpt, 'link.out'));
    const cases: [string, RegExp][] = [
      ['../outside.jsonl', /\(outside the folder\)$/],
      ['sub/../../outside.jsonl', /\(outside the folder\)$/],
      ['..', /\(outside the folder\)$/],
      ['.', /\(the folder itself\)$/],
      ['sub/..', /\(the folder itself\)$/],
      [join(root, 'outside.jsonl'), /\(an absolute path\)$/],
      ['', /\(an empty path\)$/],
      ['a\0b', /\(a NUL character\)$/],
      ['link.out', /\(a symbolic link to outside the folder\)$/],
      ['missing.bin', /\(ENOENT\)$/],
    ];
    for (const [path, reason] of cases) {
      withPath('weights.bin');
      writeFileSync(
        join(ckpt, 'model.json'),
        JSON.stringify({ ...json, weightsManifest: [{ ...json.weightsManifest[0], paths: [path] }] }),
      );
      const fromManifest = await expectRefusal(
        tally,
        () => fileSystemHandler(ckpt).load(),
        'INVALID_FORMAT',
        {
          argument: 'weightsManifest[0].paths[0]',
        },
      );
      const fromCaller = await expectRefusal(
        tally,
        () => readPreferenceJsonl(ckpt, path),
        'INVALID_ARGUMENT',
        {
          argument: 'file',
        },
      );
      expect(fromManifest.expected).toBe(`a relative path to a regular file inside the folder '${ckpt}'`);
      expect(fromCaller.expected).toBe(fromManifest.expected);
      expect(fromCaller.received).toBe(fromManifest.received);
      expect(fromCaller.received, path).toMatch(reason);
    }
  });

  it('saves into a folder that cannot exist: GanpoError naming the path, never a raw ENOENT/ENOTDIR', async () => {
    writeFileSync(join(root, 'a-file'), 'x');
    const d = new MLPDiscriminator({ latentDim: 4, hiddenDims: [3], seed: 1 });
    const state = d.stateDict();
    try {
      for (const dir of [join(root, 'a-file'), join(root, 'a-file', 'sub')]) {
        const err = await expectRefusal(tally, () => d.save(fileSystemHandler(dir)), 'INVALID_ARGUMENT', {
          argument: 'dir',
        });
        expect(err.received).toMatch(/\((ENOTDIR|EEXIST)\)$/);
      }
      for (const path of [join(root, 'missing', 'x.safetensors'), join(root, 'a-file', 'x.safetensors')]) {
        const err = await expectRefusal(tally, () => writeSafetensorsFile(path, state), 'INVALID_ARGUMENT', {
          argument: 'path',
        });
        expect(err.received).toMatch(/\((ENOENT|ENOTDIR)\)$/);
      }
      await expectRefusal(tally, () => writeSafetensorsFile(root, state), 'INVALID_ARGUMENT', {
        argument: 'path',
      });
    } finally {
      tf.dispose(Object.values(state));
      d.dispose();
    }
  });
});

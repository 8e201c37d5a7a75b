// Node-only: imported by the `ganpo/node` entry, never by the browser-safe main entry.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { type Folder, openFolder, type PathContext, quote, resolveInFolder } from './folder-path';
import { countJsonKeys, JsonScanner } from './json-scan';
import {
  type FileError,
  readExactly,
  readWhole,
  removeStale,
  withRegularFile,
  writeError,
  writeFileAtomic,
} from './node-files';
import { weightSpecsByteLength } from './weight-specs';

const MODEL_JSON = 'model.json';
const WHERE = 'fileSystemHandler';
const CONTEXT: PathContext = { where: WHERE, code: 'INVALID_FORMAT' };

/** Weight files this handler writes: named by the first 64 bits of their SHA-256. */
const WEIGHTS_FILE = /^weights\.[0-9a-f]{16}\.bin$/;
/** The single weight file of earlier versions (and of tfjs-node's own handler). */
const LEGACY_WEIGHTS = 'weights.bin';

/**
 * Limits of a folder {@link fileSystemHandler} loads, all checked before the data they bound is
 * read or parsed:
 *
 * - `maxBytes` 16 MiB of `model.json` (a discriminator's is a few KB; a tfjs-layers GPT-2 topology
 *   with its manifest is under 1 MB), checked with `fstat` before reading;
 * - `maxDepth` 64 levels of JSON nesting (tfjs layer topologies nest about ten deep),
 *   `maxKeys` 32 768 object keys and `maxValues` 262 144 JSON values (a GPT-2-size tfjs-layers
 *   topology with its manifest has a few thousand of each), checked while reading, before
 *   `JSON.parse`, so a hostile `model.json` is refused after reading only up to the excess (keys
 *   matter most: V8 spends a hidden class on each new sequence of keys `JSON.parse` meets);
 * - `maxWeightFiles` 1 024 manifest paths (tfjs shards weights in 4 MB files: 1 024 shards hold
 *   4 GB) and `maxWeightBytes` 1 GiB of weights in all (a discriminator holds at most 256 MiB,
 *   `DISCRIMINATOR_LIMITS.maxParameters`), checked from the files' sizes before any is read.
 */
export const MODEL_JSON_LIMITS = Object.freeze({
  maxBytes: 16_777_216,
  maxDepth: 64,
  maxKeys: 32_768,
  maxValues: 262_144,
  maxWeightFiles: 1024,
  maxWeightBytes: 1_073_741_824,
});

/**
 * A `tf.io.IOHandler` that saves to / loads from a directory on disk with plain `node:fs` — no
 * tfjs-node needed (in plain Node, tfjs has no `file://` handler). Layout is tfjs's own
 * (`model.json` with a weights manifest, and the weight file it lists), so tfjs-node can read it.
 *
 * Saving never destroys the last good checkpoint: the weights go to a new file named by their
 * SHA-256 (`weights.<16 hex>.bin`), written to a temporary name, flushed and renamed; `model.json`,
 * which lists that file and its full SHA-256, is written last the same way. A crash at any point
 * leaves the previous checkpoint or the new one, complete; the weight files the new `model.json`
 * no longer lists are removed after it is in place. One process should save into a folder at a
 * time.
 *
 * Loading treats the folder as untrusted: nothing outside `dir` is read (manifest paths that are
 * absolute, climb out with `..` or lead through a symbolic link out of the folder are refused, as
 * is anything but a regular file), each file is listed once, the sizes, nesting and value counts
 * of `MODEL_JSON_LIMITS` (docs/security.md) hold, and the weight files hold exactly the bytes the manifest
 * describes, all checked before a weight file is read; a weight group carrying a `sha256` must
 * match it (so a `model.json` paired with another save's weights is refused). Missing, truncated
 * or malformed files throw `GanpoError('INVALID_FORMAT')`.
 *
 * @param dir - directory path (created on save).
 * @throws GanpoError('INVALID_ARGUMENT') from `save` when `dir` cannot be created or written
 *   (a parent that is a file, no permission); other system errors (a full disk) are rethrown as is.
 * @example `await disc.save(fileSystemHandler('./ckpt/d_chosen'))`
 */
export function fileSystemHandler(
  dir: string,
): tf.io.IOHandler & Required<Pick<tf.io.IOHandler, 'save' | 'load'>> {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new GanpoError(
      'INVALID_ARGUMENT',
      `fileSystemHandler: 'dir' expected a path, received ${String(dir)}`,
      {
        argument: 'dir',
        expected: 'a path',
        received: String(dir),
      },
    );
  }
  return {
    save: (artifacts: tf.io.ModelArtifacts) => saveToDirectory(dir, artifacts),
    load: () => loadFromDirectory(dir),
  };
}

async function saveToDirectory(dir: string, artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
  const data = artifacts.weightData;
  const weights = new Uint8Array(
    data === undefined
      ? new ArrayBuffer(0)
      : Array.isArray(data)
        ? tf.io.CompositeArrayBuffer.join(data)
        : data,
  );
  const sha256 = createHash('sha256').update(weights).digest('hex');
  const weightsName = `weights.${sha256.slice(0, 16)}.bin`;
  const { weightData: _w, weightSpecs, ...rest } = artifacts;
  const json = {
    ...rest,
    weightsManifest: [{ paths: [weightsName], weights: weightSpecs ?? [], sha256 }],
  };
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw writeError(WHERE, 'dir', dir, e);
  }
  await writeFileAtomic(WHERE, 'dir', join(dir, weightsName), weights);
  // The commit point: until this rename, the old model.json still lists the old weights.
  await writeFileAtomic(WHERE, 'dir', join(dir, MODEL_JSON), new TextEncoder().encode(JSON.stringify(json)));
  await removeStale(dir, {
    stale: (name) => (WEIGHTS_FILE.test(name) || name === LEGACY_WEIGHTS) && name !== weightsName,
    written: (name) => name === MODEL_JSON || WEIGHTS_FILE.test(name),
  });
  return {
    modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: weights.buffer }),
  };
}

function refuse(argument: string, expected: string, received: string): GanpoError {
  return argumentError('INVALID_FORMAT', WHERE, argument, expected, received);
}

/** model.json, read in chunks and scanned as it arrives (refused at the first exceeded bound), parsed. */
async function readModelJson(folder: Folder): Promise<Record<string, unknown>> {
  const { real } = await resolveInFolder(CONTEXT, folder, MODEL_JSON, 'dir');
  const fail: FileError = (expected, received) => refuse(MODEL_JSON, expected, received);
  const scanner = new JsonScanner(MODEL_JSON_LIMITS, fail);
  const text = await withRegularFile(real, fail, async (file) => {
    if (file.size > MODEL_JSON_LIMITS.maxBytes) {
      throw refuse(
        'dir',
        `a ${MODEL_JSON} of at most ${MODEL_JSON_LIMITS.maxBytes} bytes`,
        `${file.size} bytes`,
      );
    }
    return readWhole(file, fail, (chunk) => scanner.scanBytes(chunk));
  });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text));
  } catch (e) {
    throw refuse(MODEL_JSON, 'JSON', `unparseable JSON (${(e as Error).message.slice(0, 120)})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw refuse(MODEL_JSON, 'a JSON object', Array.isArray(json) ? 'an array' : String(json));
  }
  if (countJsonKeys(json) !== scanner.keys) {
    throw refuse(MODEL_JSON, 'JSON without duplicate keys', 'a key given twice');
  }
  return json as Record<string, unknown>;
}

/** A weight group of the manifest: its files (checked, each listed once) and the SHA-256 it claims. */
interface WeightGroup {
  files: { real: string; size: number; argument: string }[];
  sha256?: string;
}

/**
 * The manifest's groups with every path resolved and checked before any weight byte is read:
 * inside the folder, a regular file, no file listed twice (by device and inode, so neither
 * `./weights.bin` nor a hard link passes for a second file), at most
 * `MODEL_JSON_LIMITS` (docs/security.md).maxWeightFiles paths and maxWeightBytes bytes in all.
 */
async function checkManifest(
  folder: Folder,
  manifest: unknown,
): Promise<{ groups: WeightGroup[]; specs: unknown[]; bytes: number }> {
  if (!Array.isArray(manifest)) throw refuse('weightsManifest', 'an array of groups', typeof manifest);
  const shaped = manifest.map((group, g) => {
    const { paths, weights, sha256 } = (group ?? {}) as {
      paths?: unknown;
      weights?: unknown;
      sha256?: unknown;
    };
    if (!Array.isArray(paths) || !Array.isArray(weights)) {
      throw refuse(`weightsManifest[${g}]`, '{ paths: string[], weights: [] }', typeof group);
    }
    if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))) {
      throw refuse(`weightsManifest[${g}].sha256`, 'a SHA-256 in 64 hex digits', quote(String(sha256)));
    }
    return { paths, weights, sha256 };
  });
  const count = shaped.reduce((n, group) => n + group.paths.length, 0);
  if (count > MODEL_JSON_LIMITS.maxWeightFiles) {
    throw refuse(
      'weightsManifest',
      `at most ${MODEL_JSON_LIMITS.maxWeightFiles} weight files`,
      `${count} paths`,
    );
  }
  const seen = new Map<string, string>();
  const groups: WeightGroup[] = [];
  let bytes = 0;
  for (const [g, { paths, sha256 }] of shaped.entries()) {
    const files: WeightGroup['files'] = [];
    for (const [k, path] of paths.entries()) {
      const argument = `weightsManifest[${g}].paths[${k}]`;
      const file = await resolveInFolder(CONTEXT, folder, path, argument);
      const id = `${file.dev}:${file.ino}`;
      const first = seen.get(id);
      if (first !== undefined) {
        throw refuse(
          argument,
          'each weight file listed once',
          `${quote(String(path))} (the file of ${first})`,
        );
      }
      seen.set(id, argument);
      bytes += file.size;
      if (bytes > MODEL_JSON_LIMITS.maxWeightBytes) {
        throw refuse(
          'weightsManifest',
          `at most ${MODEL_JSON_LIMITS.maxWeightBytes} weight bytes`,
          `more, at ${argument}`,
        );
      }
      files.push({ real: file.real, size: file.size, argument });
    }
    groups.push(sha256 === undefined ? { files } : { files, sha256 });
  }
  return { groups, specs: shaped.flatMap((group) => group.weights), bytes };
}

/**
 * Loads `dir/model.json` and its weight files, treating them as untrusted (see
 * {@link fileSystemHandler}): model.json bounded before it is parsed, every manifest path checked,
 * the weight specs checked (fixed-size dtypes, unique names) and their byte total compared with the
 * files' sizes, all before any weight file is read; each group's SHA-256 verified when present.
 */
async function loadFromDirectory(dir: string): Promise<tf.io.ModelArtifacts> {
  const folder = await openFolder(CONTEXT, 'dir', dir, `a checkpoint folder with ${MODEL_JSON}`);
  const { weightsManifest, ...rest } = await readModelJson(folder);
  const { groups, specs, bytes } = await checkManifest(folder, weightsManifest ?? []);
  const rules = { dtypes: ['float32', 'int32', 'bool', 'complex64'], quantization: true };
  const need = weightSpecsByteLength(WHERE, specs, bytes, rules);
  if (need !== bytes) {
    throw refuse(
      'weightsManifest',
      `weight files of ${need} bytes in all`,
      `${bytes} bytes (truncated or padded)`,
    );
  }
  const data = new Uint8Array(bytes);
  let at = 0;
  for (const [g, group] of groups.entries()) {
    const start = at;
    for (const f of group.files) {
      const fail: FileError = (expected, received) => refuse(f.argument, expected, received);
      await withRegularFile(f.real, fail, async (file) => {
        if (file.size !== f.size) throw fail(`${f.size} bytes (its size when checked)`, `${file.size}`);
        await readExactly(file, data.subarray(at, at + f.size), fail);
      });
      at += f.size;
    }
    const sha256 = group.sha256;
    if (
      sha256 !== undefined &&
      createHash('sha256').update(data.subarray(start, at)).digest('hex') !== sha256
    ) {
      throw refuse(
        `weightsManifest[${g}].sha256`,
        `weight files whose SHA-256 is ${sha256.slice(0, 16)}…`,
        'other bytes (weights of another save, or damaged)',
      );
    }
  }
  return { ...rest, weightSpecs: specs, weightData: data.buffer } as tf.io.ModelArtifacts;
}

let registered = false;

/**
 * Registers `file://<dir>` save/load routers backed by {@link fileSystemHandler}, so
 * `disc.save('file://./ckpt')` and `TransformerDiscriminator.load('file://./ckpt')` work in plain
 * Node. Idempotent. (With tfjs-node also loaded, its own `file://` router may take precedence.)
 *
 * @example
 * ```ts
 * registerFileSystemRouter();
 * await disc.save('file://./ckpt/d_chosen');
 * const again = await TransformerDiscriminator.load('file://./ckpt/d_chosen');
 * ```
 */
export function registerFileSystemRouter(): void {
  if (registered) return;
  registered = true;
  // tf.io routers return null for URLs they do not handle (the typings omit it).
  const route = ((url: string | string[]): tf.io.IOHandler | null =>
    typeof url === 'string' && url.startsWith('file://')
      ? fileSystemHandler(url.slice('file://'.length))
      : null) as Parameters<typeof tf.io.registerSaveRouter>[0];
  tf.io.registerSaveRouter(route);
  tf.io.registerLoadRouter(route);
}

// Node-only: imported by the `ganpo/node` entry, never by the browser-safe main entry.
import { mkdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative as relative_, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { scanJson } from './json-scan';
import { readSafetensors, writeSafetensors } from './safetensors';
import { weightSpecsByteLength } from './weight-specs';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
const WHERE = 'fileSystemHandler';

/**
 * A `tf.io.IOHandler` that saves to / loads from a directory on disk with plain `node:fs` — no
 * tfjs-node needed (in plain Node, tfjs has no `file://` handler). Layout is tfjs's own
 * (`model.json` with a weights manifest + `weights.bin`), so tfjs-node can read it too.
 *
 * Loading treats the folder as untrusted: nothing outside `dir` is read (manifest paths that are
 * absolute, escape with `..` or lead through a symbolic link out of the folder are refused), the
 * model.json size and nesting are bounded ({@link MODEL_JSON_LIMITS}), and the weight files must
 * hold exactly the bytes the manifest describes, all checked before a weight file is read. Missing,
 * truncated or malformed files throw `GanpoError('INVALID_FORMAT')`.
 *
 * @param dir - directory path (created on save).
 * @example `await disc.save(fileSystemHandler('./ckpt/d_chosen'))`
 */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
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
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      await mkdir(dir, { recursive: true });
      const data = artifacts.weightData;
      const weights =
        data === undefined
          ? new ArrayBuffer(0)
          : Array.isArray(data)
            ? tf.io.CompositeArrayBuffer.join(data)
            : data;
      const { weightData: _w, weightSpecs, ...rest } = artifacts;
      const json = { ...rest, weightsManifest: [{ paths: [WEIGHTS_BIN], weights: weightSpecs ?? [] }] };
      await writeFile(join(dir, WEIGHTS_BIN), new Uint8Array(weights));
      await writeFile(join(dir, MODEL_JSON), JSON.stringify(json));
      return {
        modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: weights }),
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      return loadFromDirectory(dir);
    },
  };
}

/**
 * Largest `model.json` the handler reads: 100 MB (the safetensors header limit), and its deepest
 * nesting: 64 levels (tfjs layer topologies nest about ten deep). Both are checked before parsing.
 */
export const MODEL_JSON_LIMITS = Object.freeze({ maxBytes: 100_000_000, maxDepth: 64 });

function refuse(argument: string, expected: string, received: string): GanpoError {
  return argumentError('INVALID_FORMAT', WHERE, argument, expected, received);
}

/**
 * The real path of `dir/relative`, refused unless it stays inside `root` (the real path of the
 * checkpoint folder): no absolute paths, no `..` escaping it, no symbolic link pointing out of it.
 */
async function insideFolder(root: string, dir: string, relative: unknown, argument: string): Promise<string> {
  if (
    typeof relative !== 'string' ||
    relative.length === 0 ||
    relative.includes('\0') ||
    isAbsolute(relative)
  ) {
    throw refuse(
      argument,
      'a relative path inside the checkpoint folder',
      JSON.stringify(relative)?.slice(0, 80) ?? 'undefined',
    );
  }
  const lexical = relative_(resolve(dir), resolve(dir, relative));
  if (lexical === '' || lexical.startsWith('..') || isAbsolute(lexical)) {
    throw refuse(argument, 'a path inside the checkpoint folder', `'${relative.slice(0, 80)}' (outside it)`);
  }
  let real: string;
  let stats: Awaited<ReturnType<typeof stat>>;
  try {
    real = await realpath(resolve(dir, relative));
    stats = await stat(real);
  } catch (e) {
    throw refuse(
      argument,
      `a readable file '${relative.slice(0, 80)}'`,
      (e as NodeJS.ErrnoException).code ?? 'an error',
    );
  }
  const fromRoot = relative_(root, real);
  if (fromRoot === '' || fromRoot.startsWith('..') || isAbsolute(fromRoot)) {
    throw refuse(
      argument,
      'a file inside the checkpoint folder',
      `'${relative.slice(0, 80)}' (a link out of it)`,
    );
  }
  if (!stats.isFile()) throw refuse(argument, 'a regular file', `'${relative.slice(0, 80)}'`);
  return real;
}

/**
 * Loads `dir/model.json` and its weight files, treating them as untrusted: size and nesting of
 * model.json checked before parsing ({@link MODEL_JSON_LIMITS}), every manifest path resolved and
 * refused unless it stays inside `dir`, the weight specs checked (fixed-size dtypes, unique names)
 * and their byte total compared with the files' sizes before any weight file is read.
 */
async function loadFromDirectory(dir: string): Promise<tf.io.ModelArtifacts> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch (e) {
    throw refuse(
      'dir',
      `a checkpoint folder with ${MODEL_JSON}`,
      `${dir} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  const jsonPath = await insideFolder(root, dir, MODEL_JSON, 'dir');
  const size = (await stat(jsonPath)).size;
  if (size > MODEL_JSON_LIMITS.maxBytes) {
    throw refuse('dir', `a ${MODEL_JSON} of at most ${MODEL_JSON_LIMITS.maxBytes} bytes`, `${size} bytes`);
  }
  const text = new Uint8Array(await readFile(jsonPath));
  scanJson(WHERE, text, MODEL_JSON_LIMITS.maxDepth, MODEL_JSON);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text));
  } catch (e) {
    throw refuse(MODEL_JSON, 'JSON', `unparseable JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw refuse(MODEL_JSON, 'a JSON object', Array.isArray(json) ? 'an array' : String(json));
  }
  const { weightsManifest, ...rest } = json as { weightsManifest?: unknown };
  const manifest = weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw refuse('weightsManifest', 'an array of groups', typeof manifest);
  const specs: unknown[] = [];
  const files: { path: string; size: number }[] = [];
  for (const [g, group] of manifest.entries()) {
    const { paths, weights } = (group ?? {}) as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(paths) || !Array.isArray(weights)) {
      throw refuse(`weightsManifest[${g}]`, '{ paths: string[], weights: [] }', typeof group);
    }
    specs.push(...weights);
    for (const [k, p] of paths.entries()) {
      const real = await insideFolder(root, dir, p, `weightsManifest[${g}].paths[${k}]`);
      files.push({ path: real, size: (await stat(real)).size });
    }
  }
  const available = files.reduce((a, f) => a + f.size, 0);
  const rules = { dtypes: ['float32', 'int32', 'bool', 'complex64'], quantization: true };
  const need = weightSpecsByteLength(WHERE, specs, available, rules);
  if (need !== available) {
    throw refuse(
      'weightsManifest',
      `weight files of ${need} bytes in all`,
      `${available} bytes (truncated or padded)`,
    );
  }
  const data = new Uint8Array(available);
  let at = 0;
  for (const f of files) {
    const b = await readFile(f.path);
    if (b.byteLength !== f.size)
      throw refuse('weightsManifest', `${f.size} bytes in ${f.path}`, `${b.byteLength}`);
    data.set(b, at);
    at += b.byteLength;
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

/**
 * Reads a `.safetensors` file into tensors (see `readSafetensors`); caller disposes.
 *
 * @example
 * ```ts
 * const state = await readSafetensorsFile('d_chosen.safetensors');
 * disc.loadStateDict(state);
 * tf.dispose(Object.values(state));
 * ```
 */
export async function readSafetensorsFile(path: string): Promise<Record<string, tf.Tensor>> {
  if (typeof path !== 'string' || path.length === 0) {
    throw argumentError('INVALID_ARGUMENT', 'readSafetensorsFile', 'path', 'a file path', String(path));
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw argumentError(
      'INVALID_FORMAT',
      'readSafetensorsFile',
      'path',
      'a readable file',
      `${path} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  return readSafetensors(bytes);
}

/**
 * Writes tensors as a `.safetensors` file (see `writeSafetensors`).
 *
 * @example
 * ```ts
 * const state = disc.stateDict();
 * await writeSafetensorsFile('d_chosen.safetensors', state, { format: 'pt' });
 * tf.dispose(Object.values(state));
 * ```
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, tf.Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFile(path, writeSafetensors(tensors, metadata));
}

// Node-only: imported by the `ganpo/node` entry, never by the browser-safe main entry.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GanpoError } from '../core/errors';
import { readSafetensors, writeSafetensors } from './safetensors';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

/**
 * A `tf.io.IOHandler` that saves to / loads from a directory on disk with plain `node:fs` — no
 * tfjs-node needed (in plain Node, tfjs has no `file://` handler). Layout is tfjs's own
 * (`model.json` with a weights manifest + `weights.bin`), so tfjs-node can read it too.
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
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
      } catch (e) {
        throw new GanpoError(
          'INVALID_FORMAT',
          `fileSystemHandler: 'dir' expected ${MODEL_JSON} in ${dir}, received ${(e as Error).message}`,
          {
            argument: 'dir',
            expected: `a readable ${MODEL_JSON}`,
            received: (e as Error).message,
          },
        );
      }
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const b = await readFile(join(dir, p));
          buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
        }
      }
      const { weightsManifest: _m, ...rest } = json;
      return {
        ...rest,
        weightSpecs: specs,
        weightData: tf.io.CompositeArrayBuffer.join(buffers),
      } as tf.io.ModelArtifacts;
    },
  };
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
  return readSafetensors(new Uint8Array(await readFile(path)));
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

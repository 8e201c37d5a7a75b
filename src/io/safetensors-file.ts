// Node-only: imported by the `ganpo/node` entry, never by the browser-safe main entry.
import { realpath } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { quote } from './folder-path';
import {
  assertNotGrown,
  type FileError,
  readRange,
  removeStale,
  withRegularFile,
  writeFileAtomic,
} from './node-files';
import { tensorsOf, writeSafetensors } from './safetensors';
import { headerLength, parseHeaderBytes } from './safetensors-header';

const READ = 'readSafetensorsFile';
const WRITE = 'writeSafetensorsFile';

/**
 * Reads a `.safetensors` file into tensors (see `readSafetensors`); caller disposes.
 *
 * The file is read in steps, each checked before the next is read: it must be a regular file
 * (checked with `lstat`/`fstat` before any read, so a FIFO or device is refused, never waited on);
 * its first 8 bytes give a header length within the limit and the file; the header (at most
 * 25 MB) is read and checked whole (nesting, tensor count, array lengths, dtypes, shapes, byte
 * ranges); only then is the data read. A hostile file costs at most its header.
 *
 * @throws GanpoError('INVALID_ARGUMENT') when `path` is not a non-empty string;
 *   `INVALID_FORMAT` when it is missing, not a regular file, changes while read, or holds anything
 *   `readSafetensors` refuses.
 * @example
 * ```ts
 * const state = await readSafetensorsFile('d_chosen.safetensors');
 * disc.loadStateDict(state);
 * tf.dispose(Object.values(state));
 * ```
 */
export async function readSafetensorsFile(path: string): Promise<Record<string, tf.Tensor>> {
  if (typeof path !== 'string' || path.length === 0) {
    throw argumentError('INVALID_ARGUMENT', READ, 'path', 'a file path', String(path));
  }
  const fail: FileError = (expected, received) =>
    argumentError('INVALID_FORMAT', READ, 'path', expected, received);
  let real: string;
  try {
    real = await realpath(path);
  } catch (e) {
    throw fail('a readable file', `${quote(path)} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  return withRegularFile(real, fail, async (file) => {
    const buf = new Uint8Array(file.size);
    await readRange(file, buf, 0, Math.min(8, file.size), fail);
    const headerLen = headerLength(READ, buf.subarray(0, 8), file.size);
    await readRange(file, buf, 8, 8 + headerLen, fail);
    const { entries } = parseHeaderBytes(READ, buf.subarray(8, 8 + headerLen), file.size - 8 - headerLen);
    await readRange(file, buf, 8 + headerLen, file.size, fail);
    await assertNotGrown(file, fail);
    return tensorsOf(READ, buf, entries);
  });
}

/**
 * Writes tensors as a `.safetensors` file (see `writeSafetensors`), atomically: to a temporary file
 * in the same folder, flushed, then renamed over `path`, so a crash leaves the previous file or the
 * new one, never a mix. The folder must exist.
 *
 * @throws GanpoError('INVALID_ARGUMENT') when `path` is not a non-empty string or cannot be written
 *   (a missing folder, a parent that is a file, no permission), and everything `writeSafetensors`
 *   throws; other system errors (a full disk) are rethrown as they are.
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
  if (typeof path !== 'string' || path.length === 0) {
    throw argumentError('INVALID_ARGUMENT', WRITE, 'path', 'a file path', String(path));
  }
  await writeFileAtomic(WRITE, 'path', path, writeSafetensors(tensors, metadata));
  const name = basename(path);
  await removeStale(dirname(path), { stale: () => false, written: (n) => n === name });
}

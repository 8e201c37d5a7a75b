// Node-only: imported by the `ganpo/node` entry, never by the browser-safe main entry.
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { argumentError } from '../core/errors';
import { type JsonlLimits, type PreferenceJsonl, parsePreferenceJsonl, resolveJsonlLimits } from './jsonl';

/** True when `child` is `parent` itself or inside it (both already resolved, real paths). */
function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Reads a TRL-format preference JSONL file (see {@link parsePreferenceJsonl}) from inside the folder
 * `root`, and nowhere else: `file` is a path relative to `root`; an absolute path, a `..` that climbs
 * out, or a symbolic link whose target lies outside `root` is refused before anything is read. The
 * file must be a regular file of at most `limits.maxBytes` bytes (checked before reading; a
 * file that grows while it is read is refused).
 *
 * @param root - the folder the data lives in.
 * @param file - the file's path relative to `root`, e.g. `'train.jsonl'` or `'hh/test.jsonl'`.
 * @param limits - size limits (defaults in {@link JsonlLimits}).
 * @throws GanpoError `INVALID_ARGUMENT` (a path outside `root`, not a file, unreadable),
 *   `OUT_OF_RANGE` (too large), and everything {@link parsePreferenceJsonl} throws, with line numbers.
 * @example
 * ```ts
 * const { examples } = await readPreferenceJsonl('./data', 'train.jsonl');
 * const { pairs, eosTokenId } = tokenizePreferenceData(examples, tokenizer);
 * ```
 */
export async function readPreferenceJsonl(
  root: string,
  file: string,
  limits?: JsonlLimits,
): Promise<PreferenceJsonl> {
  const where = 'readPreferenceJsonl';
  const lim = resolveJsonlLimits(limits, where);
  if (typeof root !== 'string' || root.length === 0) {
    throw argumentError('INVALID_ARGUMENT', where, 'root', 'a folder path', String(root));
  }
  if (typeof file !== 'string' || file.length === 0 || file.includes('\0')) {
    throw argumentError('INVALID_ARGUMENT', where, 'file', 'a path relative to root', String(file));
  }
  if (isAbsolute(file)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'file',
      'a path relative to root',
      `absolute path ${file}`,
    );
  }
  let realRoot: string;
  try {
    realRoot = await realpath(resolve(root));
  } catch (e) {
    throw argumentError('INVALID_ARGUMENT', where, 'root', 'an existing folder', (e as Error).message);
  }
  const lexical = resolve(realRoot, file);
  if (!inside(realRoot, lexical)) {
    throw argumentError('INVALID_ARGUMENT', where, 'file', `a path inside ${root}`, file);
  }
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (e) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'file',
      'an existing file inside root',
      (e as Error).message,
    );
  }
  if (!inside(realRoot, real)) {
    throw argumentError('INVALID_ARGUMENT', where, 'file', `a file inside ${root}`, `a link to ${real}`);
  }
  const handle = await open(real, 'r');
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw argumentError('INVALID_ARGUMENT', where, 'file', 'a regular file', file);
    }
    if (stat.size > lim.maxBytes) {
      throw argumentError(
        'OUT_OF_RANGE',
        where,
        'file',
        `at most ${lim.maxBytes} bytes`,
        `${stat.size} bytes`,
      );
    }
    // Read at most size + 1 bytes: one byte more than stat saw means the file grew meanwhile.
    const buf = new Uint8Array(stat.size + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > stat.size) {
      throw argumentError('INVALID_ARGUMENT', where, 'file', 'a file that does not change while read', file);
    }
    return parsePreferenceJsonl(buf.subarray(0, n), lim);
  } finally {
    await handle.close();
  }
}

// Node-only: imported by the `ganpo/node` entry, never by the browser-safe main entry.
import { argumentError } from '../core/errors';
import { openFolder, type PathContext, resolveInFolder } from '../io/folder-path';
import { type FileError, readWhole, withRegularFile } from '../io/node-files';
import { type JsonlLimits, type PreferenceJsonl, parsePreferenceJsonl, resolveJsonlLimits } from './jsonl';

/**
 * Reads a TRL-format preference JSONL file (see {@link parsePreferenceJsonl}) from inside the folder
 * `root`, and nowhere else: `file` is a path relative to `root`; an absolute path, a `..` that climbs
 * out, or a symbolic link whose target lies outside `root` is refused before anything is read (a
 * name such as `..train.jsonl` inside the folder is fine). The file must be a regular file, checked
 * with `lstat` before it is opened and `fstat` after (a FIFO or device is refused, never waited on),
 * of at most `limits.maxBytes` bytes (checked before reading; a file that changes while it is read
 * is refused).
 *
 * @param root - the folder the data lives in.
 * @param file - the file's path relative to `root`, e.g. `'train.jsonl'` or `'hh/test.jsonl'`.
 * @param limits - size limits (defaults in {@link JsonlLimits}).
 * @throws GanpoError `INVALID_ARGUMENT` (a path outside `root`, not a regular file, unreadable),
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
  const ctx: PathContext = { where, code: 'INVALID_ARGUMENT' };
  const folder = await openFolder(ctx, 'root', root, 'an existing folder');
  const { real } = await resolveInFolder(ctx, folder, file, 'file');
  const fail: FileError = (expected, received) =>
    argumentError('INVALID_ARGUMENT', where, 'file', expected, received);
  const bytes = await withRegularFile(real, fail, async (opened) => {
    if (opened.size > lim.maxBytes) {
      throw argumentError(
        'OUT_OF_RANGE',
        where,
        'file',
        `at most ${lim.maxBytes} bytes`,
        `${opened.size} bytes`,
      );
    }
    return readWhole(opened, fail);
  });
  return parsePreferenceJsonl(bytes, lim);
}

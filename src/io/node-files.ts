// Node-only: imported by the `ganpo/node` entry, never by the browser-safe main entry.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { argumentError, GanpoError } from '../core/errors';
import { quote } from './folder-path';

/** Builds the refusal of a file (`expected`, `received` in words). */
export type FileError = (expected: string, received: string) => GanpoError;

/**
 * Read-only, and never blocking: `O_NONBLOCK` makes an open of a FIFO return at once (it would
 * otherwise wait for a writer forever) so that `fstat` can refuse it; `O_NOFOLLOW` refuses a
 * symbolic link swapped in after the path was resolved. Both are 0 where the platform lacks them.
 */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);

/** Bytes read per call, so that a scanner sees a hostile file's first megabyte before the rest is read. */
const CHUNK = 1 << 20;

/** An open regular file and the size `fstat` gave when it was opened. */
export interface RegularFile {
  handle: FileHandle;
  size: number;
}

/**
 * Opens `path` for reading only if it is a regular file, checked with `lstat` before the open and
 * with `fstat` on the opened descriptor (same device and inode), so no FIFO, device or folder is
 * ever read and none swapped in between is either. Runs `fn` on it and closes it on every path.
 */
export async function withRegularFile<T>(
  path: string,
  fail: FileError,
  fn: (file: RegularFile) => Promise<T>,
): Promise<T> {
  let before: Awaited<ReturnType<typeof lstat>>;
  let handle: FileHandle;
  try {
    before = await lstat(path);
    if (!before.isFile()) throw fail('a regular file', `${quote(path)} (${kindOf(before)})`);
    handle = await open(path, READ_FLAGS);
  } catch (e) {
    if (e instanceof GanpoError) throw e;
    throw fail(
      'a readable regular file',
      `${quote(path)} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  try {
    const now = await handle.stat();
    if (!now.isFile() || now.dev !== before.dev || now.ino !== before.ino) {
      throw fail('a regular file that is not replaced while read', quote(path));
    }
    return await fn({ handle, size: now.size });
  } finally {
    await handle.close();
  }
}

function kindOf(stats: { isDirectory(): boolean; isFIFO(): boolean; isSymbolicLink(): boolean }): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/**
 * Reads bytes `[from, to)` of `file` into the same positions of `buf`, at most 1 MiB per call,
 * handing each chunk to `onChunk` as soon as it is read (a scanner refuses there, before the rest
 * is read). A file that ends early (it shrank after `fstat`) is refused.
 */
export async function readRange(
  file: RegularFile,
  buf: Uint8Array,
  from: number,
  to: number,
  fail: FileError,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<void> {
  let at = from;
  while (at < to) {
    const { bytesRead } = await file.handle.read(buf, at, Math.min(CHUNK, to - at), at);
    if (bytesRead === 0) throw fail('a file that does not change while read', `${at} of ${to} bytes`);
    onChunk?.(buf.subarray(at, at + bytesRead));
    at += bytesRead;
  }
}

/** Refuses a file that grew past the size `fstat` gave (it changed while it was read). */
export async function assertNotGrown(file: RegularFile, fail: FileError): Promise<void> {
  const { bytesRead } = await file.handle.read(new Uint8Array(1), 0, 1, file.size);
  if (bytesRead !== 0) throw fail('a file that does not change while read', 'more bytes than its size');
}

/** The whole file into `into` (exactly its size), refused if the file changes meanwhile. */
export async function readExactly(
  file: RegularFile,
  into: Uint8Array,
  fail: FileError,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<void> {
  if (into.byteLength !== file.size) throw fail(`${into.byteLength} bytes`, `${file.size}`);
  await readRange(file, into, 0, file.size, fail, onChunk);
  await assertNotGrown(file, fail);
}

/** The whole file, read in chunks (each passed to `onChunk`), refused if it changes meanwhile. */
export async function readWhole(
  file: RegularFile,
  fail: FileError,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<Uint8Array> {
  const buf = new Uint8Array(file.size);
  await readExactly(file, buf, fail, onChunk);
  return buf;
}

/** errno codes that mean the path given cannot be written (rather than the machine failing). */
const PATH_ERRNOS = new Set([
  'ENOENT',
  'ENOTDIR',
  'EISDIR',
  'EEXIST',
  'EACCES',
  'EPERM',
  'EROFS',
  'ENAMETOOLONG',
  'ELOOP',
]);

/**
 * A `GanpoError('INVALID_ARGUMENT')` for an error caused by the path (a missing or non-folder
 * parent, no permission, a read-only file system, …); any other error (a full disk, an I/O
 * failure) is returned unchanged, for the caller to rethrow as it is.
 */
export function writeError(where: string, argument: string, path: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code !== 'string' || !PATH_ERRNOS.has(code)) return e;
  return argumentError(
    'INVALID_ARGUMENT',
    where,
    argument,
    'a writable path in an existing folder',
    `${quote(path)} (${code})`,
  );
}

/** Name of the temporary file a write of `name` goes through (recognised by {@link removeStale}). */
function temporaryName(name: string): string {
  return `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}
const TEMPORARY = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/**
 * Writes `data` to `path` atomically: to a temporary file in the same folder, flushed to disk
 * (`fsync`), then renamed over `path`, and the folder flushed too. A crash at any moment leaves
 * either the old file or the new one, never a mix; a failed write removes its temporary file.
 *
 * @throws GanpoError('INVALID_ARGUMENT') when the path cannot be written (see {@link writeError}).
 */
export async function writeFileAtomic(
  where: string,
  argument: string,
  path: string,
  data: Uint8Array,
): Promise<void> {
  const folder = dirname(path);
  const tmp = join(folder, temporaryName(basename(path)));
  let written = false;
  try {
    const handle = await open(tmp, 'wx');
    written = true;
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    written = false;
    await syncFolder(folder);
  } catch (e) {
    if (written) await unlink(tmp).catch(() => {});
    throw writeError(where, argument, path, e);
  }
}

/**
 * Flushes a folder's entries (a rename is durable only once its folder is). Platforms that cannot
 * open or flush a folder (Windows) skip it.
 */
async function syncFolder(folder: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(folder, constants.O_RDONLY);
    await handle.sync();
  } catch {
    // Not supported here; the rename itself is still atomic.
  } finally {
    await handle?.close();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Which files of a folder {@link removeStale} removes. */
export interface StaleFiles {
  /** Files no longer in use (for example weights a new manifest no longer lists). */
  stale: (name: string) => boolean;
  /** Names this writer writes: their temporary files left by a crashed process are removed too. */
  written: (name: string) => boolean;
}

/**
 * Removes, from `folder`, the stale files and the temporary files of {@link writeFileAtomic} that a
 * crashed process left (never those of a live one). Best effort: a file that cannot be removed stays.
 */
export async function removeStale(folder: string, which: StaleFiles): Promise<void> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return;
  }
  for (const name of names) {
    const tmp = TEMPORARY.exec(name);
    const pid = tmp ? Number(tmp[2]) : 0;
    const stale = tmp
      ? which.written(tmp[1] as string) && (pid === process.pid || !isAlive(pid))
      : which.stale(name);
    if (stale) await unlink(join(folder, name)).catch(() => {});
  }
}

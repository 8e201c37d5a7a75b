// Node-only: imported by the `ganpo/node` entry, never by the browser-safe main entry.
import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { argumentError, type GanpoError, type GanpoErrorCode } from '../core/errors';

/** A folder files are read from: the path as the caller gave it (for messages) and its real path. */
export interface Folder {
  given: string;
  real: string;
}

/** Who asks, with which code a refusal is reported (a caller's argument, or a path inside a file). */
export interface PathContext {
  where: string;
  code: GanpoErrorCode;
}

/** `'text'` for a message: at most 80 characters, control characters escaped. */
export function quote(text: string): string {
  return `'${JSON.stringify(text.slice(0, 80)).slice(1, -1)}'`;
}

/** The one wording of every path refusal, wherever the path came from. */
function pathError(ctx: PathContext, argument: string, folder: Folder, received: string): GanpoError {
  return argumentError(
    ctx.code,
    ctx.where,
    argument,
    `a relative path to a regular file inside the folder ${quote(folder.given)}`,
    received,
  );
}

/** True when `rel` (from `path.relative(folder, x)`) names something strictly inside the folder. */
function strictlyInside(rel: string): boolean {
  // `..weights.bin` is a name inside the folder; only `..` itself or `../…` climbs out.
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** Resolves `dir` to its real path, refusing one that does not exist or is not a folder. */
export async function openFolder(
  ctx: PathContext,
  argument: string,
  dir: string,
  expected: string,
): Promise<Folder> {
  try {
    const real = await realpath(resolve(dir));
    if ((await lstat(real)).isDirectory()) return { given: dir, real };
    throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
  } catch (e) {
    throw argumentError(
      ctx.code,
      ctx.where,
      argument,
      expected,
      `${quote(dir)} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
}

/**
 * The real path of `folder/path`, refused unless it is a regular file strictly inside the folder:
 * `path` must be a non-empty relative string without NUL; lexically it may not climb out with `..`
 * (a name such as `..weights.bin` is fine); its real path, after every symbolic link, must still
 * lie inside the folder's real path; and `lstat` must show a regular file (never a FIFO, a device
 * or a folder, whose open or read could block). Every refusal reads the same, naming `argument`.
 */
export async function resolveInFolder(
  ctx: PathContext,
  folder: Folder,
  path: unknown,
  argument: string,
): Promise<{ real: string; size: number; dev: number; ino: number }> {
  if (typeof path !== 'string') {
    const received = path === null ? 'null' : Array.isArray(path) ? 'an array' : typeof path;
    throw pathError(ctx, argument, folder, received);
  }
  if (path.length === 0) throw pathError(ctx, argument, folder, "'' (an empty path)");
  if (path.includes('\0')) throw pathError(ctx, argument, folder, `${quote(path)} (a NUL character)`);
  if (isAbsolute(path)) throw pathError(ctx, argument, folder, `${quote(path)} (an absolute path)`);
  const lexical = relative(folder.real, resolve(folder.real, path));
  if (lexical === '') throw pathError(ctx, argument, folder, `${quote(path)} (the folder itself)`);
  if (!strictlyInside(lexical)) throw pathError(ctx, argument, folder, `${quote(path)} (outside the folder)`);
  let real: string;
  let stats: Awaited<ReturnType<typeof lstat>>;
  try {
    real = await realpath(resolve(folder.real, path));
    stats = await lstat(real);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw pathError(ctx, argument, folder, `${quote(path)} (${code})`);
  }
  if (!strictlyInside(relative(folder.real, real))) {
    throw pathError(ctx, argument, folder, `${quote(path)} (a symbolic link to outside the folder)`);
  }
  if (!stats.isFile()) {
    const kind = stats.isDirectory() ? 'a folder' : stats.isFIFO() ? 'a FIFO' : 'not a regular file';
    throw pathError(ctx, argument, folder, `${quote(path)} (${kind})`);
  }
  return { real, size: stats.size, dev: stats.dev, ino: stats.ino };
}

import { argumentError } from './errors';

/** Levenshtein distance between two short strings (option names). */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** The allowed name closest to `key` (case-insensitive edit distance), or `undefined` when none is close. */
export function nearestKey(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of allowed) {
    const d = editDistance(key, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  // A name counts as "meant" within a third of its length (at least 2 edits): 'wieght' → 'weight'.
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/**
 * Refuses an options object with a key outside `allowed` (a misspelt option would otherwise be
 * ignored silently). Keys whose value is `undefined` count too: `{ wieght: undefined }` is a typo
 * all the same. `path` prefixes the key in the error (e.g. `'training.'`). Always on.
 *
 * @throws GanpoError `INVALID_OPTION` naming the first unknown key, the nearest valid one
 *   ("did you mean 'weight'?") when there is one, and the valid keys otherwise.
 */
export function assertKnownKeys(where: string, options: object, allowed: readonly string[], path = ''): void {
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const near = nearestKey(key, allowed);
    throw argumentError(
      'INVALID_OPTION',
      where,
      `${path}${key}`,
      near !== undefined
        ? `a known option (did you mean '${path}${near}'?)`
        : `one of the options ${allowed.map((k) => `'${k}'`).join(', ')}`,
      'an unknown option',
    );
  }
}

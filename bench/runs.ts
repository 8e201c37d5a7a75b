// Which recorded runs of `npm run bench` still have rows in bench/results.json. A full run writes every
// suite; a partial run (`--only`) replaces the rows of the suites it ran (all of them, or, under
// `--backends`, only those of its backends). So a suite's rows come from the last run of it without a
// backend filter and any filtered runs after it; every older run of that suite left no row behind.
// bench/run.ts keeps only the live runs in the file and bench/report.ts lists them, so the page's
// "Machine and runs" names exactly the runs its tables come from.

/** What bench/run.ts records of one run (the full run's fields sit at the top of `meta`). */
export type RunMeta = Record<string, unknown>;

const suitesOf = (run: RunMeta): string[] => (Array.isArray(run.suites) ? (run.suites as string[]) : []);

/**
 * The runs that still contribute rows, given the suites that have rows now.
 *
 * @param meta - results.json's `meta`: the full run's fields and `partialRuns` in the order they ran.
 * @param suites - the suites present in the rows.
 * @returns `full`: whether some suite's rows still come from the full run; `partial`: the partial
 *   runs that still contribute, in their order.
 */
export function liveRuns(meta: RunMeta, suites: Iterable<string>): { full: boolean; partial: RunMeta[] } {
  const partial = (meta.partialRuns as RunMeta[] | undefined) ?? [];
  const live = new Set<number>();
  let full = false;
  for (const suite of suites) {
    let replaced = false;
    for (let i = partial.length - 1; i >= 0 && !replaced; i--) {
      const run = partial[i] as RunMeta;
      if (!suitesOf(run).includes(suite)) continue;
      live.add(i);
      replaced = run.backends === undefined;
    }
    if (!replaced) full = true;
  }
  return { full, partial: partial.filter((_, i) => live.has(i)) };
}

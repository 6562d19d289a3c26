// "Did you mean ...?" for unknown names. Edit distance with swaps, and a
// case-only difference counted as the closest possible miss, since `b` for
// `B` is the most common slip with dimension names.

/** Optimal-string-alignment distance: Levenshtein plus adjacent swaps (`adma` -> `adam` is one edit). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/**
 * The known name nearest to `name`, if it is close enough to be a plausible
 * typo: at most one edit for short names, a third of the length for longer
 * ones. Ties go to the earlier candidate, so callers list the most relevant
 * names (locals before globals) first.
 */
export function nearest(name: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    if (c === name) continue;
    const score =
      c.toLowerCase() === name.toLowerCase()
        ? 0.5
        : editDistance(name.toLowerCase(), c.toLowerCase());
    if (score <= limit && score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

/** The `help:` text for an unknown name, or undefined when nothing is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const n = nearest(name, candidates);
  return n === undefined ? undefined : `did you mean \`${n}\`?`;
}

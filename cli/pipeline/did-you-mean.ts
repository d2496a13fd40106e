/**
 * Edit distance with adjacent transpositions (optimal string alignment): `temprature` is one
 * step from `temperature`, `hte` one from `the`, as a typo usually is.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate `word` was most likely meant to be, or undefined when none is close: a case-only
 * difference wins, else the smallest edit distance within a third of the word (at most 3; none
 * for words under 3 characters), so `x` never "means" `y`.
 *
 * @example closest('temprature', ['deviceId', 'temperature', 'humidity']) // 'temperature'
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const list = [...new Set(candidates)].filter((c) => c !== word);
  const lower = word.toLowerCase();
  const sameCase = list.find((c) => c.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  const limit = Math.min(3, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of list) {
    const distance = editDistance(lower, c.toLowerCase());
    if (distance <= limit && distance < bestDistance) { best = c; bestDistance = distance; }
  }
  return best;
}

/** `; did you mean <x>?` when a candidate is close, else ''. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closest(word, candidates);
  return match === undefined ? '' : `; did you mean ${match}?`;
}

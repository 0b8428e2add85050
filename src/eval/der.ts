/**
 * Diarisation error rate as pyannote.metrics defines it (Bredin, "pyannote.metrics: a toolkit for
 * reproducible evaluation, diagnostic, and error analysis of speaker diarization systems",
 * Interspeech 2017): (false alarm + missed detection + confusion) / total reference speech, under
 * the one-to-one mapping of hypothesis to reference speakers that maximises their overlap, with a
 * forgiveness collar around every reference boundary left out of the count (`collar` is the
 * total width, as in pyannote: half on each side). Overlapped reference speech counts once per
 * speaker. Evaluated on a 10 ms grid.
 */

export interface Turn {
  readonly start: number;
  readonly end: number;
  readonly speaker: string;
}

export interface DerResult {
  readonly der: number;
  readonly falseAlarm: number;
  readonly missed: number;
  readonly confusion: number;
  /** Reference speech scored, in seconds (after the collar). */
  readonly total: number;
  /** Hypothesis label → reference label. */
  readonly mapping: ReadonlyMap<string, string>;
}

const STEP = 0.01;

function grid(turns: readonly Turn[], frames: number, labels: string[]): Uint8Array[] {
  return labels.map((l) => {
    const a = new Uint8Array(frames);
    for (const t of turns) {
      if (t.speaker !== l) continue;
      for (
        let i = Math.max(0, Math.round(t.start / STEP));
        i < Math.min(frames, Math.round(t.end / STEP));
        i++
      )
        a[i] = 1;
    }
    return a;
  });
}

/**
 * Best one-to-one assignment of rows to columns maximising total weight: the Hungarian method
 * (Kuhn 1955; the O(n³) potentials form) on the matrix padded to a square with zeros.
 * Returns the column of each row, or −1 for a row left unassigned (matched to padding).
 */
export function bestMapping(w: readonly (readonly number[])[]): number[] {
  const rows = w.length;
  const cols = w[0]?.length ?? 0;
  const n = Math.max(rows, cols);
  if (n === 0) return [];
  let max = 0;
  for (const r of w) for (const x of r) max = Math.max(max, x);
  // minimise cost = max − weight (padding costs max: weight 0)
  const cost = (i: number, j: number): number => (i < rows && j < cols ? max - w[i]![j]! : max);
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const p = new Int32Array(n + 1);
  const way = new Int32Array(n + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(n + 1).fill(Infinity);
    const used = new Uint8Array(n + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = cost(i0 - 1, j - 1) - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[p[j]!]! += delta;
          v[j]! -= delta;
        } else minv[j]! -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const out = new Array<number>(rows).fill(-1);
  for (let j = 1; j <= n; j++) {
    const i = p[j]! - 1;
    if (i >= 0 && i < rows && j - 1 < cols && w[i]![j - 1]! > 0) out[i] = j - 1;
  }
  return out;
}

export function diarisationErrorRate(
  reference: readonly Turn[],
  hypothesis: readonly Turn[],
  collar = 0.25,
): DerResult {
  const end = Math.max(0, ...reference.map((t) => t.end), ...hypothesis.map((t) => t.end));
  const frames = Math.ceil(end / STEP) + 1;
  const refLabels = [...new Set(reference.map((t) => t.speaker))];
  const hypLabels = [...new Set(hypothesis.map((t) => t.speaker))];
  const ref = grid(reference, frames, refLabels);
  const hyp = grid(hypothesis, frames, hypLabels);
  const scored = new Uint8Array(frames).fill(1);
  const half = Math.round(collar / 2 / STEP);
  for (const t of reference) {
    for (const edge of [t.start, t.end]) {
      const c = Math.round(edge / STEP);
      for (let i = Math.max(0, c - half); i < Math.min(frames, c + half); i++) scored[i] = 0;
    }
  }
  const w = hypLabels.map((_, h) =>
    refLabels.map((_, r) => {
      let n = 0;
      for (let i = 0; i < frames; i++) if (scored[i] && hyp[h]![i] && ref[r]![i]) n++;
      return n;
    }),
  );
  const map = bestMapping(w);
  let total = 0;
  let fa = 0;
  let miss = 0;
  let conf = 0;
  for (let i = 0; i < frames; i++) {
    if (!scored[i]) continue;
    let nRef = 0;
    let nHyp = 0;
    let correct = 0;
    for (let r = 0; r < refLabels.length; r++) nRef += ref[r]![i]!;
    for (let h = 0; h < hypLabels.length; h++) {
      if (!hyp[h]![i]) continue;
      nHyp++;
      const m = map[h]!;
      if (m >= 0 && ref[m]![i]) correct++;
    }
    total += nRef;
    miss += Math.max(0, nRef - nHyp);
    fa += Math.max(0, nHyp - nRef);
    conf += Math.min(nRef, nHyp) - correct;
  }
  const mapping = new Map<string, string>();
  map.forEach((m, h) => {
    if (m >= 0) mapping.set(hypLabels[h]!, refLabels[m]!);
  });
  return {
    der: total > 0 ? (fa + miss + conf) / total : 0,
    falseAlarm: fa * STEP,
    missed: miss * STEP,
    confusion: conf * STEP,
    total: total * STEP,
    mapping,
  };
}

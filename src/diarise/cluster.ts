/**
 * Clustering window embeddings into speakers, their number not known in advance: agglomerative
 * hierarchical clustering with average linkage on cosine distance, cut at a threshold (the
 * standard back end of x-vector diarisation, e.g. Sell et al., "Diarization is hard: some
 * experiences and lessons learned for the JHU team in the inaugural DIHARD challenge",
 * Interspeech 2018). Merges are found with the nearest-neighbour chain algorithm (Murtagh,
 * "A survey of recent advances in hierarchical clustering algorithms", The Computer Journal
 * 26(4), 1983), O(n²) time and memory; average linkage is reducible, so cutting the dendrogram at
 * the threshold equals applying every merge whose height is at most the threshold.
 *
 * Windows first merge into runs of adjacent, near-identical windows (a speaker's turn). Up to
 * MAX_ITEMS runs are clustered at once. More (recordings over about half an hour) are clustered in
 * blocks of BLOCK_ITEMS consecutive runs, and the blocks' clusters, as weighted centroids, are
 * clustered again at the same threshold: memory stays within MAX_ITEMS² distances and time grows
 * linearly with the recording, while every window keeps its say (no run is merged with a voice it
 * does not resemble, which lowering the runs' similarity threshold instead would do).
 */

/** Items (runs of windows) clustered at once at most: 2,000² float32 distances are 16 MB. */
export const MAX_ITEMS = 2000;
/** Runs per block when there are more than MAX_ITEMS. */
export const BLOCK_ITEMS = 1000;
/** Similarity of a window to its run's centroid for the two to be one item. */
const RUN_SIMILARITY = 0.95;

export interface Item {
  /** Unit-length centroid. */
  readonly centroid: Float32Array;
  /** Windows it stands for. */
  readonly weight: number;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function normalised(v: Float64Array): Float32Array {
  return normalisedInto(v, new Float32Array(v.length));
}

function normalisedInto(v: Float64Array, out: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / n;
  return out;
}

/**
 * Runs of consecutive embeddings whose similarity to the run's centroid is at least `minSim`;
 * returns each embedding's run index and the runs.
 */
export function mergeRuns(
  embeddings: readonly Float32Array[],
  minSim: number,
): { runOf: Int32Array; runs: Item[] } {
  const runOf = new Int32Array(embeddings.length);
  const runs: Item[] = [];
  let sum: Float64Array | null = null;
  let count = 0;
  // the run's unit centroid, rewritten in place: a long recording has tens of thousands of windows
  const unit = new Float32Array(embeddings[0]?.length ?? 0);
  const close = (): void => {
    if (sum) runs.push({ centroid: normalised(sum), weight: count });
  };
  for (let i = 0; i < embeddings.length; i++) {
    const e = embeddings[i]!;
    if (sum && dot(normalisedInto(sum, unit), e) >= minSim) {
      for (let k = 0; k < e.length; k++) sum[k]! += e[k]!;
      count++;
    } else {
      close();
      sum = Float64Array.from(e);
      count = 1;
    }
    runOf[i] = runs.length;
  }
  close();
  return { runOf, runs };
}

/**
 * Average-linkage clustering of weighted items, cut at cosine distance `maxDistance`
 * (1 − similarity). Returns a cluster index per item, clusters numbered by first appearance.
 */
export function agglomerate(items: readonly Item[], maxDistance: number, scratch?: Float32Array): Int32Array {
  const n = items.length;
  const labels = new Int32Array(n);
  if (n <= 1) return labels;
  // a caller clustering many blocks lends one matrix to all of them
  const dist = scratch && scratch.length >= n * n ? scratch.subarray(0, n * n) : new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = 1 - dot(items[i]!.centroid, items[j]!.centroid);
      dist[i * n + j] = d;
      dist[j * n + i] = d;
    }
  }
  const size = Float64Array.from(items, (it) => it.weight);
  const active = new Uint8Array(n).fill(1);
  const merges: { a: number; b: number; h: number }[] = [];
  const chain: number[] = [];
  let remaining = n;
  while (remaining > 1) {
    if (chain.length === 0) chain.push(active.indexOf(1));
    for (;;) {
      const a = chain[chain.length - 1]!;
      const prev = chain.length > 1 ? chain[chain.length - 2]! : -1;
      let best = -1;
      let bestD = Infinity;
      for (let k = 0; k < n; k++) {
        if (k === a || active[k] === 0) continue;
        const d = dist[a * n + k]!;
        // ties go to the chain's previous element, which guarantees termination
        if (d < bestD || (d === bestD && k === prev)) {
          bestD = d;
          best = k;
        }
      }
      if (best === prev) {
        chain.pop();
        chain.pop();
        // merge a and prev into prev (Lance–Williams for average linkage)
        const [keep, gone] = prev < a ? [prev, a] : [a, prev];
        merges.push({ a: keep, b: gone, h: bestD });
        const sk = size[keep]!;
        const sg = size[gone]!;
        for (let k = 0; k < n; k++) {
          if (active[k] === 0 || k === keep || k === gone) continue;
          const d = (sk * dist[keep * n + k]! + sg * dist[gone * n + k]!) / (sk + sg);
          dist[keep * n + k] = d;
          dist[k * n + keep] = d;
        }
        size[keep] = sk + sg;
        active[gone] = 0;
        remaining--;
        break;
      }
      chain.push(best);
    }
  }
  // Cut: union the merges at or below the threshold, in height order.
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  merges.sort((p, q) => p.h - q.h);
  for (const m of merges) {
    if (m.h > maxDistance) break;
    parent[find(m.b)] = find(m.a);
  }
  const ids = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    if (!ids.has(r)) ids.set(r, ids.size);
    labels[i] = ids.get(r)!;
  }
  dist.fill(0);
  return labels;
}

/**
 * Clusters window embeddings (weights: their speech) at cosine distance `maxDistance`: runs of
 * near-identical neighbours, then average linkage, in blocks when there are many runs (see the
 * module comment). Returns a cluster index per window, numbered by first appearance.
 */
export function clusterWindows(embeddings: readonly Float32Array[], maxDistance: number): Int32Array {
  const merged = mergeRuns(embeddings, RUN_SIMILARITY);
  const runLabels = clusterItems(merged.runs, maxDistance);
  return renumber(Int32Array.from(merged.runOf, (r) => runLabels[r]!));
}

function clusterItems(items: readonly Item[], maxDistance: number): Int32Array {
  if (items.length <= MAX_ITEMS) return agglomerate(items, maxDistance);
  // each block's clusters become items (weighted unit centroids), clustered again
  const labels = new Int32Array(items.length);
  const next: Item[] = [];
  const scratch = new Float32Array(BLOCK_ITEMS * BLOCK_ITEMS);
  for (let start = 0; start < items.length; start += BLOCK_ITEMS) {
    const block = items.slice(start, start + BLOCK_ITEMS);
    const local = agglomerate(block, maxDistance, scratch);
    const k = Math.max(...local) + 1;
    const sums = Array.from({ length: k }, () => new Float64Array(block[0]!.centroid.length));
    const weights = new Float64Array(k);
    for (let i = 0; i < block.length; i++) {
      const c = local[i]!;
      const it = block[i]!;
      for (let j = 0; j < it.centroid.length; j++) sums[c]![j]! += it.weight * it.centroid[j]!;
      weights[c]! += it.weight;
      labels[start + i] = next.length + c;
    }
    for (let c = 0; c < k; c++) next.push({ centroid: normalised(sums[c]!), weight: weights[c]! });
  }
  if (next.length >= items.length) {
    // no block merged anything (every window unlike the others: noise): consecutive runs are
    // grouped so that at most MAX_ITEMS clusters go on
    const per = Math.ceil(items.length / MAX_ITEMS);
    return Int32Array.from(labels, (_, i) => Math.floor(i / per));
  }
  const top = clusterItems(next, maxDistance);
  return renumber(Int32Array.from(labels, (c) => top[c]!));
}

function renumber(labels: Int32Array): Int32Array {
  const ids = new Map<number, number>();
  return Int32Array.from(labels, (c) => {
    if (!ids.has(c)) ids.set(c, ids.size);
    return ids.get(c)!;
  });
}

/** Unit centroids of labelled embeddings, weighted. */
export function centroids(
  embeddings: readonly Float32Array[],
  labels: Int32Array,
  weights: readonly number[],
  k: number,
): Float32Array[] {
  const dim = embeddings[0]?.length ?? 0;
  const sums = Array.from({ length: k }, () => new Float64Array(dim));
  for (let i = 0; i < embeddings.length; i++) {
    const s = sums[labels[i]!]!;
    const e = embeddings[i]!;
    const w = weights[i]!;
    for (let j = 0; j < dim; j++) s[j]! += w * e[j]!;
  }
  return sums.map(normalised);
}

export { dot };

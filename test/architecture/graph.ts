/**
 * The import graph between top-level parts of src/ (a folder, or a file directly under src/),
 * read with TypeScript's own pre-processor so that static, dynamic and type-only imports and
 * re-exports all count.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

export type Graph = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** `src/vault/shred.ts` → `vault`; `src/index.ts` → `index`. */
export function partOf(srcDir: string, file: string): string {
  const rel = path.relative(srcDir, file).split(path.sep);
  return rel.length === 1 ? rel[0]!.replace(/\.m?[tj]s$/, "") : rel[0]!;
}

/** part → imported part → the files (`from => to`) that make that edge. */
export function importGraph(srcDir: string): Graph {
  const graph = new Map<string, Map<string, string[]>>();
  for (const file of sourceFiles(srcDir)) {
    const from = partOf(srcDir, file);
    const edges = graph.get(from) ?? new Map<string, string[]>();
    graph.set(from, edges);
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith(".")) continue; // packages and node: builtins
      const target = path.resolve(path.dirname(file), ref.fileName);
      if (path.relative(srcDir, target).startsWith("..")) continue;
      const to = partOf(srcDir, target);
      if (to === from) continue;
      const list = edges.get(to) ?? [];
      list.push(`${path.relative(srcDir, file)} => ${ref.fileName}`);
      edges.set(to, list);
    }
  }
  return graph;
}

/** Strongly connected components with more than one part (Tarjan, 1972): each is an import cycle. */
export function cycles(graph: Graph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** Edges that point from a lower layer to a higher one (`layers[0]` is the bottom). */
export function upwardEdges(graph: Graph, layers: readonly (readonly string[])[]): string[] {
  const rank = new Map<string, number>();
  layers.forEach((parts, i) => {
    parts.forEach((p) => rank.set(p, i));
  });
  const out: string[] = [];
  for (const [from, edges] of graph) {
    for (const [to, files] of edges) {
      const rf = rank.get(from);
      const rt = rank.get(to);
      if (rf === undefined || rt === undefined) out.push(`${from} -> ${to}: part not placed in a layer`);
      else if (rt > rf) out.push(`${from} (layer ${rf}) -> ${to} (layer ${rt}): ${files[0]}`);
    }
  }
  return out;
}

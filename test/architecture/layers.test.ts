import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { cycles, importGraph, upwardEdges, type Graph } from "./graph.js";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

/** The layer table of docs/architecture.md §Layers, bottom first. */
function documentedLayers(): string[][] {
  const doc = readFileSync(new URL("../../docs/architecture.md", import.meta.url), "utf8");
  const block = /```layers\n([\s\S]*?)```/.exec(doc);
  if (!block) throw new Error("docs/architecture.md has no ```layers block");
  const rows = block[1]!
    .trim()
    .split("\n")
    .map((line) => {
      const m = /^(\d+)\s+\S+(?:\s\S+)?\s{2,}(.+)$/.exec(line.trim());
      if (!m) throw new Error(`bad layer line: ${line}`);
      return { rank: Number(m[1]), parts: m[2]!.trim().split(/\s+/) };
    });
  rows.sort((a, b) => a.rank - b.rank);
  rows.forEach((r, i) => {
    expect(r.rank).toBe(i);
  });
  return rows.map((r) => r.parts);
}

const graphOf = (edges: Record<string, string[]>): Graph =>
  new Map(Object.entries(edges).map(([k, v]) => [k, new Map(v.map((t) => [t, [`${k}.ts => ${t}`]]))]));

describe("the checker", () => {
  it("finds cycles, also around more than two parts, and upward edges", () => {
    expect(cycles(graphOf({ a: ["b"], b: ["a"], c: ["a"] }))).toEqual([["a", "b"]]);
    expect(cycles(graphOf({ a: ["b"], b: ["c"], c: ["a"] }))).toEqual([["a", "b", "c"]]);
    expect(cycles(graphOf({ a: ["b"], b: ["c"], c: [] }))).toEqual([]);
    const layers = [["a"], ["b"]];
    expect(upwardEdges(graphOf({ a: ["b"], b: [] }), layers)).toHaveLength(1);
    expect(upwardEdges(graphOf({ a: [], b: ["a"] }), layers)).toEqual([]);
    expect(upwardEdges(graphOf({ x: ["a"], a: [] }), layers)[0]).toMatch(/not placed/);
  });
});

describe("src/ is layered", () => {
  const graph = importGraph(SRC);

  it("reads every part of src/, and sees the imports (a sanity check of the reader)", () => {
    expect([...graph.keys()]).toEqual(expect.arrayContaining(["vault", "server", "platform", "index"]));
    expect(graph.get("server")?.has("errors")).toBe(true);
    // a dynamic import counts: the CLI reaches the composition root only through runtime.ts
    expect(
      graph
        .get("cli")
        ?.get("platform")
        ?.some((e) => e.startsWith("cli/runtime.ts")),
    ).toBe(true);
  });

  it("has no import cycle between top-level parts", () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("imports only downwards in the documented layers", () => {
    const layers = documentedLayers();
    expect(upwardEdges(graph, layers)).toEqual([]);
    const placed = new Set(layers.flat());
    expect([...graph.keys()].filter((p) => !placed.has(p))).toEqual([]);
  });
});

/**
 * A minimal ONNX model writer for tests: just enough of the protobuf encoding (varints,
 * length-delimited fields) and of onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
 * TensorProto, ValueInfoProto, TypeProto, TensorShapeProto) to build small speaker "models" that
 * onnxruntime loads. Field numbers follow onnx/onnx.proto (IR version 8).
 */

type Field = Uint8Array;

function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) b |= 0x80;
    out.push(b);
  } while (x !== 0n);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function key(field: number, wire: number): number[] {
  return varint((field << 3) | wire);
}

const intField = (field: number, v: number | bigint): Field =>
  Uint8Array.from([...key(field, 0), ...varint(v)]);
const bytesField = (field: number, bytes: Uint8Array): Field =>
  concat([Uint8Array.from([...key(field, 2), ...varint(bytes.length)]), bytes]);
const strField = (field: number, s: string): Field => bytesField(field, new TextEncoder().encode(s));
const msg = (field: number, parts: readonly Field[]): Field => bytesField(field, concat(parts));
const floatField = (field: number, v: number): Field => {
  const b = new Uint8Array(5);
  b[0] = (field << 3) | 5;
  new DataView(b.buffer).setFloat32(1, v, true);
  return b;
};

export const ELEM_FLOAT = 1;
export const ELEM_INT64 = 7;
export const ELEM_DOUBLE = 11;

/** A dimension: a number (fixed) or a string (symbolic, e.g. "T"). */
export type Dim = number | string;

export interface ValueInfo {
  readonly name: string;
  readonly elemType: number;
  readonly shape: readonly Dim[];
}

export interface Initializer {
  readonly name: string;
  readonly dims: readonly number[];
  /** float32 data, stored as raw_data (little-endian). */
  readonly data: Float32Array;
}

export type Attribute =
  | { readonly name: string; readonly ints: readonly number[] }
  | { readonly name: string; readonly int: number }
  | { readonly name: string; readonly float: number };

export interface Node {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: readonly Attribute[];
}

export interface Graph {
  readonly nodes: readonly Node[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly initializers?: readonly Initializer[];
  readonly opset?: number;
}

function valueInfo(field: number, v: ValueInfo): Field {
  const dims = v.shape.map((d) => msg(1, [typeof d === "number" ? intField(1, d) : strField(2, d)]));
  const tensorType = msg(1, [intField(1, v.elemType), msg(2, dims)]);
  return msg(field, [strField(1, v.name), msg(2, [tensorType])]);
}

function attribute(a: Attribute): Field {
  if ("ints" in a)
    return msg(5, [strField(1, a.name), ...a.ints.map((i) => intField(8, i)), intField(20, 7)]);
  if ("int" in a) return msg(5, [strField(1, a.name), intField(3, a.int), intField(20, 2)]);
  return msg(5, [strField(1, a.name), floatField(2, a.float), intField(20, 1)]);
}

function tensor(field: number, t: Initializer): Field {
  const raw = new Uint8Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
  return msg(field, [
    ...t.dims.map((d) => intField(1, d)),
    intField(2, ELEM_FLOAT),
    strField(8, t.name),
    bytesField(9, raw),
  ]);
}

/** Serialises a ModelProto with one graph. */
export function encodeModel(g: Graph): Uint8Array {
  const nodes = g.nodes.map((n, i) =>
    msg(1, [
      ...n.inputs.map((s) => strField(1, s)),
      ...n.outputs.map((s) => strField(2, s)),
      strField(3, `n${i}`),
      strField(4, n.opType),
      ...(n.attributes ?? []).map(attribute),
    ]),
  );
  const graph = msg(7, [
    ...nodes,
    strField(2, "voxvault-test"),
    ...(g.initializers ?? []).map((t) => tensor(5, t)),
    ...g.inputs.map((v) => valueInfo(11, v)),
    ...g.outputs.map((v) => valueInfo(12, v)),
  ]);
  return concat([
    intField(1, 8), // ir_version
    strField(2, "voxvault-test"), // producer_name
    graph,
    msg(8, [strField(1, ""), intField(2, g.opset ?? 13)]), // opset_import
  ]);
}

/**
 * A test speaker model that survives CMN: the per-bin mean over time of the SQUARED input (the
 * variance of a mean-normalised window), times a fixed bins × D matrix → [1, D].
 */
export function varianceProjectionModel(
  weights: Float32Array,
  dim: number,
  opts: { bins?: number } = {},
): Uint8Array {
  const bins = opts.bins ?? 80;
  return encodeModel({
    inputs: [{ name: "feats", elemType: ELEM_FLOAT, shape: [1, "T", bins] }],
    outputs: [{ name: "embs", elemType: ELEM_FLOAT, shape: [1, dim] }],
    initializers: [{ name: "W", dims: [bins, dim], data: weights }],
    nodes: [
      { opType: "Mul", inputs: ["feats", "feats"], outputs: ["sq"] },
      {
        opType: "ReduceMean",
        inputs: ["sq"],
        outputs: ["pooled"],
        attributes: [
          { name: "axes", ints: [1] },
          { name: "keepdims", int: 0 },
        ],
      },
      { opType: "MatMul", inputs: ["pooled", "W"], outputs: ["embs"] },
    ],
  });
}

/**
 * The simplest test speaker model: mean over time of the [1, T, 80] input, times a fixed 80 × D matrix →
 * [1, D]. WeSpeaker's input/output names and shapes, with a symbolic T.
 */
export function meanProjectionModel(
  weights: Float32Array,
  dim: number,
  opts: { inputName?: string; bins?: number } = {},
): Uint8Array {
  const bins = opts.bins ?? 80;
  const input = opts.inputName ?? "feats";
  return encodeModel({
    inputs: [{ name: input, elemType: ELEM_FLOAT, shape: [1, "T", bins] }],
    outputs: [{ name: "embs", elemType: ELEM_FLOAT, shape: [1, dim] }],
    initializers: [{ name: "W", dims: [bins, dim], data: weights }],
    nodes: [
      {
        opType: "ReduceMean",
        inputs: [input],
        outputs: ["pooled"],
        attributes: [
          { name: "axes", ints: [1] },
          { name: "keepdims", int: 0 },
        ],
      },
      { opType: "MatMul", inputs: ["pooled", "W"], outputs: ["embs"] },
    ],
  });
}

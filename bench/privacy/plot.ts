/** Score-histogram plots (mated vs non-mated) for the bench report, written as PNG. */

import { writeFileSync } from "node:fs";
import { histogramDensity, linspaceEdges } from "../../src/eval/index.js";
import { Canvas, type Rgb } from "./png.js";

export interface HistogramSeries {
  readonly label: string;
  readonly values: ArrayLike<number>;
  readonly color: Rgb;
}

export interface HistogramPlot {
  readonly title: string;
  readonly subtitle?: string;
  readonly xLabel: string;
  readonly series: readonly HistogramSeries[];
  readonly bins?: number;
  /** Optional curve on a right-hand [0, 1] axis, e.g. the local unlinkability D↔(s). */
  readonly curve?: {
    readonly label: string;
    readonly x: ArrayLike<number>;
    readonly y: ArrayLike<number>;
    readonly color: Rgb;
  };
  /** Vertical marker, e.g. the decision threshold. */
  readonly marker?: { readonly label: string; readonly x: number };
}

export const GREEN: Rgb = [40, 150, 60];
export const RED: Rgb = [210, 60, 50];
export const BLUE: Rgb = [40, 90, 200];

function niceTicks(lo: number, hi: number, n = 5): number[] {
  const span = hi - lo || 1;
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push(Math.round(t / step) * step);
  return ticks;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(1).replace(/\.0$/, "") : v.toPrecision(2);
}

export function renderHistogramPlot(p: HistogramPlot, width = 900, height = 520): Canvas {
  const c = new Canvas(width, height);
  const [left, right, top, bottom] = [70, p.curve ? 70 : 30, 70, 60];
  const pw = width - left - right;
  const ph = height - top - bottom;
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of p.series) {
    for (const v of Array.from(s.values)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  }
  if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.03;
  [lo, hi] = [lo - pad, hi + pad];
  const edges = linspaceEdges(lo, hi, p.bins ?? 60);
  const dens = p.series.map((s) => histogramDensity(s.values, edges));
  const ymax = Math.max(...dens.flatMap((d) => Array.from(d))) * 1.08 || 1;
  const X = (v: number): number => left + ((v - lo) / (hi - lo)) * pw;
  const Y = (v: number): number => top + ph - (v / ymax) * ph;

  c.text(left, 12, p.title, [0, 0, 0], 2);
  if (p.subtitle) c.text(left, 36, p.subtitle, [60, 60, 60], 1);
  for (const t of niceTicks(lo, hi)) {
    c.line(X(t), top + ph, X(t), top + ph + 5, [0, 0, 0]);
    c.line(X(t), top, X(t), top + ph, [235, 235, 235]);
    const s = fmt(t);
    c.text(X(t) - Canvas.textWidth(s) / 2, top + ph + 9, s);
  }
  for (const t of niceTicks(0, ymax)) {
    c.line(left - 5, Y(t), left, Y(t), [0, 0, 0]);
    const s = fmt(t);
    c.text(left - 8 - Canvas.textWidth(s), Y(t) - 3, s);
  }
  c.text(left + pw / 2 - Canvas.textWidth(p.xLabel) / 2, height - 22, p.xLabel);
  c.text(6, top - 14, "DENSITY");

  dens.forEach((d, k) => {
    const color = p.series[k]!.color;
    for (let i = 0; i < d.length; i++) {
      if (d[i]! > 0) c.rect(X(edges[i]!) + 1, Y(d[i]!), X(edges[i + 1]!) - 1, top + ph - 1, color, 0.35);
    }
    for (let i = 0; i < d.length; i++) {
      c.line(X(edges[i]!), Y(d[i]!), X(edges[i + 1]!), Y(d[i]!), color, 2);
      if (i > 0) c.line(X(edges[i]!), Y(d[i - 1]!), X(edges[i]!), Y(d[i]!), color, 2);
    }
  });

  if (p.curve) {
    const { x, y, color, label } = p.curve;
    const Y2 = (v: number): number => top + ph - v * ph * 0.92;
    for (let i = 1; i < x.length; i++) c.line(X(x[i - 1]!), Y2(y[i - 1]!), X(x[i]!), Y2(y[i]!), color, 2);
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      c.line(left + pw, Y2(t), left + pw + 5, Y2(t), color);
      c.text(left + pw + 8, Y2(t) - 3, fmt(t), color);
    }
    c.text(width - right + 8, top - 14, label, color);
  }
  if (p.marker) {
    const mx = X(p.marker.x);
    for (let y = top; y < top + ph; y += 6) c.line(mx, y, mx, y + 3, [0, 0, 0]);
    c.text(mx + 4, top + 4, p.marker.label);
  }
  c.line(left, top, left, top + ph, [0, 0, 0]);
  c.line(left, top + ph, left + pw, top + ph, [0, 0, 0]);

  let ly = top + 8;
  const legend = [
    ...p.series.map((s) => [s.label, s.color] as const),
    ...(p.curve ? [[p.curve.label, p.curve.color] as const] : []),
  ];
  const lw = Math.max(...legend.map(([l]) => Canvas.textWidth(l))) + 30;
  for (const [label, color] of legend) {
    const lx = left + pw - lw - 10;
    c.rect(lx, ly, lx + 14, ly + 8, color);
    c.text(lx + 20, ly + 1, label);
    ly += 16;
  }
  return c;
}

export function writeHistogramPlot(path: string, p: HistogramPlot): void {
  writeFileSync(path, renderHistogramPlot(p).toPng());
}

/**
 * Small dense linear algebra for training the built-in embedder's projection (n ≤ a few hundred):
 * symmetric eigendecomposition by cyclic Jacobi rotations (Golub & Van Loan, Matrix Computations,
 * §8.5), Cholesky factorisation, and the matrix helpers LDA and WCCN need. Row-major Float64Array.
 */

export interface Eigen {
  /** Eigenvalues, descending. */
  readonly values: Float64Array;
  /** Eigenvectors as ROWS, in the order of `values`. */
  readonly vectors: Float64Array;
}

/** Eigendecomposition of a symmetric n × n matrix (the input is not modified). */
export function symmetricEigen(a: Float64Array, n: number, tol = 1e-12, maxSweeps = 60): Eigen {
  const A = Float64Array.from(a);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let scale = 0;
  for (const v of A) scale += v * v;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q]! ** 2;
    if (off <= tol * tol * scale) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (apq === 0) continue;
        const app = A[p * n + p]!;
        const aqq = A[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p]!;
          const akq = A[k * n + q]!;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k]!;
          const aqk = A[q * n + k]!;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p]!;
          const vkq = V[k * n + q]!;
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => A[j * n + j]! - A[i * n + i]!);
  const values = Float64Array.from(order, (i) => A[i * n + i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((col, r) => {
    for (let k = 0; k < n; k++) vectors[r * n + k] = V[k * n + col]!;
  });
  return { values, vectors };
}

/** Lower-triangular L with L Lᵀ = a (a symmetric positive definite). */
export function cholesky(a: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error("cholesky: matrix not positive definite");
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / L[j * n + j]!;
    }
  }
  return L;
}

/** Inverse of a lower-triangular matrix. */
export function invertLower(L: Float64Array, n: number): Float64Array {
  const X = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    X[c * n + c] = 1 / L[c * n + c]!;
    for (let i = c + 1; i < n; i++) {
      let s = 0;
      for (let k = c; k < i; k++) s -= L[i * n + k]! * X[k * n + c]!;
      X[i * n + c] = s / L[i * n + i]!;
    }
  }
  return X;
}

/** (rows × inner) · (inner × cols). */
export function matmul(
  a: Float64Array,
  b: Float64Array,
  rows: number,
  inner: number,
  cols: number,
): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < inner; k++) {
      const aik = a[i * inner + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < cols; j++) out[i * cols + j]! += aik * b[k * cols + j]!;
    }
  }
  return out;
}

export function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

/** Within-class and between-class scatter (divided by the number of vectors), and the mean. */
export function scatter(
  x: readonly Float64Array[],
  labels: readonly string[],
  n: number,
): { mean: Float64Array; within: Float64Array; between: Float64Array } {
  const mean = new Float64Array(n);
  for (const v of x) for (let i = 0; i < n; i++) mean[i]! += v[i]! / x.length;
  const groups = new Map<string, Float64Array[]>();
  x.forEach((v, k) => {
    const g = groups.get(labels[k]!) ?? [];
    g.push(v);
    groups.set(labels[k]!, g);
  });
  const within = new Float64Array(n * n);
  const between = new Float64Array(n * n);
  const d = new Float64Array(n);
  for (const g of groups.values()) {
    const mc = new Float64Array(n);
    for (const v of g) for (let i = 0; i < n; i++) mc[i]! += v[i]! / g.length;
    for (const v of g) {
      for (let i = 0; i < n; i++) d[i] = v[i]! - mc[i]!;
      addOuter(within, d, n, 1 / x.length);
    }
    for (let i = 0; i < n; i++) d[i] = mc[i]! - mean[i]!;
    addOuter(between, d, n, g.length / x.length);
  }
  return { mean, within, between };
}

function addOuter(m: Float64Array, v: Float64Array, n: number, w: number): void {
  for (let i = 0; i < n; i++) {
    const vi = v[i]! * w;
    if (vi === 0) continue;
    for (let j = 0; j < n; j++) m[i * n + j]! += vi * v[j]!;
  }
}

/** Adds `ridge` × mean diagonal to the diagonal (shrinkage towards a scaled identity). */
export function regularise(m: Float64Array, n: number, ridge: number): Float64Array {
  let tr = 0;
  for (let i = 0; i < n; i++) tr += m[i * n + i]!;
  const out = Float64Array.from(m);
  for (let i = 0; i < n; i++) out[i * n + i]! += (ridge * tr) / n;
  return out;
}

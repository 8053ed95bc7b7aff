/** Small statistics for the report: percentiles, rates, rounding. */

export interface Percentiles {
  n: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/** Nearest-rank percentiles of a sample (null when empty). */
export function percentiles(values: number[]): Percentiles {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const rank = (p: number): number | null => (sorted.length === 0 ? null : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number));
  return { n: sorted.length, p50: rank(50), p99: rank(99), max: sorted.length ? (sorted[sorted.length - 1] as number) : null };
}

/** Events per second over the span of their timestamps: (n - 1) / (last - first). */
export function ratePerSecond(times: number[]): number | null {
  if (times.length < 2) return null;
  const sorted = [...times].sort((a, b) => a - b);
  const span = ((sorted[sorted.length - 1] as number) - (sorted[0] as number)) / 1000;
  return span > 0 ? (sorted.length - 1) / span : null;
}

export function mean(values: number[]): number | null {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

export function round(v: number | null | undefined, digits = 1): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Least-squares slope of y over x (per unit of x), null with fewer than `min` points. */
export function slope(points: { x: number; y: number }[], min = 3): number | null {
  if (points.length < min) return null;
  const mx = points.reduce((a, p) => a + p.x, 0) / points.length;
  const my = points.reduce((a, p) => a + p.y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

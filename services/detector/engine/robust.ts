// Robust window statistics: median and MAD (median absolute deviation) of the ring, by
// selection (Hoare's quickselect) in a scratch array the engine owns, so O(window) expected
// per sample and nothing allocated. Used by profiles with `robust` set (spiky series).

/** Consistency constant: 1.4826·MAD estimates σ for normal data. */
export const MAD_TO_SD = 1.482602218505602;

/**
 * k-th smallest (0-based) of a[0..n), reordering a in place. Expected O(n); the pivot is the
 * median of three, so sorted or constant input stays linear.
 */
export function selectKth(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three into a[mid]
    let x = a[lo];
    let y = a[mid];
    let z = a[hi];
    if (x > y) { const t = x; x = y; y = t; }
    if (y > z) { const t = y; y = z; z = t; if (x > y) { const u = x; x = y; y = u; } }
    const pivot = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/** Median of a[0..n) (mean of the two middle values for even n); reorders a. */
export function medianInPlace(a: Float64Array, n: number): number {
  const h = n >>> 1;
  const upper = selectKth(a, n, h);
  if ((n & 1) === 1) return upper;
  // After selecting h, a[0..h) holds the h smallest: the lower middle is their maximum.
  let lower = a[0];
  for (let i = 1; i < h; i++) if (a[i] > lower) lower = a[i];
  return (lower + upper) / 2;
}

/**
 * Median and MAD of src[off..off+n) (Float32 ring values), using `scratch` (length ≥ n).
 * Writes [median, MAD] into out[0..1].
 */
export function medianMad(src: Float32Array, off: number, n: number, scratch: Float64Array, out: Float64Array): void {
  for (let i = 0; i < n; i++) scratch[i] = src[off + i];
  const med = medianInPlace(scratch, n);
  for (let i = 0; i < n; i++) {
    const d = scratch[i] - med;
    scratch[i] = d < 0 ? -d : d;
  }
  out[0] = med;
  out[1] = medianInPlace(scratch, n);
}

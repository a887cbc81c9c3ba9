/**
 * erfc(x) with fractional error < 1.2e-7 everywhere (Chebyshev fit, Numerical Recipes `erfcc`).
 * Relative (not only absolute) accuracy in the far tail is what the pruning bounds need.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal upper tail Q(z) = P(Z > z). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** z with Q(z) = q, for q in (0, 0.5], by bisection (called once per request). */
export function normalSfInverse(q: number): number {
  let lo = 0;
  let hi = 40;
  for (let it = 0; it < 60; it++) {
    const mid = 0.5 * (lo + hi);
    if (normalSf(mid) > q) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/**
 * Q(x) = P(Z > x) to ~1e-14 relative: the power series of Φ for |x| ≤ 2.5, Laplace's continued
 * fraction Q(x) = φ(x) / (x + 1/(x + 2/(x + 3/(x + …)))) beyond (evaluated bottom-up, 120 terms).
 * Used where a rate must be exact (the thinning proposals of the Thompson sampler), not in loops.
 */
export function normalSfPrecise(x: number): number {
  if (x < -2.5) return 1 - normalSfPrecise(-x);
  const pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  if (x <= 2.5) {
    // Φ(x) − 1/2 = φ(x) Σ x^(2n+1) / (1·3·5···(2n+1))
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (x * x) / (2 * n + 1);
      sum += term;
      if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
    }
    return 0.5 - pdf * sum;
  }
  let f = x;
  for (let n = 120; n >= 1; n--) f = x + n / f;
  return pdf / f;
}

// Q on a grid of step 1/64 over [−8, 8], for `normalSfFast`.
const Q_STEP = 64;
const Q_TABLE = Float64Array.from({ length: 16 * Q_STEP + 1 }, (_, i) => normalSf(-8 + i / Q_STEP));

/**
 * Q(z) by linear interpolation in a table (absolute error < 2e-5): for estimates that only steer
 * cost (the Thompson sampler's choice of threshold), never for probabilities that set a law.
 */
export function normalSfFast(z: number): number {
  const x = (z + 8) * Q_STEP;
  if (!(x > 0)) return z > 0 ? 0 : 1; // z ≤ −8 (or NaN → 1, conservative for a count)
  if (x >= 16 * Q_STEP) return 0;
  const i = x | 0;
  const f = x - i;
  return Q_TABLE[i] + f * (Q_TABLE[i + 1] - Q_TABLE[i]);
}

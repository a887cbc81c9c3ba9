/**
 * Item-popularity exposure propensity for organic clicks (no logged slate, exposure unknown), as in Saito et al.
 * (WSDM 2020): θ_i = (n_i / max_j n_j)^η, η = 0.5 by default, then clipped below at `clipMin` so that an item
 * never clicked does not get θ = 0 (infinite weight). n_i is the item's click (or interaction) count.
 */
export function popularityPropensity(counts: ArrayLike<number>, eta = 0.5, clipMin = 1e-3): Float64Array {
  if (!(eta >= 0 && Number.isFinite(eta))) throw new RangeError(`eta: must be finite and >= 0, got ${eta}`);
  if (!(clipMin > 0 && clipMin <= 1)) throw new RangeError(`clipMin: must be in (0, 1], got ${clipMin}`);
  let max = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (!(c >= 0 && Number.isFinite(c)))
      throw new RangeError(`counts[${i}]: must be finite and >= 0, got ${c}`);
    if (c > max) max = c;
  }
  const out = new Float64Array(counts.length);
  for (let i = 0; i < counts.length; i++) {
    const p = max > 0 ? Math.pow(counts[i] / max, eta) : 1;
    out[i] = Math.min(1, Math.max(clipMin, p));
  }
  return out;
}

import { writeFileSync } from 'node:fs';
import { Rng } from '../core/random';

/**
 * A synthetic reco JSONL log with *full* slates, for trying the slate estimators where they differ
 * (the OBD sample has one slot per impression). Uniform logger without replacement over `clickProb.length`
 * items, 3 positions, cascade clicks: the user scans top-down and clicks the first item that attracts
 * them (probability clickProb[item]), then stops. One impression per line, with marginal and cascade
 * propensities, and one deliberately invalid line at the end (missing propensity).
 *
 * Usage (after `npm run build`): node dist/src/replay/synthetic-reco-log.js OUT.jsonl [impressions] [seed]
 */
export const SYNTHETIC_CLICK_PROB = [0.05, 0.3, 0.1, 0.2, 0.02, 0.15] as const;

export function syntheticRecoLog(
  impressions: number,
  seed: number,
  clickProb: readonly number[] = SYNTHETIC_CLICK_PROB,
): string[] {
  const rng = new Rng(seed);
  const m = clickProb.length;
  const L = 3;
  const lines: string[] = [];
  for (let t = 0; t < impressions; t++) {
    const pool = Array.from({ length: m }, (_, i) => i);
    const items: number[] = [];
    for (let k = 0; k < L; k++) items.push(pool.splice(rng.nextInt(pool.length), 1)[0]);
    const clicked = items.find((a) => rng.next() < clickProb[a]);
    let cascade = 1;
    lines.push(
      JSON.stringify({
        slateId: `s${t}`,
        user: `u${t % 50}`,
        ts: Date.UTC(2026, 10, 20) + t * 1000,
        policy: 'uniform',
        items: items.map((a, k) => {
          cascade /= m - k;
          return { item: `sku-${a}`, position: k + 1, propensity: 1 / m, cascadePropensity: cascade };
        }),
        clicks: clicked === undefined ? [] : [`sku-${clicked}`],
      }),
    );
  }
  lines.push(
    JSON.stringify({
      slateId: 'bad',
      user: 'u',
      ts: 0,
      policy: 'x',
      items: [{ item: 'sku-1', position: 1 }],
      clicks: [],
    }),
  );
  return lines;
}

/** True value per slot of always showing `slate` under the cascade click model. */
export function cascadeValuePerSlot(
  slate: readonly number[],
  clickProb: readonly number[] = SYNTHETIC_CLICK_PROB,
): number {
  let none = 1;
  let total = 0;
  for (const a of slate) {
    total += none * clickProb[a];
    none *= 1 - clickProb[a];
  }
  return total / slate.length;
}

if (require.main === module) {
  const [out, n = '20000', seed = '7'] = process.argv.slice(2);
  if (!out) {
    process.stderr.write(
      'usage: node dist/src/replay/synthetic-reco-log.js OUT.jsonl [impressions] [seed]\n',
    );
    process.exit(2);
  }
  writeFileSync(out, syntheticRecoLog(Number(n), Number(seed)).join('\n') + '\n');
  process.stdout.write(
    `${out}: ${n} impressions; true value per slot of the slate [sku-1, sku-3, sku-5]: ${cascadeValuePerSlot([1, 3, 5])}\n`,
  );
}

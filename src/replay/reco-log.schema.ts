import { z } from 'zod';

/**
 * A logged probability in (0, 1]. Up to 1 + 1e-9 is accepted and read as 1: a probability that is a sum of others
 * can round a hair above 1 in doubles (67/257 + 165/257 + 25/257 = 1.0000000000000002), and the service logged such
 * in-slate probabilities before it capped them (the eighteenth session); such slates were valid.
 */
const probability = () =>
  z
    .number()
    .gt(0, 'must be > 0')
    .max(1 + 1e-9, 'must be at most 1')
    .transform((x) => (x < 1 ? x : 1));

/**
 * One line of a reco JSONL impression log (`reco export` writes these; docs/ope.md documents them):
 * an impression with the slate served, the behaviour propensities logged at serving time, and the
 * clicks joined to it.
 */
export const recoSlotSchema = z
  .object({
    /** External item id. */
    item: z.string().min(1),
    /** 1-based position in the slate. */
    position: z.number().int().min(1),
    /** Marginal propensity μ(item at position | context) logged by the serving policy. */
    propensity: probability(),
    /** Optional: μ(items at positions 1..position | context), when the policy can compute it. */
    cascadePropensity: probability().optional(),
    /** Optional: P(item anywhere in the slate | context), as served (`reco export` writes it). */
    inSlateProbability: probability().optional(),
  })
  .strict();

export const recoImpressionSchema = z
  .object({
    type: z.literal('impression').default('impression'),
    slateId: z.string().min(1),
    user: z.string().min(1),
    /** ISO 8601 date-time with offset, or epoch milliseconds. */
    ts: z.union([z.iso.datetime({ offset: true }), z.number().int().nonnegative()]),
    /** Name of the serving policy. */
    policy: z.string().min(1),
    seed: z.number().int().optional(),
    modelVersion: z.string().optional(),
    /** The full serving policy config (`{"name":"in_slate_ts"}`, `{"name":"eps_greedy","epsilon":0.1}`), as logged. */
    policyConfig: z.record(z.string(), z.unknown()).optional(),
    /** Experiment key and variant when the slate was served inside an experiment. */
    experiment: z.string().min(1).optional(),
    variant: z.string().min(1).optional(),
    /** Request context as logged (free-form JSON object). */
    context: z.record(z.string(), z.unknown()).optional(),
    /** Slate size asked for (items may be fewer when fewer candidates were valid). */
    requestedSize: z.number().int().min(1).optional(),
    /** How the logged propensities were computed: closed form or Monte Carlo. */
    propensityKind: z.enum(['exact', 'monte_carlo']).optional(),
    items: z.array(recoSlotSchema).min(1),
    /** Item ids clicked in this impression (joined from click events). */
    clicks: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .superRefine((imp, ctx) => {
    const pos = new Set<number>();
    const ids = new Set<string>();
    imp.items.forEach((s, i) => {
      if (pos.has(s.position))
        ctx.addIssue({
          code: 'custom',
          path: ['items', i, 'position'],
          message: `position ${s.position} repeated`,
        });
      if (ids.has(s.item))
        ctx.addIssue({ code: 'custom', path: ['items', i, 'item'], message: `item ${s.item} repeated` });
      pos.add(s.position);
      ids.add(s.item);
    });
    imp.clicks.forEach((c, i) => {
      if (!ids.has(c))
        ctx.addIssue({
          code: 'custom',
          path: ['clicks', i],
          message: `click on item ${c} that was not shown`,
        });
    });
  });
export type RecoImpression = z.infer<typeof recoImpressionSchema>;

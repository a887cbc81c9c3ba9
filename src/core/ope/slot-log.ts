/**
 * The logged bandit feedback the estimators read, column by column.
 *
 * A *slot* is one shown item (one OBD row); a *slate* is the set of slots shown together in one
 * impression (same user context, same instant). Slots of slate s are the contiguous range
 * `slateStart[s] .. slateStart[s + 1] - 1`, positions strictly ascending. A slate may be partial:
 * the OBD small sample keeps single rows of impressions, so most of its slates have one observed slot.
 *
 * Columnar typed arrays, not row objects: a million slots cost ~30 MB and inner loops stay monomorphic.
 */
export interface SlotLog {
  /** Catalogue size m: items are 0 .. m-1. */
  readonly nItems: number;
  /** Slate length L: positions are 0 .. L-1 (OBD position 1 is our 0). */
  readonly slateSize: number;
  readonly nSlots: number;
  readonly nSlates: number;
  /** nSlates + 1 offsets into the slot columns. */
  readonly slateStart: Int32Array;
  /** Per slot: the item shown. */
  readonly item: Int32Array;
  /** Per slot: the position it was shown at (0-based). */
  readonly position: Uint8Array;
  /** Per slot: the observed reward (click 0/1, or any bounded reward). */
  readonly reward: Float64Array;
  /** Per slot: the behaviour policy's marginal probability μ(item at position | context), in (0, 1]. */
  readonly pscore: Float64Array;
  /** Per slate: context id (index into the caller's context table; policies read it). */
  readonly context: Int32Array;
  /** Per slate: logged time in ms since the epoch (replay order, report curves). */
  readonly time: Float64Array;
  /** Per slot, optional: behaviour's joint probability of the slate's observed items at positions ≤ this one. */
  readonly cascadePscore?: Float64Array;
}

/** Check the invariants once at the boundary so estimator loops can trust the columns (STYLE habit 5). */
export function validateSlotLog(log: SlotLog): void {
  const { nSlots, nSlates, slateStart, item, position, reward, pscore, nItems, slateSize } = log;
  if (!(nItems > 0) || !(slateSize > 0)) throw new RangeError('SlotLog: nItems and slateSize must be > 0');
  if (slateStart.length !== nSlates + 1 || slateStart[0] !== 0 || slateStart[nSlates] !== nSlots)
    throw new RangeError('SlotLog: slateStart must have nSlates + 1 offsets from 0 to nSlots');
  for (const [name, col] of [
    ['item', item],
    ['position', position],
    ['reward', reward],
    ['pscore', pscore],
  ] as const)
    if (col.length !== nSlots)
      throw new RangeError(`SlotLog: column ${name} has ${col.length} rows, expected ${nSlots}`);
  if (log.context.length !== nSlates || log.time.length !== nSlates)
    throw new RangeError('SlotLog: context and time need one entry per slate');
  if (log.cascadePscore && log.cascadePscore.length !== nSlots)
    throw new RangeError('SlotLog: cascadePscore needs one entry per slot');
  for (let s = 0; s < nSlates; s++) {
    const a = slateStart[s];
    const b = slateStart[s + 1];
    if (b <= a) throw new RangeError(`SlotLog: slate ${s} is empty`);
    for (let i = a; i < b; i++) {
      if (item[i] < 0 || item[i] >= nItems)
        throw new RangeError(`SlotLog: slot ${i} has item ${item[i]} outside 0..${nItems - 1}`);
      if (position[i] >= slateSize)
        throw new RangeError(`SlotLog: slot ${i} has position ${position[i]} ≥ ${slateSize}`);
      if (i > a && position[i] <= position[i - 1])
        throw new RangeError(`SlotLog: slate ${s} positions not strictly ascending`);
      if (!(pscore[i] > 0 && pscore[i] <= 1))
        throw new RangeError(`SlotLog: slot ${i} has propensity ${pscore[i]} outside (0, 1]`);
      if (!Number.isFinite(reward[i])) throw new RangeError(`SlotLog: slot ${i} has a non-finite reward`);
    }
  }
}

/** One slate written out, for tests and small synthetic logs. Positions 0-based. */
export interface SlateRecord {
  slots: ReadonlyArray<{
    item: number;
    position: number;
    reward: number;
    pscore: number;
    cascadePscore?: number;
  }>;
  context?: number;
  time?: number;
}

/** Build a SlotLog from slate records (the slow, obvious path; loaders build columns directly). */
export function slotLogFromSlates(
  nItems: number,
  slateSize: number,
  slates: readonly SlateRecord[],
): SlotLog {
  const nSlots = slates.reduce((n, s) => n + s.slots.length, 0);
  const slateStart = new Int32Array(slates.length + 1);
  const item = new Int32Array(nSlots);
  const position = new Uint8Array(nSlots);
  const reward = new Float64Array(nSlots);
  const pscore = new Float64Array(nSlots);
  const hasCascade = slates.some((s) => s.slots.some((x) => x.cascadePscore !== undefined));
  const cascadePscore = hasCascade ? new Float64Array(nSlots) : undefined;
  const context = new Int32Array(slates.length);
  const time = new Float64Array(slates.length);
  let i = 0;
  slates.forEach((s, k) => {
    slateStart[k] = i;
    context[k] = s.context ?? 0;
    time[k] = s.time ?? k;
    const sorted = [...s.slots].sort((a, b) => a.position - b.position);
    for (const x of sorted) {
      item[i] = x.item;
      position[i] = x.position;
      reward[i] = x.reward;
      pscore[i] = x.pscore;
      if (cascadePscore) cascadePscore[i] = x.cascadePscore ?? NaN;
      i++;
    }
  });
  slateStart[slates.length] = nSlots;
  const log: SlotLog = {
    nItems,
    slateSize,
    nSlots,
    nSlates: slates.length,
    slateStart,
    item,
    position,
    reward,
    pscore,
    context,
    time,
    cascadePscore,
  };
  validateSlotLog(log);
  return log;
}

/** Mean observed reward per slot: the on-policy value of the behaviour policy. */
export function onPolicyMean(log: SlotLog): number {
  let s = 0;
  for (let i = 0; i < log.nSlots; i++) s += log.reward[i];
  return log.nSlots > 0 ? s / log.nSlots : NaN;
}

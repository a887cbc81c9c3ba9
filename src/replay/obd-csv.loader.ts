import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readLinesWithProgress } from './file-lines';
import { InputFileError } from './input-file.error';
import { Rejections, SlotLogBuilder, type LoadedLog, type PendingSlot } from './slot-log.builder';

export interface ObdLoadOptions {
  /** Catalogue size m. Default: the rows of item_context.csv next to the log, else required. */
  nItems?: number;
  /** Positions 1..slateSize are valid. OBD: 3. */
  slateSize?: number;
  /** Called every ~64 KiB of input with (bytes read, total bytes). */
  onProgress?: (bytes: number, total: number) => void;
}

/** Columns we read; the user-item affinity columns are skipped. */
const REQUIRED = ['timestamp', 'item_id', 'position', 'click', 'propensity_score'] as const;

/** Number of items of an OBD campaign from its item_context.csv (one row per item). */
export function obdItemCount(itemContextPath: string): number {
  const lines = readFileSync(itemContextPath, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  return lines.length - 1;
}

/**
 * Stream an Open Bandit Dataset CSV (`obd/<policy>/<campaign>/<campaign>.csv`) into columns.
 *
 * One row is one shown item. Rows of one impression share the timestamp and the user features
 * (checked on the data: the 11 repeated timestamps of `random/men` carry the same user features,
 * distinct positions and distinct items), so consecutive rows with the same (timestamp, user
 * features) form a slate. The small sample keeps ~1 row per impression, so most slates are partial.
 *
 * Every rejected row is counted by reason; nothing invalid reaches the estimators.
 */
export async function loadObdCsv(path: string, opts: ObdLoadOptions = {}): Promise<LoadedLog> {
  if (!existsSync(path)) throw new InputFileError(`file not found: ${path}`);
  const slateSize = opts.slateSize ?? 3;
  let nItems = opts.nItems;
  if (nItems === undefined) {
    const ic = join(dirname(path), 'item_context.csv');
    if (!existsSync(ic))
      throw new InputFileError(
        `cannot tell the catalogue size: no item_context.csv beside ${path}; pass --items N`,
      );
    nItems = obdItemCount(ic);
  }
  const lines = readLinesWithProgress(path, opts.onProgress);
  const builder = new SlotLogBuilder();
  const rejected = new Rejections();
  const contextIds = new Map<string, number>();
  const contexts: string[] = [];

  let header: string[] | undefined;
  let col: Record<(typeof REQUIRED)[number], number> | undefined;
  let userCols: number[] = [];
  let maxCol = 0;
  let lineNo = 0;
  let rowsRead = 0;
  // The slate being assembled: rows with the same (timestamp, user features) in a run.
  let pendingKey = '';
  let pendingTime = 0;
  let pendingContext = -1;
  let pending: PendingSlot[] = [];
  const flush = (): void => {
    builder.addSlate(pending, pendingContext, pendingTime);
    pending = [];
  };

  for await (const line of lines) {
    lineNo++;
    if (header === undefined) {
      header = line.split(',');
      const idx = (name: string): number => header!.indexOf(name);
      const missing = REQUIRED.filter((n) => idx(n) < 0);
      if (missing.length)
        throw new InputFileError(`${path}: not an OBD log, header lacks ${missing.join(', ')}`);
      col = Object.fromEntries(REQUIRED.map((n) => [n, idx(n)])) as typeof col;
      userCols = header.map((h, i) => (/^user_feature_\d+$/.test(h) ? i : -1)).filter((i) => i >= 0);
      maxCol = Math.max(...Object.values(col!), ...userCols);
      continue;
    }
    if (line === '') continue;
    rowsRead++;
    // split with a limit stops after the columns we need: the 34 affinity columns are never materialised.
    const f = line.split(',', maxCol + 1);
    if (f.length <= maxCol) {
      rejected.add(lineNo, 'too few columns', `${f.length} columns`);
      continue;
    }
    const c = col!;
    const ts = f[c.timestamp];
    const time = Date.parse(ts.replace(' ', 'T'));
    if (!Number.isFinite(time)) {
      rejected.add(lineNo, 'bad timestamp', JSON.stringify(ts));
      continue;
    }
    const itemText = f[c.item_id];
    const item = Number(itemText);
    if (itemText === '' || !Number.isInteger(item) || item < 0 || item >= nItems) {
      rejected.add(lineNo, 'unknown item', `item_id ${JSON.stringify(itemText)} not in 0..${nItems - 1}`);
      continue;
    }
    const posText = f[c.position];
    const position = Number(posText);
    if (posText === '' || !Number.isInteger(position) || position < 1 || position > slateSize) {
      rejected.add(lineNo, 'bad position', `position ${JSON.stringify(posText)} not in 1..${slateSize}`);
      continue;
    }
    const clickText = f[c.click];
    if (clickText !== '0' && clickText !== '1') {
      rejected.add(lineNo, 'bad click', `click ${JSON.stringify(clickText)} not 0 or 1`);
      continue;
    }
    const pText = f[c.propensity_score];
    if (pText.trim() === '') {
      rejected.add(lineNo, 'missing propensity', 'propensity_score is empty');
      continue;
    }
    const pscore = Number(pText);
    if (!(pscore > 0 && pscore <= 1)) {
      rejected.add(lineNo, 'propensity outside (0,1]', `propensity_score ${pText}`);
      continue;
    }
    const user = userCols.map((i) => f[i]).join('|');
    const key = `${ts}|${user}`;
    if (key !== pendingKey) {
      flush();
      pendingKey = key;
      pendingTime = time;
      let ctx = contextIds.get(user);
      if (ctx === undefined) {
        ctx = contexts.length;
        contextIds.set(user, ctx);
        contexts.push(user);
      }
      pendingContext = ctx;
    } else if (pending.some((s) => s.position === position - 1 || s.item === item)) {
      rejected.add(
        lineNo,
        'duplicate in slate',
        `position ${position} or item ${item} repeated within one impression`,
      );
      continue;
    }
    pending.push({ item, position: position - 1, reward: clickText === '1' ? 1 : 0, pscore, line: lineNo });
  }
  flush();
  if (header === undefined) throw new InputFileError(`${path}: empty file`);
  return {
    log: builder.build(nItems, slateSize),
    contexts,
    itemIds: Array.from({ length: nItems }, (_, i) => String(i)),
    rowsRead,
    rejected,
  };
}

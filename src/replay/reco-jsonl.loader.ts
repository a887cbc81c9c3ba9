import { existsSync } from 'node:fs';
import { zodIssues } from '../common/validation/zod-issues';
import { recoImpressionSchema } from './reco-log.schema';
import { readLinesWithProgress } from './file-lines';
import { InputFileError } from './input-file.error';
import { Rejections, SlotLogBuilder, type LoadedLog, type PendingSlot } from './slot-log.builder';

export interface RecoLoadOptions {
  /** Item catalogue (ids); when given, impressions with other items are rejected. Default: the items seen. */
  catalogue?: readonly string[];
  /** Largest valid position; default: the largest seen. */
  slateSize?: number;
  onProgress?: (bytes: number, total: number) => void;
}

/**
 * The one loader path of reco logs: records (parsed JSON lines, or rows read from PostgreSQL) are validated
 * with `recoImpressionSchema`, rejected by reason, and appended to the slot columns.
 */
export class RecoLogAccumulator {
  private readonly itemIndex = new Map<string, number>();
  private readonly itemIds: string[] = [];
  private readonly fixedCatalogue: boolean;
  private readonly builder = new SlotLogBuilder();
  private readonly rejected = new Rejections();
  private readonly contextIds = new Map<string, number>();
  private readonly contexts: string[] = [];
  private rowsRead = 0;
  private maxPosition = 0;

  constructor(private readonly opts: RecoLoadOptions = {}) {
    (opts.catalogue ?? []).forEach((id) => {
      if (!this.itemIndex.has(id)) {
        this.itemIndex.set(id, this.itemIds.length);
        this.itemIds.push(id);
      }
    });
    this.fixedCatalogue = opts.catalogue !== undefined;
  }

  /** One text line of a JSONL file (blank lines are skipped, not counted). */
  addLine(line: string, lineNo: number): void {
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.rowsRead++;
      this.rejected.add(lineNo, 'not JSON', line.slice(0, 60));
      return;
    }
    this.addRecord(raw, lineNo);
  }

  /** One record; `lineNo` is its line in the file, or its ordinal when read from the database. */
  addRecord(raw: unknown, lineNo: number): void {
    const opts = this.opts;
    const rejected = this.rejected;
    this.rowsRead++;
    const parsed = recoImpressionSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = zodIssues(parsed.error)[0];
      // Name the reasons the issue text asks for, so counts group usefully.
      const code = parsed.error.issues[0].code;
      const reason = /propensity/i.test(issue.path)
        ? code === 'invalid_type'
          ? 'missing propensity'
          : 'propensity outside (0,1]'
        : /position/.test(issue.path)
          ? 'bad position'
          : 'invalid record';
      rejected.add(lineNo, reason, `${issue.path}: ${issue.message}`);
      return;
    }
    const imp = parsed.data;
    if (opts.slateSize !== undefined) {
      const bad = imp.items.find((s) => s.position > opts.slateSize!);
      if (bad) {
        rejected.add(lineNo, 'bad position', `position ${bad.position} > ${opts.slateSize}`);
        return;
      }
    }
    if (this.fixedCatalogue) {
      const unknown = imp.items.find((s) => !this.itemIndex.has(s.item));
      if (unknown) {
        rejected.add(lineNo, 'unknown item', `item ${unknown.item} not in the catalogue`);
        return;
      }
    }
    const clicked = new Set(imp.clicks);
    const slots: PendingSlot[] = imp.items.map((s) => {
      let idx = this.itemIndex.get(s.item);
      if (idx === undefined) {
        idx = this.itemIds.length;
        this.itemIndex.set(s.item, idx);
        this.itemIds.push(s.item);
      }
      if (s.position > this.maxPosition) this.maxPosition = s.position;
      return {
        item: idx,
        position: s.position - 1,
        reward: clicked.has(s.item) ? 1 : 0,
        pscore: s.propensity,
        cascadePscore: s.cascadePropensity,
        line: lineNo,
      };
    });
    let ctx = this.contextIds.get(imp.user);
    if (ctx === undefined) {
      ctx = this.contexts.length;
      this.contextIds.set(imp.user, ctx);
      this.contexts.push(imp.user);
    }
    this.builder.addSlate(slots, ctx, typeof imp.ts === 'number' ? imp.ts : Date.parse(imp.ts));
  }

  finish(): LoadedLog {
    return {
      log: this.builder.build(
        Math.max(1, this.itemIds.length),
        this.opts.slateSize ?? Math.max(1, this.maxPosition),
      ),
      contexts: this.contexts,
      itemIds: this.itemIds,
      rowsRead: this.rowsRead,
      rejected: this.rejected,
    };
  }
}

/** Stream a reco JSONL impression log; each line is validated with `recoImpressionSchema`. */
export async function loadRecoJsonl(path: string, opts: RecoLoadOptions = {}): Promise<LoadedLog> {
  if (!existsSync(path)) throw new InputFileError(`file not found: ${path}`);
  const acc = new RecoLogAccumulator(opts);
  let lineNo = 0;
  for await (const line of readLinesWithProgress(path, opts.onProgress)) acc.addLine(line, ++lineNo);
  return acc.finish();
}

/**
 * Load reco records from any async source (the database: `readRecoLogFromDb`) through the same
 * validation as the file loader; "line" numbers are the records' ordinals (1-based).
 */
export async function loadRecoRecords(
  records: AsyncIterable<unknown>,
  opts: RecoLoadOptions & { onRecord?: (n: number) => void } = {},
): Promise<LoadedLog> {
  const acc = new RecoLogAccumulator(opts);
  let n = 0;
  for await (const r of records) {
    acc.addRecord(r, ++n);
    opts.onRecord?.(n);
  }
  return acc.finish();
}

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { zodIssues } from '../common/validation/zod-issues';
import { recoImpressionSchema } from './reco-log.schema';
import { InputFileError } from './input-file.error';
import { Rejections, SlotLogBuilder, type LoadedLog, type PendingSlot } from './slot-log.builder';

export interface RecoLoadOptions {
  /** Item catalogue (ids); when given, impressions with other items are rejected. Default: the items seen. */
  catalogue?: readonly string[];
  /** Largest valid position; default: the largest seen. */
  slateSize?: number;
  onProgress?: (bytes: number, total: number) => void;
}

/** Stream a reco JSONL impression log; each line is validated with `recoImpressionSchema`. */
export async function loadRecoJsonl(path: string, opts: RecoLoadOptions = {}): Promise<LoadedLog> {
  if (!existsSync(path)) throw new InputFileError(`file not found: ${path}`);
  const total = statSync(path).size;
  const input = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 16 });
  let bytes = 0;
  if (opts.onProgress) {
    const report = opts.onProgress;
    input.on('data', (chunk) => {
      bytes += Buffer.byteLength(chunk as string);
      report(bytes, total);
    });
  }
  const itemIndex = new Map<string, number>();
  const itemIds: string[] = [];
  (opts.catalogue ?? []).forEach((id) => {
    if (!itemIndex.has(id)) {
      itemIndex.set(id, itemIds.length);
      itemIds.push(id);
    }
  });
  const fixedCatalogue = opts.catalogue !== undefined;
  const builder = new SlotLogBuilder();
  const rejected = new Rejections();
  const contextIds = new Map<string, number>();
  const contexts: string[] = [];
  let lineNo = 0;
  let rowsRead = 0;
  let maxPosition = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    rowsRead++;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      rejected.add(lineNo, 'not JSON', line.slice(0, 60));
      continue;
    }
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
      continue;
    }
    const imp = parsed.data;
    if (opts.slateSize !== undefined) {
      const bad = imp.items.find((s) => s.position > opts.slateSize!);
      if (bad) {
        rejected.add(lineNo, 'bad position', `position ${bad.position} > ${opts.slateSize}`);
        continue;
      }
    }
    if (fixedCatalogue) {
      const unknown = imp.items.find((s) => !itemIndex.has(s.item));
      if (unknown) {
        rejected.add(lineNo, 'unknown item', `item ${unknown.item} not in the catalogue`);
        continue;
      }
    }
    const clicked = new Set(imp.clicks);
    const slots: PendingSlot[] = imp.items.map((s) => {
      let idx = itemIndex.get(s.item);
      if (idx === undefined) {
        idx = itemIds.length;
        itemIndex.set(s.item, idx);
        itemIds.push(s.item);
      }
      if (s.position > maxPosition) maxPosition = s.position;
      return {
        item: idx,
        position: s.position - 1,
        reward: clicked.has(s.item) ? 1 : 0,
        pscore: s.propensity,
        cascadePscore: s.cascadePropensity,
        line: lineNo,
      };
    });
    let ctx = contextIds.get(imp.user);
    if (ctx === undefined) {
      ctx = contexts.length;
      contextIds.set(imp.user, ctx);
      contexts.push(imp.user);
    }
    builder.addSlate(slots, ctx, typeof imp.ts === 'number' ? imp.ts : Date.parse(imp.ts));
  }
  return {
    log: builder.build(Math.max(1, itemIds.length), opts.slateSize ?? Math.max(1, maxPosition)),
    contexts,
    itemIds,
    rowsRead,
    rejected,
  };
}

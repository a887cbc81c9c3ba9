/**
 * npm run bench:joins [-- --slates 200000 --items 10 --json]
 *
 * The learner's join book holds every slate served within JOIN_WINDOW_MS (rate × window of them): its memory
 * per open slate decides whether a busy service fits in its heap. This opens `--slates` slates of `--items`
 * items each (ids from a 10k catalogue, parsed from JSON as the events' are: a fresh string per id, which the
 * book interns through the catalogue as the service does), through the batches the learning path makes (500
 * impressions a batch), and reports:
 *  - heap bytes per open slate, against the baseline of the same run: the same slates kept as the parsed
 *    entry objects in a Map (what the book held before it stored them compactly);
 *  - CPU per slate to open (stage, commit) and to close (closeDue, commit), against the baseline of parsing
 *    the impression's JSON.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { JoinBook, type JoinEntry } from '../src/core/ingest/join-book';
import { emit, flagValue, formatTable, hasFlag, log, machine } from './lib/report';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const BATCH = 500;
const CATALOGUE = 10_000;

function heapAfterGc(): number {
  for (let k = 0; k < 3; k++) gc();
  return process.memoryUsage().heapUsed;
}

/** A catalogue id as long as a typical SKU (JSON.parse shares only very short strings). */
const itemId = (i: number): string => `catalogue/sku-${String(i).padStart(8, '0')}`;

/** The impressions' JSON (what a topic or the HTTP API carries), one string per slate. */
function impressionsJson(n: number, k: number): string[] {
  const out: string[] = new Array(n);
  for (let s = 0; s < n; s++) {
    const items = [];
    for (let p = 0; p < k; p++)
      items.push({
        itemId: itemId((s * 7 + p * 131) % CATALOGUE),
        position: p + 1,
        propensity: 1 / (p + 2 + (s % 13)),
      });
    out[s] = JSON.stringify({
      slateId: `00000000-0000-4000-8000-${String(s).padStart(12, '0')}`,
      userId: `user-${s % 50_000}`,
      items,
    });
  }
  return out;
}

interface Parsed {
  slateId: string;
  userId: string;
  items: JoinEntry['items'];
}

function main(): void {
  const slates = Number(flagValue('slates', '200000'));
  const k = Number(flagValue('items', '10'));
  const json = hasFlag('json');
  log(`bench:joins: ${slates} slates of ${k} items; ${machine()}`);
  const lines = impressionsJson(slates, k);
  const window = 1_800_000;

  // Baseline memory: the parsed entries, held as they came. Memory is what stays reachable after parsing and
  // holding (the parsed strings included), over a heap measured before parsing.
  let base = heapAfterGc();
  // Baseline CPU: parsing the impressions (every open slate's items arrive this way).
  let t0 = process.hrtime.bigint();
  let parsed: Parsed[] = lines.map((l) => JSON.parse(l) as Parsed);
  const parseNs = Number(process.hrtime.bigint() - t0) / slates;
  let held: Map<string, JoinEntry> | null = new Map();
  for (const p of parsed)
    held.set(p.slateId, { userId: p.userId, items: p.items, clicked: [], pending: [], closesAt: window + 1 });
  parsed = [];
  const heldBytes = (heapAfterGc() - base) / slates;
  // (Read after measuring: V8 may drop what a function no longer uses, even a local it still has in scope.)
  if (held.size !== slates) throw new Error(`${held.size} held slates, expected ${slates}`);
  held = null;

  // The book: opened batch by batch, then closed batch by batch.
  base = heapAfterGc();
  parsed = lines.map((l) => JSON.parse(l) as Parsed);
  // Ids interned through the catalogue, as the service does (its model's item index).
  const catalogue = new Map<string, string>();
  for (let i = 0; i < CATALOGUE; i++) catalogue.set(itemId(i), itemId(i));
  const book = new JoinBook(3_600_000, 1000, (id) => catalogue.get(id) ?? id);
  let batch = 0;
  t0 = process.hrtime.bigint();
  for (let s = 0; s < slates; s += BATCH) {
    const tx = book.begin(s);
    for (let j = s; j < Math.min(slates, s + BATCH); j++) {
      const p = parsed[j];
      if (tx.state(p.slateId)) continue; // the dedupe read every impression makes
      tx.put(p.slateId, { userId: p.userId, items: p.items, clicked: [], pending: [], closesAt: window + j });
    }
    tx.commit(++batch);
  }
  const openNs = Number(process.hrtime.bigint() - t0) / slates;
  parsed = [];
  const bookBytes = (heapAfterGc() - base) / slates;
  if (book.openCount !== slates) throw new Error(`${book.openCount} open slates, expected ${slates}`);

  let negatives = 0;
  t0 = process.hrtime.bigint();
  for (let closed = 0; closed < slates;) {
    const tx = book.begin(window + slates);
    const due = tx.closeDue(5000);
    for (const [, e] of due) negatives += e.items!.length - e.clicked.length;
    tx.commit(++batch);
    closed += due.length;
  }
  const closeNs = Number(process.hrtime.bigint() - t0) / slates;
  if (negatives !== slates * k) throw new Error(`${negatives} negatives, expected ${slates * k}`);

  const result = {
    slates,
    items: k,
    book_bytes_per_open_slate: Math.round(bookBytes),
    baseline_bytes_per_open_slate: Math.round(heldBytes),
    memory_ratio: bookBytes / heldBytes,
    open_us_per_slate: openNs / 1000,
    close_us_per_slate: closeNs / 1000,
    baseline_parse_us_per_slate: parseNs / 1000,
    open_ratio: openNs / parseNs,
    close_ratio: closeNs / parseNs,
    machine: machine(),
  };
  if (lines.length !== slates) throw new Error('the impressions must stay reachable while measuring');
  emit(json, result, () =>
    formatTable(
      ['measure', 'book', 'baseline', 'ratio', 'baseline is'],
      [
        [
          'heap bytes / open slate',
          result.book_bytes_per_open_slate,
          result.baseline_bytes_per_open_slate,
          result.memory_ratio,
          'parsed entries in a Map',
        ],
        [
          'open: µs / slate',
          result.open_us_per_slate,
          result.baseline_parse_us_per_slate,
          result.open_ratio,
          'JSON.parse of the impression',
        ],
        [
          'close: µs / slate',
          result.close_us_per_slate,
          result.baseline_parse_us_per_slate,
          result.close_ratio,
          'JSON.parse of the impression',
        ],
      ],
    ),
  );
}

main();

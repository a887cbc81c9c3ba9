import type { FactorModel } from './factor-model';
import { ModelFormatError } from './errors';
import {
  type HeaderV1,
  modelFromHeader,
  modelHeader,
  pad8,
  readModelHeader,
  sectionReader,
} from './serialize';

/**
 * A model as checkpoints store it: a head and pages of items. A model's statistics take (d+1)(d+2)/2 doubles an
 * item (4.5 KB at d = 32): written whole at every checkpoint they were 532 MB at 10^5 items (16 s of
 * PostgreSQL's time here), more than PostgreSQL holds in one value (1 GB) above ≈ 1.9·10^5, and more than one
 * typed array holds (4 GB) above ≈ 8·10^5. A checkpoint writes the head and only the pages holding an item that
 * changed since the last one (`FactorModel.takeChangedPages`); a model is read back from the head and, for
 * every page, the newest copy stored.
 *
 * Head (little-endian; sections padded to 8): magic "RECOMDH\0", u32 format version (4), u32 header length H,
 * H bytes of UTF-8 JSON { config, version, generation, meta, itemIds: [], groupIds, userIds: [], items, users,
 * pageItems, pageItemIds, pageUsers, byteLength }, then priorMean Float64[(G+1)·n] · priorVar Float64[(G+1)·n] ·
 * defaultUser Float64[d].
 * Format 3 (still read) held the item ids in the head's JSON (`itemIds`, no `items`); format 2 (still read) held
 * the users there too: userIds in the JSON, userVec Float64[nu·d] before defaultUser.
 * Item id page c (the ids of items [c·I, c·I + k), stored as page `itemIdPageNumber(c)`): magic "RECOMDI\0",
 * u32 c, u32 k, u32 length L, u32 0, L bytes of UTF-8 JSON [their ids]. Ids never change and items are only
 * appended, so a checkpoint writes the id pages from the first item it has not stored yet: none when the
 * catalogue did not grow. In the head, 10^6 item ids made every checkpoint 13.9 MB and 0.42–0.64 s of JSON on
 * the serving thread, even with nothing changed.
 * User page c (users [c·U, c·U + k), stored as page −1 − c): magic "RECOMDU\0", u32 c, u32 k, u32 length L,
 * u32 0, L bytes of UTF-8 JSON [their ids], then userVec Float64[k·d]. User vectors change only with a batch
 * training (`FactorModel.userStamp`), so a checkpoint writes the user pages only when they did: in the head, a
 * model trained over 10^6 users (d = 32) made every checkpoint 270 MB and 1.0 s of encoding on the serving
 * thread, and one over ≈ 4·10^6 would have passed PostgreSQL's 1 GB for one value.
 * Page p (items [p·P, p·P + k)): magic "RECOMDP\0", u32 p, u32 k, then itemGroup Int32[k] · itemActive Uint8[k] ·
 * xx Float64[k·n(n+1)/2] · xy Float64[k·n] · count · weightSum · positives Float64[k] · itemMean Float64[k·n] ·
 * itemVar Float64[k·n] (the sections of format 1, for those items).
 */
export const PAGED_FORMAT_VERSION = 4;
/** The paged format whose head held the item ids (read, never written). */
const PAGED_FORMAT_IDS_IN_HEAD = 3;
/** The paged format whose head held the item ids and the users (read, never written). */
const PAGED_FORMAT_USERS_IN_HEAD = 2;
/** Whether a `model_snapshots.format_version` is a paged one (a head, and pages in `model_pages`). */
export const isPagedFormat = (v: number): boolean =>
  v === PAGED_FORMAT_VERSION || v === PAGED_FORMAT_IDS_IN_HEAD || v === PAGED_FORMAT_USERS_IN_HEAD;
/** Users per user page: 16 MB of vectors at d = 32. */
export const PAGE_USERS = 65_536;
/** Item ids per id page: ≈ 1 MB of JSON for ids of 10–15 characters. */
export const PAGE_ITEM_IDS = 65_536;
/** The `model_pages` page number of user page c: negative, beside the items' pages 0, 1, …. */
export const userPageNumber = (c: number): number => -1 - c;
/** The user page c stored as `model_pages` page number `page` (the inverse of `userPageNumber`). */
export const userPageOf = (page: number): number => -1 - page;
/**
 * Item id pages are numbered down from −2^30: far below the user pages (−1 − c, with c < 2^31 / `PAGE_USERS`),
 * inside PostgreSQL's integer.
 */
const ITEM_ID_PAGES = -(2 ** 30);
/** The `model_pages` page number of item id page c. */
export const itemIdPageNumber = (c: number): number => ITEM_ID_PAGES - c;
/** The item id page c stored as `model_pages` page number `page` (the inverse of `itemIdPageNumber`). */
export const itemIdPageOf = (page: number): number => ITEM_ID_PAGES - page;
/**
 * Items per page: one. Updates scatter over the catalogue, so larger pages are nearly all dirty: with 1% of
 * 10^5 items (d = 32) touched at random, pages of 64 items wrote 253 MB (4.7 s of PostgreSQL's time here),
 * pages of 8 41 MB (0.53 s), pages of 1 5.3 MB (0.07 s); writing every page cost the same at each size (9–10 s).
 */
export const PAGE_ITEMS = 1;
const HEAD_MAGIC = 'RECOMDH\0';
const PAGE_MAGIC = 'RECOMDP\0';
const USER_MAGIC = 'RECOMDU\0';
const ITEM_ID_MAGIC = 'RECOMDI\0';

interface Head extends HeaderV1 {
  pageItems: number;
  /** Formats 3 and 4: the number of users, and users per user page (their ids are in the user pages). */
  users?: number;
  pageUsers?: number;
  /** Format 4: the number of items, and item ids per id page (the ids are in the id pages). */
  items?: number;
  pageItemIds?: number;
}

export interface ModelPages {
  head: Uint8Array;
  /** The item pages written, ascending. */
  pages: { page: number; bytes: Uint8Array }[];
  /** The user pages written (`page` = `userPageNumber(c)`, c ascending): all of them, or none when no user changed. */
  userPages: { page: number; bytes: Uint8Array }[];
  /**
   * The item id pages written (`page` = `itemIdPageNumber(c)`, c ascending): those from the page of the first
   * item not stored before, `itemIdsFrom` (= the number of items when there was none), to the last.
   */
  itemIdPages: { page: number; bytes: Uint8Array }[];
  itemIdsFrom: number;
  /**
   * Bytes reserved right before each page's bytes, in the same buffer, that the caller may overwrite (the
   * `gap` asked for): a writer can put a record header there and send a run of pages as one slice.
   */
  gap: number;
}

/** Where `encodeModelPages` writes and how it cuts the model. */
export interface EncodeOptions {
  /** Write into this buffer when it is large enough and not far too large (see `encodeModelPages`). */
  into?: ArrayBuffer;
  pageItems?: number;
  pageUsers?: number;
  pageItemIds?: number;
  /** Bytes to leave free right before every page (item, user and id pages alike; default 0). */
  gap?: number;
}

type Section = Int32Array | Uint8Array | Float64Array;

/**
 * The arrays an item page is cut from, in page order, each as bytes with its bytes per item: a page's sections
 * are [a·per, b·per) of each, for its items [a, b). Views made once per checkpoint, not nine a page.
 */
function itemSources(model: FactorModel): { bytes: Uint8Array; per: number }[] {
  const n = model.n;
  const s = model.stats;
  const cut = (x: Section, perItem: number) => ({
    bytes: new Uint8Array(x.buffer, x.byteOffset, x.byteLength),
    per: perItem * x.BYTES_PER_ELEMENT,
  });
  return [
    cut(model.itemGroup, 1),
    cut(model.itemActive, 1),
    cut(s.xx, s.psize),
    cut(s.xy, n),
    cut(s.count, 1),
    cut(s.weightSum, 1),
    cut(s.positives, 1),
    cut(model.itemMean, n),
    cut(model.itemVar, n),
  ];
}

/** The bytes of an item page of k items after its 16-byte start (each section padded to 8 bytes). */
function itemPageBody(sources: readonly { per: number }[], k: number): number {
  let t = 0;
  for (const x of sources) t += pad8(k * x.per);
  return t;
}

/** Write the sections of items [a, b) at `off` in `out`, each padded with zeros to 8 bytes (the item page's layout). */
function writeItemSections(
  out: Uint8Array,
  off: number,
  sources: readonly { bytes: Uint8Array; per: number }[],
  a: number,
  b: number,
): void {
  for (const x of sources) {
    const len = (b - a) * x.per;
    out.set(x.bytes.subarray(a * x.per, b * x.per), off);
    const padded = pad8(len);
    if (padded > len) out.fill(0, off + len, off + padded);
    off += padded;
  }
}

const sectionsBytes = (sections: Section[]): number => sections.reduce((t, x) => t + pad8(x.byteLength), 0);

function writeSections(out: Uint8Array, off: number, sections: Section[]): number {
  for (const x of sections) {
    out.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), off);
    out.fill(0, off + x.byteLength, off + pad8(x.byteLength));
    off += pad8(x.byteLength);
  }
  return off;
}

function writeU32(out: Uint8Array, off: number, v: number): void {
  out[off] = v & 0xff;
  out[off + 1] = (v >>> 8) & 0xff;
  out[off + 2] = (v >>> 16) & 0xff;
  out[off + 3] = (v >>> 24) & 0xff;
}

function writeMagic(out: Uint8Array, off: number, magic: string): void {
  for (let k = 0; k < 8; k++) out[off + k] = magic.charCodeAt(k);
}

/**
 * The head and the pages that hold a changed item (`pages: 'changed'`, taking the model's marks) or every page
 * (`'all'`), copied now: the bytes are the model at this moment, whatever happens to it afterwards. Stale
 * posteriors are re-solved first. With `into`, the bytes go into that buffer when it is large enough and not
 * more than 4× (or 16 MB) too large, else into a new one, 25% larger, to pass next time: a checkpoint copies
 * on the thread that serves, and copying into fresh memory faults in every 4 KB page first, which on the
 * 2-core sandbox made the copy 7× slower than into memory used before (1.2 s instead of ≈ 0.17 s for 449 MB).
 * With `gap`, every page is preceded by that many free bytes (`ModelPages.gap`): the checkpoint's COPY writes its
 * row headers there and sends runs of pages straight from this buffer, instead of copying them all once more.
 */
export function encodeModelPages(
  model: FactorModel,
  pages: 'changed' | 'all',
  options: EncodeOptions = {},
): ModelPages {
  const {
    into,
    pageItems = PAGE_ITEMS,
    pageUsers = PAGE_USERS,
    pageItemIds = PAGE_ITEM_IDS,
    gap = 0,
  } = options;
  if (!Number.isInteger(gap) || gap < 0)
    throw new RangeError(`gap must be a whole number of bytes, not ${gap}`);
  model.refreshPosteriors();
  const d = model.dim;
  const n = model.n;
  const ni = model.numItems;
  const nu = model.numUsers;
  const slots = model.numGroups + 1;
  const numPages = Math.ceil(ni / pageItems);
  const taken =
    pages === 'all'
      ? (model.takeChangedPages(pageItems), Array.from({ length: numPages }, (_, p) => p))
      : model.takeChangedPages(pageItems);
  const usersChanged = model.takeUsersChanged() || pages === 'all';
  const idsFrom = pages === 'all' ? (model.takeItemIdsFrom(), 0) : model.takeItemIdsFrom();
  const headSections: Section[] = [
    model.priorMean.subarray(0, slots * n),
    model.priorVar.subarray(0, slots * n),
    model.defaultUser.subarray(0, d),
  ];
  const body = sectionsBytes(headSections);
  const hdr = modelHeader(
    model,
    { itemIds: [], userIds: [], items: ni, users: nu, pageItems, pageItemIds, pageUsers },
    body,
  );
  const headBytes = pad8(16 + hdr.length) + body;
  const sources = itemSources(model);
  const pageLength = (p: number) =>
    16 + itemPageBody(sources, Math.min(ni, (p + 1) * pageItems) - p * pageItems);
  // User pages carry their vectors after the ids; item id pages only the ids.
  const userParts = usersChanged
    ? idPageParts(model.userIds, 0, nu, pageUsers).map((u) => ({
        ...u,
        rest: [model.userVec.subarray(u.a * d, (u.a + u.k) * d)],
      }))
    : [];
  const idParts =
    idsFrom < ni ? idPageParts(model.itemIds, Math.floor(idsFrom / pageItemIds), ni, pageItemIds) : [];
  let total = headBytes;
  for (const p of taken) total += gap + pageLength(p);
  for (const u of userParts) total += gap + 24 + pad8(u.ids.length) + sectionsBytes(u.rest);
  for (const x of idParts) total += gap + 24 + pad8(x.ids.length);
  // Reused unless it is far larger than needed (one checkpoint of every item must not pin that much for good).
  const reuse = into && into.byteLength >= total && into.byteLength <= Math.max(4 * total, 16 << 20);
  const buffer = reuse ? into : new ArrayBuffer(into ? Math.ceil(total * 1.25) : total);
  // A view per part, never one over the whole: a model can exceed the largest typed array (2^32 bytes).
  const head = new Uint8Array(buffer, 0, headBytes);
  writeMagic(head, 0, HEAD_MAGIC);
  const hv = new DataView(buffer, 0, 16);
  hv.setUint32(8, PAGED_FORMAT_VERSION, true);
  hv.setUint32(12, hdr.length, true);
  head.set(hdr, 16);
  head.fill(0, 16 + hdr.length, pad8(16 + hdr.length));
  writeSections(head, pad8(16 + hdr.length), headSections);
  const written: ModelPages['pages'] = [];
  let at = headBytes;
  for (let j = 0; j < taken.length; j++) {
    const p = taken[j];
    at += gap;
    const a = p * pageItems;
    const b = Math.min(ni, a + pageItems);
    const bytes = new Uint8Array(buffer, at, pageLength(p));
    writeMagic(bytes, 0, PAGE_MAGIC);
    writeU32(bytes, 8, p);
    writeU32(bytes, 12, b - a);
    writeItemSections(bytes, 16, sources, a, b);
    written.push({ page: p, bytes });
    at += bytes.byteLength;
  }
  const userPages: ModelPages['userPages'] = [];
  for (const u of userParts) {
    at += gap;
    const bytes = writeIdPage(buffer, at, USER_MAGIC, u, u.rest);
    userPages.push({ page: userPageNumber(u.c), bytes });
    at += bytes.byteLength;
  }
  const itemIdPages: ModelPages['itemIdPages'] = [];
  for (const x of idParts) {
    at += gap;
    const bytes = writeIdPage(buffer, at, ITEM_ID_MAGIC, x, []);
    itemIdPages.push({ page: itemIdPageNumber(x.c), bytes });
    at += bytes.byteLength;
  }
  return { head, pages: written, userPages, itemIdPages, itemIdsFrom: Math.min(idsFrom, ni), gap };
}

/** Pages `first`, `first` + 1, … of a list of ids (`per` a page, `count` in all): each one's ids as JSON. */
function idPageParts(list: readonly string[], first: number, count: number, per: number) {
  const parts: { c: number; a: number; k: number; ids: Uint8Array }[] = [];
  for (let c = first; c * per < count; c++) {
    const a = c * per;
    const k = Math.min(count, a + per) - a;
    parts.push({ c, a, k, ids: new TextEncoder().encode(JSON.stringify(list.slice(a, a + k))) });
  }
  return parts;
}

/**
 * Page c of a list of ids (users or items; `readIdPage` reads it) at `at` in `buffer`: magic, u32 c, u32 k, u32
 * length L, u32 0, the L bytes of ids, then `rest` (a user page's vectors).
 */
function writeIdPage(
  buffer: ArrayBuffer,
  at: number,
  magic: string,
  page: { c: number; k: number; ids: Uint8Array },
  rest: Section[],
): Uint8Array {
  const bytes = new Uint8Array(buffer, at, 24 + pad8(page.ids.length) + sectionsBytes(rest));
  writeMagic(bytes, 0, magic);
  writeU32(bytes, 8, page.c);
  writeU32(bytes, 12, page.k);
  writeU32(bytes, 16, page.ids.length);
  writeU32(bytes, 20, 0);
  writeSections(bytes, 24, [page.ids, ...rest]);
  return bytes;
}

function hasMagic(bytes: Uint8Array, magic: string): boolean {
  if (bytes.length < 16) return false;
  for (let k = 0; k < 8; k++) if (bytes[k] !== magic.charCodeAt(k)) return false;
  return true;
}

/** A model being read back: its head decoded, its pages applied one by one (`applyModelPage`). */
export interface ModelReading {
  model: FactorModel;
  pageItems: number;
  numPages: number;
  /** Users per user page, the user pages to read (c = 0, 1, … in this order) and the next one expected. */
  pageUsers: number;
  numUserPages: number;
  nextUserPage: number;
  /** The users the head announces (formats 3 and 4; the user pages add them). */
  users: number;
  /** Format 2: the users came with the head (the next checkpoint must write them as pages). */
  usersInHead: boolean;
  /** Item ids per id page, the id pages to read (c = 0, 1, … in this order) and the next one expected. */
  pageItemIds: number;
  numItemIdPages: number;
  nextItemIdPage: number;
  /** The items the head announces (format 4: the id pages add them, before any item page is read). */
  items: number;
  /** Formats 2 and 3: the item ids came with the head (the next checkpoint must write them as pages). */
  idsInHead: boolean;
}

/** Decode a model's head: the model with its items, groups, users and priors, its items' data still to come. */
export function decodeModelHead(head: Uint8Array): ModelReading {
  if (!hasMagic(head, HEAD_MAGIC)) throw new ModelFormatError('not a reco model head (bad magic bytes)');
  const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const version = hv.getUint32(8, true);
  if (!isPagedFormat(version))
    throw new ModelFormatError(
      `model head format v${version} is not one this build reads (v${PAGED_FORMAT_USERS_IN_HEAD} to v${PAGED_FORMAT_VERSION}); upgrade reco or retrain`,
    );
  const headerLen = hv.getUint32(12, true);
  const h = readModelHeader<Head>(head, headerLen, 'model head');
  const usersInHead = version === PAGED_FORMAT_USERS_IN_HEAD;
  const idsInHead = version !== PAGED_FORMAT_VERSION;
  const users = usersInHead ? h.userIds.length : h.users;
  const pageUsers = usersInHead ? PAGE_USERS : h.pageUsers;
  if (!Number.isInteger(users) || users! < 0 || !Number.isInteger(pageUsers) || pageUsers! < 1)
    throw new ModelFormatError('model head has no valid users or pageUsers');
  const items = idsInHead ? h.itemIds.length : h.items;
  const pageItemIds = idsInHead ? PAGE_ITEM_IDS : h.pageItemIds;
  if (!Number.isInteger(items) || items! < 0 || !Number.isInteger(pageItemIds) || pageItemIds! < 1)
    throw new ModelFormatError('model head has no valid items or pageItemIds');
  if (!idsInHead && h.itemIds.length > 0)
    throw new ModelFormatError('model head lists item ids (format 4 pages them)');
  const model = modelFromHeader(h);
  model.reserve(items!, usersInHead ? 0 : users!);
  const n = model.n;
  const slots = h.groupIds.length + 1;
  const take = sectionReader(head, pad8(16 + headerLen), 'model head');
  model.priorMean.set(take(Float64Array, slots * n));
  model.priorVar.set(take(Float64Array, slots * n));
  if (usersInHead) {
    model.userVec.set(take(Float64Array, h.userIds.length * model.dim));
    model.userVectorsChanged();
  }
  model.defaultUser.set(take(Float64Array, model.dim));
  model.generation = h.generation;
  return {
    model,
    pageItems: h.pageItems,
    numPages: Math.ceil(items! / h.pageItems),
    pageUsers: pageUsers!,
    numUserPages: usersInHead ? 0 : Math.ceil(users! / pageUsers!),
    nextUserPage: 0,
    users: users!,
    usersInHead,
    pageItemIds: pageItemIds!,
    numItemIdPages: idsInHead ? 0 : Math.ceil(items! / pageItemIds!),
    nextItemIdPage: 0,
    items: items!,
    idsInHead,
  };
}

/**
 * The k ids of page c of a paged list (user or item ids: `what`), checked: its magic, number, count, and k
 * strings of JSON. Returns the reader positioned after the ids.
 */
function readIdPage(bytes: Uint8Array, magic: string, what: string, c: number, k: number, noun: string) {
  if (!hasMagic(bytes, magic)) throw new ModelFormatError(`${what} ${c} has bad magic bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24 || v.getUint32(8, true) !== c || v.getUint32(12, true) !== k)
    throw new ModelFormatError(
      `${what} ${c} holds page ${v.getUint32(8, true)} of ${v.getUint32(12, true)} ${noun}, expected ${k}`,
    );
  const take = sectionReader(bytes, 24, `${what} ${c}`);
  let ids: unknown;
  try {
    ids = JSON.parse(new TextDecoder().decode(take(Uint8Array, v.getUint32(16, true))));
  } catch {
    throw new ModelFormatError(`${what} ${c}'s ids are not JSON`);
  }
  if (!Array.isArray(ids) || ids.length !== k || !ids.every((id) => typeof id === 'string'))
    throw new ModelFormatError(`${what} ${c}'s ids are not ${k} strings`);
  return { ids: ids as string[], take };
}

/** Add item id page c's items to the model being read (id pages come in order: c = 0, 1, …, before item pages). */
export function applyItemIdPage(r: ModelReading, c: number, bytes: Uint8Array): void {
  const { model, pageItemIds: I } = r;
  if (c !== r.nextItemIdPage || c >= r.numItemIdPages)
    throw new ModelFormatError(
      `item id page ${c} read where item id page ${r.nextItemIdPage} of ${r.numItemIdPages} was due`,
    );
  const k = Math.min(r.items, (c + 1) * I) - c * I;
  const { ids } = readIdPage(bytes, ITEM_ID_MAGIC, 'item id page', c, k, 'items');
  const first = model.numItems;
  const generation = model.generation; // the stored one: adding the items back is no change
  for (const id of ids) model.addItem(id, null);
  model.generation = generation;
  if (model.numItems !== first + k) throw new ModelFormatError(`item id page ${c} repeats an item id`);
  r.nextItemIdPage++;
}

/** Add user page c's users to the model being read (user pages come in order: c = 0, 1, …). */
export function applyUserPage(r: ModelReading, c: number, bytes: Uint8Array): void {
  const { model, pageUsers: U } = r;
  if (c !== r.nextUserPage || c >= r.numUserPages)
    throw new ModelFormatError(
      `user page ${c} read where user page ${r.nextUserPage} of ${r.numUserPages} was due`,
    );
  const k = Math.min(r.users, (c + 1) * U) - c * U;
  const { ids, take } = readIdPage(bytes, USER_MAGIC, 'user page', c, k, 'users');
  const vec = take(Float64Array, k * model.dim);
  const first = model.numUsers;
  for (const id of ids) model.addUser(id);
  if (model.numUsers !== first + k) throw new ModelFormatError(`user page ${c} repeats a user id`);
  model.userVec.set(vec, first * model.dim);
  model.userVectorsChanged();
  r.nextUserPage++;
}

/** Copy page p's items into the model being read. */
export function applyModelPage(r: ModelReading, p: number, bytes: Uint8Array): void {
  const { model, pageItems: P } = r;
  const ni = model.numItems;
  if (ni !== r.items)
    throw new ModelFormatError(
      `model page ${p} read with ${ni} of the ${r.items} items' ids (id pages first)`,
    );
  if (!(p >= 0 && p < r.numPages)) throw new ModelFormatError(`model page ${p} is not a page of ${ni} items`);
  if (!hasMagic(bytes, PAGE_MAGIC)) throw new ModelFormatError(`model page ${p} has bad magic bytes`);
  const pv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const a = p * P;
  const k = Math.min(ni, a + P) - a;
  if (pv.getUint32(8, true) !== p || pv.getUint32(12, true) !== k)
    throw new ModelFormatError(
      `model page ${p} holds page ${pv.getUint32(8, true)} of ${pv.getUint32(12, true)} items, expected ${k}`,
    );
  const n = model.n;
  const ps = model.stats.psize;
  const s = model.stats;
  const take = sectionReader(bytes, 16, `model page ${p}`);
  model.itemGroup.set(take(Int32Array, k), a);
  model.itemActive.set(take(Uint8Array, k), a);
  s.xx.set(take(Float64Array, k * ps), a * ps);
  s.xy.set(take(Float64Array, k * n), a * n);
  s.count.set(take(Float64Array, k), a);
  s.weightSum.set(take(Float64Array, k), a);
  s.positives.set(take(Float64Array, k), a);
  model.itemMean.set(take(Float64Array, k * n), a * n);
  model.itemVar.set(take(Float64Array, k * n), a * n);
}

/**
 * Read a model from its head and its pages (`page(p)`: the newest stored copy of page p; every page must be
 * there). Every item is unchanged afterwards (it is what is stored).
 */
export function decodeModelPages(head: Uint8Array, page: (p: number) => Uint8Array | undefined): FactorModel {
  const r = decodeModelHead(head);
  for (let c = 0; c < r.numItemIdPages; c++) {
    const bytes = page(itemIdPageNumber(c));
    if (!bytes) throw new ModelFormatError(`item id page ${c} is missing (the model has ${r.items} items)`);
    applyItemIdPage(r, c, bytes);
  }
  for (let c = 0; c < r.numUserPages; c++) {
    const bytes = page(userPageNumber(c));
    if (!bytes) throw new ModelFormatError(`user page ${c} is missing (the model has ${r.users} users)`);
    applyUserPage(r, c, bytes);
  }
  for (let p = 0; p < r.numPages; p++) {
    const bytes = page(p);
    if (!bytes)
      throw new ModelFormatError(`model page ${p} is missing (the model has ${r.model.numItems} items)`);
    applyModelPage(r, p, bytes);
  }
  finishReading(r);
  return r.model;
}

/**
 * A model read whole: its items as stored, its users too unless they came in a format 2 head, and its item ids
 * unless they came in a format 2 or 3 head (the next checkpoint then writes them as pages).
 */
export function finishReading(r: ModelReading): void {
  if (r.nextItemIdPage !== r.numItemIdPages)
    throw new ModelFormatError(`model has ${r.nextItemIdPage} of its ${r.numItemIdPages} item id pages`);
  if (r.nextUserPage !== r.numUserPages)
    throw new ModelFormatError(`model has ${r.nextUserPage} of its ${r.numUserPages} user pages`);
  r.model.clearChanged();
  if (!r.usersInHead) r.model.clearUsersChanged();
  if (!r.idsInHead) r.model.clearItemIdsTaken();
}

import { JoinBook } from './join-book';
import {
  decodeBatchJournal,
  decodeJoinBookImage,
  encodeBatchJournal,
  encodeJoinBookImage,
  encodeOpenJoinsInSteps,
  JournalFormatError,
  type BatchJournal,
} from './journal-codec';

const items = [
  { itemId: 'ä-item', position: 1, propensity: 0.25 },
  { itemId: 'b', position: 2, propensity: 1 / 3 },
];

describe('journal codec', () => {
  it("round-trips a join book's image", () => {
    const book = new JoinBook(10_000);
    const tx = book.begin(5);
    tx.put('s1', { userId: 'u1', items, clicked: ['b'], pending: [], closesAt: 10 });
    tx.put('s2', {
      userId: 'ü2',
      items: null,
      clicked: [],
      pending: [{ userId: 'ü2', itemId: 'x' }],
      closesAt: 2,
    });
    tx.put('s3', { userId: 'u3', items, clicked: [], pending: [], closesAt: 1 });
    tx.closeDue(10);
    tx.commit(1);
    const image = book.image();
    expect(image.closed).toHaveLength(2);
    expect(book.state('s2')).toMatchObject({ kind: 'closed', tombstone: { items: null, clicked: ['x'] } });
    expect(decodeJoinBookImage(encodeJoinBookImage(image))).toEqual(image);
  });

  it("encodes a book's open joins step by step, byte for byte the image at the cut, pausing between chunks", () => {
    for (const n of [0, 1, 4, 5, 11]) {
      const book = new JoinBook(10_000);
      const tx = book.begin(5);
      for (let i = 0; i < n; i++)
        tx.put(`s${i}`, {
          userId: `u${i}`,
          items: i % 3 ? items : null,
          clicked: [],
          pending: [],
          closesAt: 9 + i,
        });
      tx.commit(2);
      const atCut = encodeJoinBookImage({ open: book.image().open, closed: [] });
      const { ids, entries } = book.openJoins();
      expect(ids).toEqual(book.image().open.map(([id]) => id));
      // The book moves on while the steps run: a join changes (a copy replaces it), another opens.
      const later = book.begin(6);
      if (n > 0) later.put('s0', { userId: 'u0', items, clicked: ['b'], pending: [], closesAt: 99 });
      later.put('new', { userId: 'v', items, clicked: [], pending: [], closesAt: 99 });
      later.commit(3);
      const steps = encodeOpenJoinsInSteps(ids, entries, 5);
      let pauses = 0;
      let r = steps.next();
      for (; !r.done; r = steps.next()) pauses++;
      expect(pauses).toBe(Math.max(0, Math.ceil(n / 5) - 1));
      expect(Buffer.from(r.value)).toEqual(Buffer.from(atCut));
      expect(Buffer.from(r.value)).not.toEqual(
        Buffer.from(encodeJoinBookImage({ open: book.image().open, closed: [] })),
      );
    }
  });

  it('round-trips a batch journal with optional fields absent and present', () => {
    const journal: BatchJournal = {
      joins: {
        now: 1_764_259_200_123,
        open: [['s1', { userId: 'u', items, clicked: [], pending: [], closesAt: 1_764_259_260_123 }]],
        closed: ['s0', 's9'],
      },
      clicks: [
        { eventId: 'e1', slateId: 's1', userId: 'u', itemId: 'b', position: 2, ts: 1_764_259_200_000 },
        { eventId: 'e2', userId: 'ü', itemId: 'ä-item', ts: 0 },
      ],
    };
    const back = decodeBatchJournal(encodeBatchJournal(journal));
    expect(back).toEqual(journal);
    expect('slateId' in back.clicks[1]).toBe(false);
  });

  it('names what is wrong with bad bytes', () => {
    const bytes = encodeBatchJournal({ joins: { now: 1, open: [], closed: ['s'] }, clicks: [] });
    expect(() => decodeBatchJournal(bytes.subarray(0, bytes.length - 1))).toThrow(JournalFormatError);
    expect(() => decodeBatchJournal(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
    expect(() => decodeJoinBookImage(bytes)).toThrow(/not a join book/);
    const longer = new Uint8Array(bytes.length + 2);
    longer.set(bytes);
    expect(() => decodeBatchJournal(longer)).toThrow(/2 trailing bytes/);
  });
});

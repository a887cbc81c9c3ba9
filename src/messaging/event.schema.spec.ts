import { RecoEventSchema } from './event.schema';

describe('event schemas', () => {
  it('accepts a click with an ISO or epoch timestamp', () => {
    const a = RecoEventSchema.parse({
      eventId: 'e1',
      type: 'click',
      userId: 'u',
      itemId: 'i',
      ts: '2026-11-27T10:00:00Z',
    });
    expect(a).toMatchObject({ type: 'click', ts: Date.parse('2026-11-27T10:00:00Z') });
    const b = RecoEventSchema.parse({
      eventId: 'e2',
      type: 'click',
      userId: 'u',
      itemId: 'i',
      ts: 1795780000000,
    });
    expect(b.ts).toBe(1795780000000);
  });

  it('refuses ids PostgreSQL could not store, naming the field (a poison message, not a stalled batch)', () => {
    const r = RecoEventSchema.safeParse({
      eventId: 'e',
      type: 'click',
      userId: 'a\u0000b',
      itemId: 'i',
      ts: 1,
    });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].path).toEqual(['userId']);
    expect(r.error!.issues[0].message).toMatch(/U\+0000/);
    const imp = RecoEventSchema.safeParse({
      eventId: 'e\ud800',
      type: 'impression',
      slateId: '8c1f4a52-5bde-4bd7-9d3b-1f0a5f3e2c11',
      userId: 'u',
      ts: 1,
      items: [{ itemId: 'i', position: 1, propensity: 1 }],
    });
    expect(imp.success).toBe(false);
    expect(imp.error!.issues[0].path).toEqual(['eventId']);
  });

  it('names unknown types, missing fields and bad values', () => {
    const r1 = RecoEventSchema.safeParse({ eventId: 'e', type: 'purchase', userId: 'u', ts: 1 });
    expect(r1.success).toBe(false);
    expect(r1.error!.issues[0].message).toBe('type must be one of click, impression');
    const r2 = RecoEventSchema.safeParse({
      eventId: '',
      type: 'click',
      itemId: 'i',
      ts: 'yesterday',
      extra: 1,
    });
    const paths = r2.error!.issues.map((i) => i.path.join('.')).sort();
    expect(paths).toEqual(['', 'eventId', 'ts', 'userId']);
    const r3 = RecoEventSchema.safeParse({
      eventId: 'e',
      type: 'impression',
      slateId: '00000000-0000-4000-8000-000000000000',
      userId: 'u',
      ts: 1,
      items: [{ itemId: 'i', position: 1, propensity: 0 }],
    });
    expect(r3.error!.issues[0]).toMatchObject({
      path: ['items', 0, 'propensity'],
      message: 'must be in (0, 1]',
    });
  });
});

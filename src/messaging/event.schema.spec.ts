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

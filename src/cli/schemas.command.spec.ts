import { eventJsonSchemas } from './schemas.command';

describe('reco schemas', () => {
  it('exports the click and impression schemas with their required fields', () => {
    const s = eventJsonSchemas() as {
      $defs: Record<string, { required?: string[]; properties?: Record<string, unknown> }>;
    };
    expect(s.$defs.click.required).toEqual(
      expect.arrayContaining(['eventId', 'type', 'userId', 'itemId', 'ts']),
    );
    expect(s.$defs.impression.required).toEqual(
      expect.arrayContaining(['eventId', 'type', 'slateId', 'userId', 'ts', 'items']),
    );
    expect(Object.keys(s.$defs.click.properties ?? {})).toContain('slateId');
  });
});

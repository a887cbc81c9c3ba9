import { gzipSync } from 'node:zlib';
import { ImpressionLogService } from '../../src/modules/slates/impression-log.service';
import { startTestApp, type TestApp } from '../setup/app';

/** The request path of POST /v1/slates: body reading, validation of what gets logged, the response itself. */
describe('POST /v1/slates input and output (real PostgreSQL)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ MODEL_DIM: '4' });
    const body = Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: `item-${i}`, group: 'g' })).join(
      '\n',
    );
    const r = await t.http.post('/v1/items:import').set('content-type', 'application/x-ndjson').send(body);
    expect(r.status).toBe(200);
    await new Promise((r) => setTimeout(r, 300)); // the model picks the catalogue up within MODEL_REFRESH_MS
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers JSON with its length, as res.json did, and no ETag', async () => {
    const r = await t.http.post('/v1/slates').send({ userId: 'u1', size: 3 });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text));
    expect(r.headers.etag).toBeUndefined();
    expect(r.body.items).toHaveLength(3);
  });

  it('rejects strings PostgreSQL cannot store with a 400, and the impression log keeps working', async () => {
    const bad = await t.http
      .post('/v1/slates')
      .send({ userId: 'a\u0000b', context: { page: 'x\u0000', k: '\ud800' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'body.context',
      'body.userId',
    ]);
    const ok = await t.http.post('/v1/slates').send({ userId: 'u2', size: 2, context: { page: 'Zoë 😀' } });
    expect(ok.status).toBe(200);
    await t.reco.app.get(ImpressionLogService).flush();
    const stored = await t.http.get(`/v1/slates/${ok.body.slateId}`);
    expect(stored.status).toBe(200);
    expect(stored.body.context).toEqual({ page: 'Zoë 😀' });
  });

  it('reads JSON bodies the lean way and the general way alike, with the same errors', async () => {
    const json = JSON.stringify({ userId: 'u3', size: 2 });
    const plain = await t.http.post('/v1/slates').set('content-type', 'application/json').send(json);
    expect(plain.status).toBe(200);
    // Compressed and chunked bodies go through express.json.
    const gz = await t.http
      .post('/v1/slates')
      .set('content-type', 'application/json')
      .set('content-encoding', 'gzip')
      .serialize((b: unknown) => b as string) // the bytes as they are: superagent would JSON-encode a Buffer
      .send(gzipSync(json));
    expect(gz.status).toBe(200);
    expect(gz.body.items).toHaveLength(2);
    const corrupt = await t.http
      .post('/v1/slates')
      .set('content-type', 'application/json')
      .set('content-encoding', 'gzip')
      .send(json); // not gzip
    expect(corrupt.status).toBe(400);
    expect(corrupt.body.error.code).toBe('bad_request');
    const latin1 = await t.http
      .post('/v1/slates')
      .set('content-type', 'application/json; charset=latin1')
      .send(json);
    expect(latin1.status).toBe(415);
    for (const [text, message] of [
      ['{', 'The body is not valid JSON:'],
      ['"u3"', 'The body is not valid JSON:'],
      ['', ''],
    ]) {
      const r = await t.http.post('/v1/slates').set('content-type', 'application/json').send(text);
      if (text === '') {
        // An empty body is {} for express.json: a validation error naming the missing field.
        expect(r.status).toBe(400);
        expect(r.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['body.userId']);
      } else {
        expect(r.status).toBe(400);
        expect(r.body.error.code).toBe('malformed_json');
        expect(r.body.error.message.startsWith(message)).toBe(true);
      }
    }
    const tooLarge = await t.http
      .post('/v1/slates')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ userId: 'u', context: { pad: 'x'.repeat(1_100_000) } }));
    expect(tooLarge.status).toBe(413);
  });
});

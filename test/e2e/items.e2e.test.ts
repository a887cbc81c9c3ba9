import type { Server } from 'node:http';
import type { Express } from 'express';
import { startTestApp, type TestApp } from '../setup/app';

describe('items API (real PostgreSQL)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("serves on a server that builds requests with Express's prototypes (LeanExpressAdapter)", async () => {
    const server = t.reco.app.getHttpServer() as Server;
    const express = t.reco.app.getHttpAdapter().getInstance() as Express;
    let proto: unknown;
    const look = (req: unknown) => (proto = Object.getPrototypeOf(req));
    server.prependListener('request', look);
    try {
      expect((await t.http.get('/v1/items/none-yet')).status).toBe(404);
    } finally {
      server.removeListener('request', look);
    }
    expect(proto).toBe(express.request);
  });

  it('creates, reads back, replaces and deactivates an item', async () => {
    const created = await t.http
      .put('/v1/items/shoe-1')
      .send({ group: 'shoes', attributes: { color: 'red' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'shoe-1',
      group: 'shoes',
      attributes: { color: 'red' },
      active: true,
    });

    const read = await t.http.get('/v1/items/shoe-1');
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);

    const replaced = await t.http.put('/v1/items/shoe-1').send({ attributes: { color: 'blue' } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ group: null, attributes: { color: 'blue' } });

    const gone = await t.http.delete('/v1/items/shoe-1');
    expect(gone.status).toBe(200);
    expect(gone.body.active).toBe(false);
    expect((await t.http.get('/v1/items/shoe-1')).body.active).toBe(false);
  });

  it('answers 404 in the error shape for unknown items and unknown routes', async () => {
    const r = await t.http.get('/v1/items/nope');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({
      error: { status: 404, code: 'item_not_found', message: 'No item with id "nope".' },
    });
    const d = await t.http.delete('/v1/items/nope');
    expect(d.status).toBe(404);
    const route = await t.http.post('/v2/whatever').send({});
    expect(route.status).toBe(404);
    expect(route.body.error).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('lists each validation problem with its path', async () => {
    const r = await t.http.put('/v1/items/x1').send({ group: 5, active: 'yes', extra: 1 });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('validation_failed');
    const paths = r.body.error.issues.map((i: { path: string }) => i.path).sort();
    expect(paths).toEqual(['body', 'body.active', 'body.group']);
    expect(r.body.error.issues.find((i: { path: string }) => i.path === 'body').message).toMatch(/extra/);
  });

  it('rejects bad ids, malformed JSON and oversized bodies with 4xx, never 500', async () => {
    const longId = 'a'.repeat(257);
    const r1 = await t.http.put(`/v1/items/${longId}`).send({});
    expect(r1.status).toBe(400);
    expect(r1.body.error.issues[0]).toEqual({ path: 'param.id', message: 'must be at most 256 characters' });

    const r2 = await t.http.put('/v1/items/x2').set('content-type', 'application/json').send('{"group": ');
    expect(r2.status).toBe(400);
    expect(r2.body.error.code).toBe('malformed_json');

    const big = { attributes: { blob: 'x'.repeat(1024 * 1024 + 10) } };
    const r3 = await t.http.put('/v1/items/x3').send(big);
    expect(r3.status).toBe(413);
    expect(r3.body.error.code).toBe('payload_too_large');

    const r4 = await t.http.put('/v1/items/x4').send([1, 2]);
    expect(r4.status).toBe(400);

    // text PostgreSQL cannot store: a 400 naming the field, not a 500 from the database
    const r5 = await t.http.put('/v1/items/x5').send({ group: 'a\u0000b' });
    expect(r5.status).toBe(400);
    expect(r5.body.error.issues[0].path).toBe('body.group');
    const r6 = await t.http.put('/v1/items/x6').send({ attributes: { note: 'x\ud800' } });
    expect(r6.status).toBe(400);
    expect(r6.body.error.issues[0].path).toBe('body.attributes');
  });

  it('imports NDJSON: bad lines reported by number, good lines kept, idempotent on re-import', async () => {
    const body = [
      '{"id":"imp-1","group":"g1"}',
      '',
      '{"id":"imp-2","attributes":{"k":1}}',
      'not json',
      '{"id":"imp-3","active":"no"}',
      '{"id":"imp-1","group":"g2"}',
    ].join('\n');
    const r = await t.http.post('/v1/items:import').set('content-type', 'application/x-ndjson').send(body);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      lines: 5,
      imported: 2,
      created: 2,
      updated: 0,
      unchanged: 0,
      duplicates: 1,
    });
    expect(r.body.rejected.map((x: { line: number }) => x.line)).toEqual([4, 5]);
    expect(r.body.rejected[1].issues[0].path).toBe('active');
    expect((await t.http.get('/v1/items/imp-1')).body.group).toBe('g2');

    const again = await t.http
      .post('/v1/items:import')
      .set('content-type', 'application/x-ndjson')
      .send(body);
    expect(again.body).toMatchObject({ imported: 2, created: 0, updated: 0, unchanged: 2 });

    const changed = await t.http
      .post('/v1/items:import')
      .set('content-type', 'application/x-ndjson')
      .send('{"id":"imp-2","attributes":{"k":2}}\n');
    expect(changed.body).toMatchObject({ imported: 1, created: 0, updated: 1 });
  });

  it('asks for NDJSON on import', async () => {
    const r = await t.http.post('/v1/items:import').send({ id: 'x' });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('unsupported_media_type');
  });

  it('reports readiness, liveness, metrics and the OpenAPI document', async () => {
    expect((await t.http.get('/health/live')).status).toBe(200);
    const ready = await t.http.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.details.database.status).toBe('up');

    const metrics = await t.http.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/text\/plain/);
    expect(metrics.text).toMatch(
      /reco_http_requests_total\{method="PUT",route="\/v1\/items\/:id",status="201"\} \d+/,
    );
    expect(metrics.text).toMatch(/reco_http_request_duration_seconds_bucket/);

    const doc = await t.http.get('/docs-json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/items/{id}']));
    // The request schema comes from the same zod schema that validates the body.
    const schemas = JSON.stringify(doc.body.components?.schemas ?? {});
    expect(schemas).toContain('attributes');
    expect((await t.http.get('/docs')).status).toBe(200);
  });
});

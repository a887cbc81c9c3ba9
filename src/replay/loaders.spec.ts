import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadObdCsv } from './obd-csv.loader';
import { loadBtsPrior, loadPolicyFile, InputFileError } from './policy-files';
import { loadRecoJsonl } from './reco-jsonl.loader';

const dir = mkdtempSync(join(tmpdir(), 'reco-replay-'));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const HEADER =
  ',timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,user-item_affinity_0';
const row = (i: number, ts: string, item: string, pos: string, click: string, p: string, u = 'a'): string =>
  `${i},${ts},${item},${pos},${click},${p},${u},b,0.0`;

describe('loadObdCsv', () => {
  const path = write(
    'men.csv',
    [
      HEADER,
      row(0, '2019-11-24 00:00:01.5+00:00', '1', '1', '0', '0.25'), // line 2: ok, slate A
      row(1, '2019-11-24 00:00:01.5+00:00', '2', '3', '1', '0.25'), // line 3: ok, slate A (same ts + user)
      row(2, '2019-11-24 00:00:02+00:00', '3', '2', '0', ''), // line 4: missing propensity
      row(3, '2019-11-24 00:00:03+00:00', '3', '2', '0', '1.5'), // line 5: propensity > 1
      row(4, '2019-11-24 00:00:04+00:00', '3', '2', '0', '0'), // line 6: propensity 0
      row(5, '2019-11-24 00:00:05+00:00', '9', '2', '0', '0.25'), // line 7: unknown item (m = 4)
      row(6, '2019-11-24 00:00:06+00:00', '3', '4', '0', '0.25'), // line 8: bad position
      row(7, '2019-11-24 00:00:07+00:00', '3', '2', '2', '0.25'), // line 9: bad click
      row(8, 'yesterday', '3', '2', '0', '0.25'), // line 10: bad timestamp
      '9,2019-11-24 00:00:09+00:00,3', // line 11: too few columns
      row(10, '2019-11-24 00:00:10+00:00', '0', '2', '1', '0.5', 'c'), // line 12: ok, slate B
      row(11, '2019-11-24 00:00:10+00:00', '0', '1', '0', '0.5', 'c'), // line 13: item repeated in slate B
      '',
    ].join('\n'),
  );

  it('keeps valid rows as columns, groups impressions into slates, counts every rejection with its line', async () => {
    const l = await loadObdCsv(path, { nItems: 4 });
    expect(l.rowsRead).toBe(12);
    expect(l.log.nSlots).toBe(3);
    expect(l.log.nSlates).toBe(2);
    expect(Array.from(l.log.slateStart)).toEqual([0, 2, 3]);
    expect(Array.from(l.log.item)).toEqual([1, 2, 0]);
    expect(Array.from(l.log.position)).toEqual([0, 2, 1]);
    expect(Array.from(l.log.reward)).toEqual([0, 1, 1]);
    expect(l.log.time[0]).toBe(Date.UTC(2019, 10, 24, 0, 0, 1, 500));
    expect(l.contexts).toEqual(['a|b', 'c|b']);
    expect(l.rejected.total).toBe(9);
    expect(l.rejected.byReason).toEqual({
      'missing propensity': 1,
      'propensity outside (0,1]': 2,
      'unknown item': 1,
      'bad position': 1,
      'bad click': 1,
      'bad timestamp': 1,
      'too few columns': 1,
      'duplicate in slate': 1,
    });
    expect(l.rejected.examples.slice(0, 3).map((e) => [e.line, e.reason])).toEqual([
      [4, 'missing propensity'],
      [5, 'propensity outside (0,1]'],
      [6, 'propensity outside (0,1]'],
    ]);
  });

  it('reads the catalogue size from item_context.csv beside the log', async () => {
    write('item_context.csv', ',item_id,item_feature_0\n0,0,1\n1,1,1\n2,2,1\n3,3,1\n');
    const l = await loadObdCsv(path);
    expect(l.log.nItems).toBe(4);
  });

  it('refuses a file that is not an OBD log, and a missing one', async () => {
    await expect(loadObdCsv(write('x.csv', 'a,b,c\n1,2,3\n'), { nItems: 4 })).rejects.toThrow(
      /not an OBD log/,
    );
    await expect(loadObdCsv(join(dir, 'nope.csv'), { nItems: 4 })).rejects.toThrow(InputFileError);
  });
});

describe('loadRecoJsonl', () => {
  const imp = (o: Record<string, unknown>): string =>
    JSON.stringify({
      slateId: 's1',
      user: 'u1',
      ts: '2026-11-20T10:00:00Z',
      policy: 'ts',
      items: [
        { item: 'a', position: 1, propensity: 0.5 },
        { item: 'b', position: 2, propensity: 0.25 },
      ],
      clicks: ['b'],
      ...o,
    });
  const path = write(
    'log.jsonl',
    [
      imp({}),
      imp({ items: [{ item: 'a', position: 1 }] }), // missing propensity
      imp({ items: [{ item: 'a', position: 1, propensity: 0 }] }), // propensity 0
      imp({ items: [{ item: 'a', position: 0, propensity: 0.5 }] }), // bad position
      imp({ clicks: ['z'] }), // click on an item not shown
      '{not json',
      imp({ user: 'u2', ts: 1763632800000, items: [{ item: 'c', position: 2, propensity: 1 }], clicks: [] }),
    ].join('\n'),
  );

  it('validates each impression with zod and counts the rejections by reason', async () => {
    const l = await loadRecoJsonl(path);
    expect(l.rowsRead).toBe(7);
    expect(l.log.nSlates).toBe(2);
    expect(Array.from(l.log.reward)).toEqual([0, 1, 0]);
    expect(Array.from(l.log.position)).toEqual([0, 1, 1]);
    expect(l.itemIds).toEqual(['a', 'b', 'c']);
    expect(l.log.slateSize).toBe(2);
    expect(l.rejected.byReason).toEqual({
      'missing propensity': 1,
      'propensity outside (0,1]': 1,
      'bad position': 1,
      'invalid record': 1,
      'not JSON': 1,
    });
    expect(l.rejected.examples.map((e) => e.line)).toEqual([2, 3, 4, 5, 6]);
  });

  it('reads a probability that rounded a hair above 1 (a sum of probabilities, as logged before the cap) as 1; rejects one clearly above', async () => {
    const p = write(
      'rounded.jsonl',
      [
        imp({
          items: [
            { item: 'a', position: 1, propensity: 0.5, inSlateProbability: 67 / 257 + 165 / 257 + 25 / 257 },
            { item: 'b', position: 2, propensity: 0.25, inSlateProbability: 0.5 },
          ],
        }),
        imp({
          slateId: 's2',
          items: [{ item: 'a', position: 1, propensity: 0.5, inSlateProbability: 1.001 }],
        }),
        imp({ slateId: 's3', items: [{ item: 'a', position: 1, propensity: 1.000001 }], clicks: [] }),
      ].join('\n'),
    );
    expect(67 / 257 + 165 / 257 + 25 / 257).toBeGreaterThan(1);
    const l = await loadRecoJsonl(p);
    expect(l.log.nSlates).toBe(1);
    expect(l.rejected.examples.map((e) => e.line)).toEqual([2, 3]);
    expect(l.rejected.examples[0].detail).toMatch(/inSlateProbability: must be at most 1/);
    expect(l.rejected.byReason['propensity outside (0,1]']).toBe(1);
  });

  it('rejects unknown items when a catalogue is given', async () => {
    const l = await loadRecoJsonl(path, { catalogue: ['a', 'b'] });
    expect(l.rejected.byReason['unknown item']).toBe(1);
  });
});

describe('policy files', () => {
  it('loads a BTS prior per campaign and names the campaigns it has', () => {
    const p = write('prior.yaml', 'men:\n  alpha: [1.0, 2.0]\n  beta: [10.0, 20.0]\n');
    expect(loadBtsPrior(p, 'men')).toEqual({ alpha: [1, 2], beta: [10, 20] });
    expect(() => loadBtsPrior(p, 'women')).toThrow(/has: men/);
    const bad = write('bad.yaml', 'men:\n  alpha: [1.0, 2.0]\n  beta: [10.0]\n');
    expect(() => loadBtsPrior(bad, 'men')).toThrow(/same length/);
  });

  it('loads fixed and slate-distribution POLICY.json files', () => {
    expect(loadPolicyFile(write('p1.json', '{"kind":"fixed","slate":[3,1,2]}'))).toEqual({
      kind: 'fixed',
      slate: [3, 1, 2],
    });
    expect(
      loadPolicyFile(write('p2.json', '{"kind":"slates","slates":[{"items":["a","b"],"p":1}]}')).kind,
    ).toBe('slates');
    expect(() => loadPolicyFile(write('p3.json', '{"kind":"greedy"}'))).toThrow(InputFileError);
  });
});

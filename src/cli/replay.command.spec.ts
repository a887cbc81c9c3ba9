import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerReplayCommand } from './replay.command';
import { CliError } from './cli-error';

// The command on its own program, as src/cli.ts builds it (exitOverride: errors throw instead of exiting).
function program(): { run: (args: string[]) => Promise<void>; err: () => string } {
  let err = '';
  const p = new Command('reco')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: (s) => (err += s) });
  registerReplayCommand(p);
  return {
    run: async (args) => void (await p.parseAsync(['node', 'reco', 'replay', ...args])),
    err: () => err,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'reco-replay-cli-'));
const csv = join(dir, 'men.csv');
const header = ',timestamp,item_id,position,click,propensity_score,user_feature_0';
const rows = Array.from(
  { length: 60 },
  (_, i) =>
    `${i},2019-11-24 00:00:${String(i).padStart(2, '0')}+00:00,${i % 4},${(i % 3) + 1},${i % 7 === 0 ? 1 : 0},0.25,u`,
);
writeFileSync(csv, [header, ...rows, '60,2019-11-24 00:01:00+00:00,1,2,0,,u'].join('\n'));

describe('reco replay (command)', () => {
  it('rejects an unknown estimator naming the flag', async () => {
    const p = program();
    await expect(
      p.run(['--format', 'obd', '--log', csv, '--policy', 'random', '--estimators', 'ipw,nope']),
    ).rejects.toBeInstanceOf(CommanderError);
    expect(p.err()).toMatch(/--estimators.*unknown estimator nope/);
  });

  it('rejects a bad --format and a negative --bootstrap', async () => {
    const p = program();
    await expect(p.run(['--format', 'csv', '--log', csv, '--policy', 'random'])).rejects.toBeInstanceOf(
      CommanderError,
    );
    expect(p.err()).toMatch(/--format/);
    await expect(
      program().run(['--format', 'obd', '--log', csv, '--policy', 'random', '--bootstrap', '-1']),
    ).rejects.toBeInstanceOf(CommanderError);
  });

  it('turns input problems into a CliError (exit 2, no stack)', async () => {
    await expect(
      program().run([
        '--format',
        'obd',
        '--log',
        join(dir, 'missing.csv'),
        '--policy',
        'random',
        '--items',
        '4',
      ]),
    ).rejects.toBeInstanceOf(CliError);
    await expect(
      program().run(['--format', 'obd', '--log', csv, '--policy', 'bts', '--items', '4']),
    ).rejects.toThrow(/--prior/);
  });

  it('prints one JSON object with estimates, intervals and rejected rows', async () => {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const report = join(dir, 'r.html');
      await program().run([
        '--format',
        'obd',
        '--log',
        csv,
        '--policy',
        'random',
        '--items',
        '4',
        '--bootstrap',
        '50',
        '--json',
        '--report',
        report,
      ]);
      const j = JSON.parse(String(write.mock.calls.map((c) => c[0]).join('')));
      expect(j.rows).toMatchObject({
        read: 61,
        used: 60,
        rejected: 1,
        rejectedByReason: { 'missing propensity': 1 },
      });
      expect(j.rows.rejectedExamples[0].line).toBe(62);
      expect(Object.keys(j.estimates)).toEqual([
        'ipw',
        'snipw',
        'ipw_clipped',
        'dm',
        'dr',
        'sips',
        'iips',
        'rips',
        'pi',
        'replay',
      ]);
      // The logger is uniform and so is the policy: every weight is 1 and IPS equals the log mean.
      expect(j.estimates.ipw.value).toBeCloseTo(j.onPolicyMeanReward, 12);
      expect(j.estimates.ipw.ci95[0]).toBeLessThanOrEqual(j.estimates.ipw.value);
      const html = readFileSync(report, 'utf8');
      expect(html).toMatch(/^<!doctype html>[\s\S]*<svg[\s\S]*<\/html>\n$/);
      expect(html).not.toMatch(/https?:\/\/|<script|<link/);
    } finally {
      write.mockRestore();
    }
  });
});

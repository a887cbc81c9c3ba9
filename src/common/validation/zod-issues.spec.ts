import { z } from 'zod';
import { zodIssues } from './zod-issues';

describe('zodIssues', () => {
  it('names the path of each problem, prefixed by its input', () => {
    const schema = z.object({
      size: z.number().int().max(100),
      items: z.array(z.object({ id: z.string() })),
    });
    const r = schema.safeParse({ size: 101, items: [{ id: 'a' }, { id: 3 }] });
    expect(r.success).toBe(false);
    const issues = zodIssues(r.error!, 'body');
    expect(issues.map((i) => i.path).sort()).toEqual(['body.items[1].id', 'body.size']);
    expect(issues.find((i) => i.path === 'body.size')!.message).toMatch(/100/);
  });
  it('uses (root) for a problem with the whole value', () => {
    const r = z.object({}).safeParse('x');
    expect(zodIssues(r.error!)).toEqual([{ path: '(root)', message: expect.any(String) }]);
  });
});

import { ThrottledCount } from './throttled-count';

describe('ThrottledCount', () => {
  it('reports the first occurrence at once, then at most once a period, with how many came since', () => {
    let t = 0;
    const c = new ThrottledCount(10_000, () => t);
    expect(c.take()).toBe(1);
    t = 5_000;
    expect(c.take(3)).toBeUndefined();
    expect(c.take()).toBeUndefined();
    t = 10_000;
    expect(c.take()).toBe(5);
    t = 19_999;
    expect(c.take()).toBeUndefined();
    t = 30_000;
    expect(c.take(2)).toBe(3);
  });
});

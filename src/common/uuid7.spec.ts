import { z } from 'zod';
import { uuid7, uuid7Time } from './uuid7';

describe('uuid7', () => {
  it('is an RFC 9562 version 7 UUID carrying the time, valid wherever a slate id is checked', () => {
    const at = Date.UTC(2026, 11, 7, 3, 30, 0, 123);
    const id = uuid7(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuid7Time(id)).toBe(at);
    expect(id.startsWith(at.toString(16).padStart(12, '0').slice(0, 8))).toBe(true);
    expect(z.uuid().safeParse(id).success).toBe(true);
    // The extremes of 48 bits of milliseconds.
    expect(uuid7(0).startsWith('00000000-0000-7')).toBe(true);
    expect(uuid7Time(uuid7(2 ** 48 - 1))).toBe(2 ** 48 - 1);
  });

  it('sorts by time across milliseconds, and draws fresh random bits every time', () => {
    const ids: string[] = [];
    for (let k = 0; k < 100_000; k++) ids.push(uuid7(1_700_000_000_000 + Math.floor(k / 100)));
    for (let k = 100; k < ids.length; k += 100) expect(ids[k - 1] < ids[k]).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    // The 74 random bits look uniform: each hex digit of the last group about equally often.
    const counts = new Array<number>(16).fill(0);
    for (const id of ids) for (const ch of id.slice(24)) counts[parseInt(ch, 16)]++;
    const mean = (ids.length * 12) / 16;
    for (const c of counts) expect(Math.abs(c - mean) / mean).toBeLessThan(0.02);
  });
});

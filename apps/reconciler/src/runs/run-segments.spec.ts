import { identityRanges, segmentJobId } from './run-segments';

describe('identityRanges', () => {
  it('cuts the uuid space into adjacent ranges from the zero uuid to the last one', () => {
    const ranges = identityRanges(4).map((r) => r.split('..'));
    expect(ranges).toHaveLength(4);
    expect(ranges[0][0]).toBe('00000000-0000-0000-0000-000000000000');
    expect(ranges[1][0]).toBe('40000000-0000-0000-0000-000000000000');
    expect(ranges[3][1]).toBe('ffffffff-ffff-ffff-ffff-ffffffffffff');
    for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBe(ranges[i - 1][1]);
  });

  it('is one range for one segment', () => {
    expect(identityRanges(1)).toEqual(['00000000-0000-0000-0000-000000000000..ffffffff-ffff-ffff-ffff-ffffffffffff']);
  });

  it('holds ids evenly: 10,000 random ids over 4 ranges, each within 20% of a quarter', () => {
    const ranges = identityRanges(4).map((r) => r.split('..'));
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 10_000; i++) {
      const id = crypto.randomUUID();
      counts[ranges.findIndex(([after, upTo]) => id > after && id <= upTo)] += 1;
    }
    for (const c of counts) expect(Math.abs(c - 2500)).toBeLessThan(500);
  });
});

describe('segmentJobId', () => {
  it('names run, kind, segment and generation without a colon', () => {
    expect(segmentJobId({ run_id: 'r', kind: 'read', segment: 2 }, 3)).toBe('r-read-2-g3');
  });
});

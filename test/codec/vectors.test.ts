import { describe, expect, it } from 'vitest';
import { decodeAll } from '../support/decode.js';
import { loadVector, vectorNames, vectorsAvailable } from '../support/vectors.js';

const available = vectorsAvailable();

describe.skipIf(!available)('real kubectl vectors decode to their expectedSummary', () => {
  const names = available ? vectorNames() : [];
  it('finds the vectors', () => {
    expect(names.length).toBeGreaterThan(100);
  });
  for (const name of names) {
    it(name, () => {
      const v = loadVector(name);
      const { summary, events } = decodeAll([v.c2s], [v.s2c]);
      expect(summary).toEqual(v.expectedSummary);
      expect(events.filter((e) => e.type === 'decode.anomaly')).toEqual([]);
    });
  }
});

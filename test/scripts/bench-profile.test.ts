/**
 * The bench's profile summary (scripts/bench/profile.mjs): per-call inclusive and self time from a
 * V8 CPU profile, each function counted once per sample even when it recurses.
 */
import { describe, expect, it } from 'vitest';
import { profileTable } from '../../scripts/bench/profile.mjs';

const frame = (functionName: string, lineNumber = 0) => ({ functionName, url: functionName.startsWith('(') ? '' : 'file:///x/app.js', lineNumber, columnNumber: 0, scriptId: '1' });

describe('profileTable', () => {
  it('attributes sampled time to functions, inclusive and self, per call', () => {
    // root → charge → commit; root → charge → charge (recursion) ; root → (idle)
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 5] },
        { id: 2, callFrame: frame('charge', 9), children: [3, 4] },
        { id: 3, callFrame: frame('commit', 19), children: [] },
        { id: 4, callFrame: frame('charge', 9), children: [] },
        { id: 5, callFrame: frame('(idle)'), children: [] },
      ],
      // timeDeltas[i + 1] is the time the i-th sample stands for
      samples: [3, 3, 4, 5, 2],
      timeDeltas: [0, 100, 100, 50, 400, 30],
      startTime: 0,
      endTime: 680,
    };
    const lines = profileTable(profile, 10);
    expect(lines[0]).toBe('sampled 1 ms over 10 calls; inclusive (self) time per call, µs');
    expect(lines.slice(1)).toEqual([
      '    40.0 (  40.0)  (idle)',
      '    28.0 (   8.0)  charge app.js:10',
      '    20.0 (  20.0)  commit app.js:20',
    ]);
  });
});

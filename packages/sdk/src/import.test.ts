import { describe, expect, test } from 'vitest';
import { RowCounter, type BodyFormat } from './import.js';

/** Counts `body` fed in chunks of `size` bytes, so every boundary (inside strings, escapes, quotes) is crossed. */
function count(format: BodyFormat, body: string, size: number): number {
  const bytes = new TextEncoder().encode(body);
  const counter = new RowCounter(format);
  for (let i = 0; i < bytes.length; i += size) counter.push(bytes.subarray(i, i + size));
  counter.end();
  return counter.rows;
}

describe('RowCounter', () => {
  const json = '[{"data":{"text":"a } ] { \\" [ tricky"}},\n {"data":{"nested":[{"x":1},{"y":[2]}]}}, {"data":{"text":"ünïcødé {"}}]';
  const single = '{"data":{"text":"one { item"}}';
  const ndjson = '{"data":{"text":"a"}}\n\n  \n{"data":{"text":"b\\nc"}}\r\n{"data":{"text":"d"}}';
  const csv = 'external_id,text\n1,"a line\nwith a newline, and ""quotes"""\n2,plain\n3,"x"\n';

  for (const size of [1, 3, 7, 1024]) {
    test(`counts items across chunk boundaries (chunks of ${size} bytes)`, () => {
      expect(count('json', json, size)).toBe(3);
      expect(count('json', single, size)).toBe(1);
      expect(count('json', '[]', size)).toBe(0);
      expect(count('ndjson', ndjson, size)).toBe(3);
      expect(count('ndjson', ndjson + '\n', size)).toBe(3);
      expect(count('csv', csv, size)).toBe(3);
      expect(count('csv', csv.trimEnd(), size)).toBe(3);
      expect(count('csv', 'external_id,text\n', size)).toBe(0);
    });
  }
});

import { describe, expect, test } from 'vitest';
import { differences, generate, outOfStepMessage, type Generated } from '../src/codegen/codegen.js';

let generated: Promise<Generated> | undefined;
/** What the routes produce now (one run of the gateway's OpenAPI CLI for the file). */
const current = () => (generated ??= generate());

// Other branches add routes; when this fails, run `pnpm sdk:generate` and commit what it rewrote.
describe('the committed OpenAPI document and SDK types', () => {
  test('match what the gateway routes produce now (else: pnpm sdk:generate)', async () => {
    const diffs = await differences(await current());
    expect(diffs, outOfStepMessage(diffs)).toEqual([]);
  });

  test('a stale file is reported with what differs and the command that fixes it', async () => {
    const now = await current();
    const doc = JSON.parse(now.document) as { paths: Record<string, unknown> };
    doc.paths['/v1/made-up'] = { get: { operationId: 'madeUp' } };
    delete doc.paths['/healthz'];
    const diffs = await differences({ document: JSON.stringify(doc, null, 2) + '\n', types: now.types + '// edited\n' });
    // The committed files are the ones compared against: here the "routes" changed.
    expect(diffs).toEqual([
      'packages/sdk/openapi.json differs from the routes\' document:',
      '  added:   GET /v1/made-up',
      '  removed: GET /healthz',
      expect.stringMatching(/^packages\/sdk\/src\/generated\/openapi\.ts differs from what openapi-typescript makes of the document \(first at line \d+\):$/),
      '  committed: (empty line)',
      '  expected:  // edited',
    ]);
    expect(outOfStepMessage(diffs)).toContain('Fix: run `pnpm sdk:generate`');
  });
});

import { expect } from 'vitest';

interface Reply {
  statusCode: number;
  body: string;
  json(): unknown;
}

export interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>[];
}

/** Asserts an error answer: its status, its code and the one error shape. Returns the error for more checks. */
export function expectError(res: Reply, status: number, code: string): ErrorBody {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json() as { error: ErrorBody };
  expect(body).toMatchObject({ error: { code, message: expect.any(String), details: expect.any(Array) } });
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

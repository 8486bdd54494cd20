import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// The client company's webhook receiver: an HTTP server on 127.0.0.1 that checks each delivery's
// Standard Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the
// endpoint's secret, as a client's server would, and keeps what arrived.

export interface Delivery {
  id: string;
  type: string;
  data: Record<string, unknown>;
  at: number;
  verified: boolean;
}

export class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  /** webhook-id → times received (a retry carries the same id). */
  readonly seen = new Map<string, number>();
  private server: Server | null = null;
  private secrets: Buffer[] = [];
  url = '';

  /** Secrets of the endpoints this receiver serves (`whsec_…`), known once they are created. */
  addSecret(secret: string): void {
    this.secrets.push(Buffer.from(secret.replace(/^whsec_/, ''), 'base64'));
  }

  verify(id: string, timestamp: string, body: string, header: string): boolean {
    const signed = `${id}.${timestamp}.${body}`;
    return this.secrets.some((key) => {
      const expected = Buffer.from(createHmac('sha256', key).update(signed).digest('base64'));
      return header.split(' ').some((sig) => {
        const [version, value] = sig.split(',');
        const got = Buffer.from(value ?? '');
        return version === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
      });
    });
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const id = String(req.headers['webhook-id'] ?? '');
        const verified = this.verify(id, String(req.headers['webhook-timestamp'] ?? ''), body, String(req.headers['webhook-signature'] ?? ''));
        this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
        let event: { type?: string; data?: Record<string, unknown> } = {};
        try {
          event = JSON.parse(body) as typeof event;
        } catch {
          /* counted as unverified below */
        }
        if ((this.seen.get(id) ?? 0) === 1) this.deliveries.push({ id, type: event.type ?? 'unknown', data: event.data ?? {}, at: Date.now(), verified });
        res.writeHead(verified ? 204 : 401).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  of(type: string): Delivery[] {
    return this.deliveries.filter((d) => d.type === type);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '@fairlabel/sdk';

// The client company's webhook receiver: an HTTP server on 127.0.0.1 that checks each delivery's
// Standard Webhooks signature with the endpoint's secret (the SDK's verifyWebhook), as a client's
// server would, answers 401 to a delivery that fails it, and keeps what arrived.

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
  private secrets: string[] = [];
  url = '';

  /** Secrets of the endpoints this receiver serves (`whsec_…`), known once they are created. */
  addSecret(secret: string): void {
    this.secrets.push(secret);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const id = String(req.headers['webhook-id'] ?? '');
        let event: { type?: string; data?: Record<string, unknown> } = {};
        let verified = false;
        try {
          event = verifyWebhook<typeof event>({ secret: this.secrets, headers: req.headers, body }).payload;
          verified = true;
        } catch {
          /* a wrong signature, a stale timestamp or a body that is not JSON: refused, counted */
        }
        this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
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

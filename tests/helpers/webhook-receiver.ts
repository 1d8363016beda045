/**
 * A real HTTP server on loopback that receives the notifier's webhook POSTs, so the alert tests
 * check what actually went over the wire (one place for the observe tests that need one).
 */
import { createServer } from 'node:http';

export interface WebhookReceiver {
  url: string;
  /** Each received JSON body, in arrival order. */
  got: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(path = '/hook'): Promise<WebhookReceiver> {
  const got: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (d: Buffer) => (data += d.toString()));
    req.on('end', () => {
      got.push(JSON.parse(data) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}${path}`, got, close: () => new Promise<void>((r) => server.close(() => r())) };
}

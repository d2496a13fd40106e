import http from 'node:http';

/** What `send` got back: status, headers, text, and the body parsed when it is JSON. */
export interface Answer { status: number; headers: http.IncomingHttpHeaders; text: string; json?: Record<string, unknown> }

/** One request with node:http (no keep-alive), body as given. */
export function send(url: string, method: string, path: string, headers: Record<string, string | number> = {}, body?: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url + path, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> | undefined;
        try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

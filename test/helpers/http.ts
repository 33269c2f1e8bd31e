/** A plain HTTP GET against a local listener (the plugins' /healthz, /readyz, /metrics). */
import * as http from 'http';

export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** The port a server listens on (started on port 0). */
export function portOf(server: http.Server | undefined): number {
  const address = server?.address();
  if (!address || typeof address !== 'object') throw new Error('the server is not listening');
  return address.port;
}

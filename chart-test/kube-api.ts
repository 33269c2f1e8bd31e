/**
 * The smallest Kubernetes API client the chart test needs: JSON over HTTPS with a bearer token, the way a pod
 * talks to the API server with its ServiceAccount (no kubectl, no client library in the image).
 */
import * as fs from 'fs';
import * as https from 'https';

export interface ApiConfig {
  /** e.g. https://10.96.0.1:443 */
  readonly server: string;
  readonly token: string;
  /** PEM CA bundle of the API server's certificate. */
  readonly ca: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * In a pod: the kubernetes Service from the environment and the mounted ServiceAccount token and CA. Outside
 * one (the e2e tier runs the checks from the host with the same ServiceAccount's token): KDP_API_SERVER,
 * KDP_TOKEN_FILE and KDP_CA_FILE.
 */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const server =
    env.KDP_API_SERVER ??
    (host && `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`);
  if (!server)
    throw new Error('no API server: set KDP_API_SERVER, or run in a pod (KUBERNETES_SERVICE_HOST)');
  const read = (file: string) => fs.readFileSync(file, 'utf8');
  return {
    server,
    token: read(env.KDP_TOKEN_FILE ?? `${SERVICE_ACCOUNT_DIR}/token`).trim(),
    ca: read(env.KDP_CA_FILE ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`),
  };
}

export interface ApiResponse {
  readonly status: number;
  // The decoded JSON body (a Status object on errors).
  readonly body: Record<string, unknown>;
}

/** One request; the body is JSON both ways. Network errors reject; HTTP errors resolve with their status. */
export function apiRequest(
  config: ApiConfig,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<ApiResponse> {
  const url = new URL(path, config.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      {
        method,
        ca: config.ca,
        timeout: 10_000,
        headers: {
          authorization: `Bearer ${config.token}`,
          accept: 'application/json',
          ...(payload && {
            // PATCH bodies are JSON merge patches.
            'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
            'content-length': Buffer.byteLength(payload),
          }),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = { message: text.slice(0, 500) };
          }
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    request.on('error', reject);
    request.end(payload);
  });
}

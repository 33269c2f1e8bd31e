/** The bundle's name, version and defaults (names and labels per release: release.ts). */
import * as fs from 'fs';
import * as path from 'path';

export const APP_NAME = 'kube-device-plugins';

/** The namespace the cdk8s app deploys into (the Helm chart uses the release namespace instead). */
export const DEFAULT_NAMESPACE = 'kube-system';

/** The package version, read from the nearest package.json named kube-device-plugins (src and dist alike). */
export function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === APP_NAME && pkg.version) return pkg.version;
  }
  throw new Error(`cannot find the ${APP_NAME} package.json above ${__dirname}`);
}

/**
 * Merges construct props over defaults, skipping props that are undefined (a plain spread would let
 * `{ sharedCount: undefined }` erase the default).
 */
export function withDefaults<D extends object, P extends object>(defaults: D, props: P): D & P {
  const merged: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [key, value] of Object.entries(props)) if (value !== undefined) merged[key] = value;
  return merged as D & P;
}

/**
 * The pod spec of a hook (the chart test, the DRA uninstall Job) besides its containers: runs once, as nobody,
 * with its own ServiceAccount's token.
 */
export function hookPodSpec(serviceAccountName: string, imagePullSecrets: Array<{ name: string }>) {
  return {
    serviceAccountName,
    automountServiceAccountToken: true,
    enableServiceLinks: false,
    restartPolicy: 'Never',
    imagePullSecrets,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

/** A hook's container: no escalation, no capabilities. */
export const HOOK_CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

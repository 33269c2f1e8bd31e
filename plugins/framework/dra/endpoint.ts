/**
 * One gRPC server on one unix socket that a kubelet may delete (it clears plugin dirs on restart, and
 * an operator may too). `ensure()` serves again whenever the file we bound is gone or replaced; the
 * owner calls it from a directory watch and a slow poll, as the device-plugin manager does.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Logger } from '../log';
import { fileIdentity } from '../manager';
import { assertSocketPath } from '../names';
import type { ServiceSpec } from '../grpc-protocol';
import { GrpcServer, type Implementation } from '../grpc-server';
import { SHUTDOWN_GRACE_MS, socketAnswers } from '../resource-server';

export type ServiceSet = [ServiceSpec, Implementation][];

export class UnixEndpoint {
  private server?: GrpcServer;
  /** inode + ctime of the socket file we bound: anything else at the path means serve again. */
  private boundIdentity?: string;
  /** Called after every (re)bind, so the owner can reset state tied to the old socket. */
  onServed?: () => void;

  constructor(
    readonly socketPath: string,
    private readonly services: () => ServiceSet,
    private readonly log: Logger,
  ) {
    assertSocketPath(socketPath, '--kubelet-root-dir');
  }

  serving(): boolean {
    return this.server !== undefined && fileIdentity(this.socketPath) === this.boundIdentity;
  }

  /** Serve unless the socket we bound is still there. Returns true when it (re)bound. */
  async ensure(): Promise<boolean> {
    if (this.serving()) return false;
    if (this.boundIdentity) this.log.info('our socket was removed or replaced; serving again');
    await this.close();
    // Only a socket nothing answers on is stale: a live one belongs to another instance.
    if (await socketAnswers(this.socketPath))
      throw new Error(
        `another process serves ${this.socketPath}; not touching it (two drivers on one node?)`,
      );
    fs.mkdirSync(path.dirname(this.socketPath), { recursive: true });
    fs.rmSync(this.socketPath, { force: true });
    // The kubelet may prepare many claims at once: more streams than a device plugin's 16 (resource-server.ts).
    const server = new GrpcServer({ maxConcurrentStreams: 256 });
    for (const [spec, implementation] of this.services()) server.addService(spec, implementation);
    await server.listen(this.socketPath).catch((err: Error) => {
      throw new Error(`cannot serve on ${this.socketPath}: ${err.message}`);
    });
    this.server = server;
    this.boundIdentity = fileIdentity(this.socketPath);
    this.log.info('serving', { socket: this.socketPath });
    this.onServed?.();
    return true;
  }

  /** Stop serving and remove our socket file (only if it is still the one we bound). */
  async close(removeFile = false): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await server.shutdown(SHUTDOWN_GRACE_MS);
    if (removeFile && this.boundIdentity && fileIdentity(this.socketPath) === this.boundIdentity)
      fs.rmSync(this.socketPath, { force: true });
    this.boundIdentity = undefined;
  }
}

/**
 * Node's floor for a device plugin: the least a Node process can do to be one, run by the vs-go bench beside
 * ours and the Go floor. No gRPC library and none of our framework: node:http2 by hand, every response but
 * Allocate's answered from bytes encoded once at start. It registers, sends one ListAndWatch list (the node
 * as `--shared-count` IDs, Healthy) and answers Allocate with the node; it watches nothing and checks
 * nothing, so it is not a plugin anyone should run. What it measures is what Node and its http2 cost on
 * their own (start-up, idle memory, a round trip), the part of each figure no code of ours can remove.
 *
 *   node <runtime flags> dist/bench/node-floor-plugin.js DEVICE_PLUGIN_DIR RESOURCE NODE SHARED_COUNT
 */
import * as http2 from 'http2';
import * as net from 'net';
import * as path from 'path';
import * as api from '../plugins/framework/api';
import { encode, type MessageType } from '../plugins/framework/wire';

const [dir, resource, node, shares] = process.argv.slice(2);
const socketName = 'node-floor.sock';

/** One gRPC message on the wire: uncompressed flag, 4-byte length, the protobuf bytes. */
function frame(type: MessageType, message: Record<string, unknown>): Buffer {
  const body = encode(type, message);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

const ids = Array.from({ length: Number(shares) }, (_, i) => `kvm-${i}`);
const list = frame(api.ListAndWatchResponse, { devices: ids.map((ID) => ({ ID, health: 'Healthy' })) });
const allocated = frame(api.AllocateResponse, {
  container_responses: [{ devices: [{ container_path: '/dev/kvm', host_path: node, permissions: 'rw' }] }],
});
const options = frame(api.DevicePluginOptions, {});
const GRPC = { ':status': 200, 'content-type': 'application/grpc' };

const server = http2.createServer();
server.on('stream', (stream, headers) => {
  const route = headers[':path'];
  stream.on('error', () => undefined); // the kubelet going away ends its streams; nothing to do
  if (route === '/v1beta1.DevicePlugin/ListAndWatch') {
    stream.respond(GRPC);
    stream.write(list); // and stays open, as the kubelet expects
    return;
  }
  const body = route === '/v1beta1.DevicePlugin/Allocate' ? allocated : options;
  stream.resume(); // read the request to its end (its content does not matter to the floor)
  stream.on('end', () => {
    stream.respond(GRPC, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(body);
  });
});

/** Register with the kubelet: one unary call over a client session on kubelet.sock. */
function register(): void {
  const session = http2.connect('http://localhost', {
    createConnection: () => net.connect(path.join(dir, 'kubelet.sock')),
  });
  const call = session.request({
    ':method': 'POST',
    ':path': '/v1beta1.Registration/Register',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  call.on('trailers', (trailers) => {
    if (trailers['grpc-status'] !== '0') throw new Error(`Register failed: ${JSON.stringify(trailers)}`);
  });
  call.on('close', () => session.close());
  call.resume();
  call.end(frame(api.RegisterRequest, { version: 'v1beta1', endpoint: socketName, resource_name: resource }));
}

server.listen(path.join(dir, socketName), register);
process.on('SIGTERM', () => process.exit(0));

/**
 * The runtime codec's message tables must match proto/*.proto exactly (names, numbers, types), and
 * bytes must round-trip with an independent protobuf implementation (protobufjs parsing the .proto).
 */
import * as path from 'path';
import * as protobuf from 'protobufjs';
import * as api from '../../plugins/framework/api';
import { decode, encode, type MessageType } from '../../plugins/framework/wire';

const root = new protobuf.Root();
root.loadSync(
  [
    path.join(__dirname, '../../proto/deviceplugin-v1beta1.proto'),
    path.join(__dirname, '../../proto/podresources-v1.proto'),
  ],
  {
    keepCase: true,
  },
);
root.resolveAll();

function describeTable(type: MessageType) {
  return type.fields.map((f) => ({
    no: f.no,
    name: f.name,
    type: f.type === 'map' ? 'map<string,string>' : typeof f.type === 'string' ? f.type : f.type.name,
    repeated: !!f.repeated,
  }));
}

function describeProto(type: protobuf.Type) {
  return type.fieldsArray.map((f) => ({
    no: f.id,
    name: f.name,
    type:
      f instanceof protobuf.MapField
        ? `map<${f.keyType},${f.type}>`
        : f.resolvedType
          ? f.resolvedType.fullName.slice(1)
          : f.type,
    repeated: f.repeated,
  }));
}

test.each(api.ALL_MESSAGES.map((m) => [m.name, m] as const))('%s matches the .proto', (name, type) => {
  expect(describeTable(type)).toEqual(describeProto(root.lookupType(name)));
});

test('every message and service method in the .proto files has a table', () => {
  const names = new Set(api.ALL_MESSAGES.map((m) => m.name));
  const all: string[] = [];
  const walk = (ns: protobuf.NamespaceBase) =>
    ns.nestedArray.forEach((n) =>
      n instanceof protobuf.Type ? all.push(n.fullName.slice(1)) : n instanceof protobuf.Namespace && walk(n),
    );
  walk(root);
  expect(all.filter((n) => !names.has(n))).toEqual([]);
});

const samples: [MessageType, Record<string, unknown>][] = [
  [
    api.RegisterRequest,
    {
      version: 'v1beta1',
      endpoint: 'x.sock',
      resource_name: 'a.io/b',
      options: { pre_start_required: true, get_preferred_allocation_available: false },
    },
  ],
  [
    api.ListAndWatchResponse,
    {
      devices: [
        { ID: 'a', health: 'Healthy', topology: { nodes: [{ ID: 0 }, { ID: 3 }] } },
        { ID: 'b', health: 'Unhealthy', topology: null },
      ],
    },
  ],
  [
    api.PreferredAllocationRequest,
    {
      container_requests: [
        { available_deviceIDs: ['a', 'b'], must_include_deviceIDs: ['a'], allocation_size: 2 },
      ],
    },
  ],
  [
    api.AllocateResponse,
    {
      container_responses: [
        {
          envs: { A: '1', ü: 'ünïcode' },
          mounts: [{ container_path: '/c', host_path: '/h', read_only: true }],
          devices: [{ container_path: '/dev/x', host_path: '/dev/x', permissions: 'rw' }],
          annotations: { k: 'v' },
          cdi_devices: [{ name: 'a.io/b=c' }],
        },
      ],
    },
  ],
  [
    api.PrListPodResourcesResponse,
    {
      pod_resources: [
        {
          name: 'p',
          namespace: 'n',
          containers: [
            {
              name: 'c',
              devices: [{ resource_name: 'a.io/b', device_ids: ['1', '2'], topology: null }],
              cpu_ids: [0, 5, 300],
              memory: [{ memory_type: 'memory', size: 8589934592, topology: null }],
              dynamic_resources: [],
            },
          ],
        },
      ],
    },
  ],
];

test.each(samples.map(([t, v]) => [t.name, t, v] as const))(
  '%s round-trips with protobufjs both ways',
  (name, type, value) => {
    const ref = root.lookupType(name);
    const ours = encode(type, value);
    const theirs = Buffer.from(ref.encode(ref.fromObject(value)).finish());
    expect(decode(type, theirs)).toEqual(value);
    expect(ref.toObject(ref.decode(ours), { longs: Number, defaults: true })).toEqual(
      ref.toObject(ref.decode(theirs), { longs: Number, defaults: true }),
    );
  },
);

test('unknown fields are skipped and defaults filled in', () => {
  // field 9 (varint) and field 10 (bytes) are unknown to RegisterRequest
  const bytes = Buffer.concat([
    Buffer.from([0x48, 0x05, 0x52, 0x01, 0x41]),
    encode(api.RegisterRequest, { version: 'v1beta1' }),
  ]);
  expect(decode(api.RegisterRequest, bytes)).toEqual({
    version: 'v1beta1',
    endpoint: '',
    resource_name: '',
    options: null,
  });
});

test('truncated input is an error, not a bad message', () => {
  const bytes = encode(api.RegisterRequest, { version: 'v1beta1', endpoint: 'x.sock' });
  expect(() => decode(api.RegisterRequest, bytes.subarray(0, bytes.length - 2))).toThrow(/truncated/);
});

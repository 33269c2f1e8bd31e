/**
 * The runtime codec's message tables must match proto/*.proto exactly (names, numbers, types), and
 * bytes must round-trip with an independent protobuf implementation (protobufjs parsing the .proto).
 */
import * as path from 'path';
import * as api from '../../plugins/framework/api';
import { decode, encode, type MessageType } from '../../plugins/framework/wire';
import { allMessageNames, describeProto, describeTable, loadRoot } from './proto-tables';

const root = loadRoot([
  path.join(__dirname, '../../proto/deviceplugin-v1beta1.proto'),
  path.join(__dirname, '../../proto/podresources-v1.proto'),
]);

test.each(api.ALL_MESSAGES.map((m) => [m.name, m] as const))('%s matches the .proto', (name, type) => {
  expect(describeTable(type)).toEqual(describeProto(root.lookupType(name)));
});

test('every message and service method in the .proto files has a table', () => {
  const names = new Set(api.ALL_MESSAGES.map((m) => m.name));
  expect(allMessageNames(root).filter((n) => !names.has(n))).toEqual([]);
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
    // Varint edges: the encoder's number fast path ends at 2^31 - 1; negative and larger values take BigInt.
    api.PreferredAllocationRequest,
    {
      container_requests: [
        { available_deviceIDs: ['a'], must_include_deviceIDs: [], allocation_size: -1 },
        { available_deviceIDs: ['b'], must_include_deviceIDs: [], allocation_size: 2 ** 31 - 1 },
        { available_deviceIDs: ['c'], must_include_deviceIDs: [], allocation_size: 127 },
        { available_deviceIDs: ['d'], must_include_deviceIDs: [], allocation_size: 128 },
      ],
    },
  ],
  [
    api.ListAndWatchResponse,
    {
      devices: [{ ID: 'a', health: 'Healthy', topology: { nodes: [{ ID: 2 ** 31 }, { ID: 2 ** 53 - 1 }] } }],
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

test('device-plugin encodings are byte-identical to the codec before DRA support', () => {
  // Golden bytes recorded before wire.ts learned enums, optional and map<string,Message>.
  const response = {
    container_responses: [
      {
        envs: { A: '1' },
        mounts: [{ container_path: '/c', host_path: '/h', read_only: true }],
        devices: [{ container_path: '/d', host_path: '/d', permissions: 'rw' }],
        annotations: { k: 'v' },
        cdi_devices: [{ name: 'a/b=c' }],
      },
    ],
  };
  expect(encode(api.AllocateResponse, response).toString('hex')).toBe(
    '0a330a060a0141120131120a0a022f6312022f6818011a0c0a022f6412022f641a02727722060a016b1201762a070a05612f623d63',
  );
  const devices = { devices: [{ ID: 'a', health: 'Healthy', topology: { nodes: [{ ID: 0 }, { ID: 2 }] } }] };
  expect(encode(api.ListAndWatchResponse, devices).toString('hex')).toBe(
    '0a140a016112074865616c7468791a060a000a020802',
  );
  const allocatable = { devices: [], cpu_ids: [1, 2, 300], memory: [{ memory_type: 'm', size: 2 ** 40 }] };
  expect(encode(api.PrAllocatableResourcesResponse, allocatable).toString('hex')).toBe(
    '1001100210ac021a0a0a016d10808080808020',
  );
});

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

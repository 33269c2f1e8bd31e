/**
 * The DRA codec tables (plugins/framework/dra/api.ts) must match proto/{pluginregistration,dra,dra-health}
 * exactly, and bytes must round-trip with protobufjs parsing the upstream .proto files: maps of messages,
 * proto3 `optional` and enums included.
 */
import * as path from 'path';
import * as dra from '../../plugins/framework/dra/api';
import { decode, encode, type MessageType } from '../../plugins/framework/wire';
import { allMessageNames, describeProto, describeTable, loadRoot } from './proto-tables';

const proto = (f: string) => path.join(__dirname, '../../proto', f);
// dra v1 and v1beta1 declare the same message names in different packages; one root holds all four.
const root = loadRoot([
  proto('pluginregistration-v1.proto'),
  proto('dra-v1.proto'),
  proto('dra-v1beta1.proto'),
  proto('dra-health-v1.proto'),
]);

test.each(dra.ALL_DRA_MESSAGES.map((m) => [m.name, m] as const))('%s matches the .proto', (name, type) => {
  expect(describeTable(type)).toEqual(describeProto(root.lookupType(name)));
});

test('every message in the DRA .proto files has a table', () => {
  const names = new Set(dra.ALL_DRA_MESSAGES.map((m) => m.name));
  expect(allMessageNames(root).filter((n) => !names.has(n))).toEqual([]);
});

test('the gRPC routes are the services the .proto files declare', () => {
  const routes = (spec: Record<string, { path: string }>) => Object.values(spec).map((m) => m.path);
  const declared = (service: string) =>
    root.lookupService(service).methodsArray.map((m) => `/${service}/${m.name}`);
  const s = dra.draServices;
  expect(routes(s.registration)).toEqual(declared('pluginregistration.Registration'));
  expect(routes(s.draV1)).toEqual(declared('k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin'));
  expect(routes(s.draV1beta1)).toEqual(declared('k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin'));
  expect(routes(s.health)).toEqual(declared('v1.DRAResourceHealth'));
});

const claim = { namespace: 'ns', uid: '0b7e-uid', name: 'gpu-claim' };
const samples: [MessageType, Record<string, unknown>][] = [
  [
    dra.PluginInfo,
    {
      type: 'DRAPlugin',
      name: 'kvm.kdp.example',
      endpoint: '/var/lib/kubelet/plugins/kvm.kdp.example/dra.sock',
      supported_versions: ['v1.DRAPlugin', 'v1beta1.DRAPlugin'],
    },
  ],
  [dra.RegistrationStatus, { plugin_registered: false, error: 'version mismatch' }],
  [dra.draV1.NodePrepareResourcesRequest, { claims: [claim, { ...claim, uid: 'u2', name: 'b' }] }],
  [
    dra.draV1.NodePrepareResourcesResponse,
    {
      claims: {
        '0b7e-uid': {
          devices: [
            {
              request_names: ['kvm'],
              pool_name: 'node-1',
              device_name: 'kvm-0',
              cdi_device_ids: ['kdp.example/kvm=0b7e-uid-kvm-0'],
              share_id: '', // proto3 optional: set to its default, and still sent
            },
            { request_names: [], pool_name: 'node-1', device_name: 'kvm-1', cdi_device_ids: [] },
          ],
          error: '',
        },
        u2: { devices: [], error: 'claim ns/b: not allocated' },
        u3: { devices: [], error: '' }, // an all-default value: the entry still carries its key
      },
    },
  ],
  [
    dra.draV1beta1.NodePrepareResourcesResponse,
    {
      claims: {
        u: {
          devices: [{ request_names: ['r'], pool_name: 'p', device_name: 'd', cdi_device_ids: ['a.io/b=c'] }],
          error: '',
        },
      },
    },
  ],
  [dra.draV1.NodeUnprepareResourcesResponse, { claims: { a: { error: '' }, b: { error: 'busy' } } }],
  [
    dra.NodeWatchResourcesResponse,
    {
      devices: [
        {
          device: { pool_name: 'node-1', device_name: 'kvm-0' },
          health: 2,
          last_updated_time: 1764867000,
          health_check_timeout_seconds: 30,
          message: '/dev/kvm vanished',
        },
        { device: null, health: 0, last_updated_time: 0, health_check_timeout_seconds: 0, message: '' },
      ],
    },
  ],
];

test.each(samples.map(([t, v], i) => [`${t.name} #${i}`, t, v] as const))(
  '%s round-trips with protobufjs both ways',
  (name, type, value) => {
    const ref = root.lookupType(type.name);
    const ours = encode(type, value);
    const theirs = Buffer.from(ref.encode(ref.fromObject(value)).finish());
    expect(decode(type, theirs)).toEqual(value);
    expect(decode(type, ours)).toEqual(value);
    const view = (b: Buffer) => ref.toObject(ref.decode(b), { longs: Number, defaults: true, oneofs: false });
    expect(view(ours)).toEqual(view(theirs));
  },
);

test('an optional field is sent when set to its default and absent when unset', () => {
  const Device = dra.draV1.Device;
  const set = encode(Device, { device_name: 'd', share_id: '' });
  const unset = encode(Device, { device_name: 'd' });
  expect(set.length).toBe(unset.length + 2); // tag 5, length 0
  expect(decode(Device, set).share_id).toBe('');
  expect('share_id' in decode(Device, unset)).toBe(false);
  const ref = root.lookupType(Device.name);
  expect(Object.hasOwn(ref.decode(set), 'share_id')).toBe(true);
});

test('an unknown enum value is kept as its number', () => {
  const bytes = Buffer.from([0x10, 0x07]); // health = 7
  expect(decode(dra.DeviceHealth, bytes).health).toBe(7);
});

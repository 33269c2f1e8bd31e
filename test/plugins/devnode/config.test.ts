import * as path from 'path';
import { loadConfig, parseConfig, renderContainerPath } from '../../../plugins/devnode/config';
import { REPO_ROOT } from '../device-nodes/helpers';

describe('devnode config', () => {
  test('the shipped crand example: defaults filled in', () => {
    expect(loadConfig(path.join(REPO_ROOT, 'fixtures/devnode/crand.yaml'))).toEqual({
      resources: [
        {
          name: 'github.com.ihcsim/crand',
          glob: 'crand*',
          containerPath: '/dev/{path}',
          permissions: 'rw',
          shareCount: 1,
        },
      ],
    });
  });

  test('the shipped examples file is valid', () => {
    const config = loadConfig(path.join(REPO_ROOT, 'fixtures/devnode/examples.yaml'));
    expect(config.resources.map((r) => r.name)).toEqual([
      'github.com.ihcsim/crand',
      'devices.example.com/fuse',
      'devices.example.com/tun',
      'devices.example.com/render',
      'devices.example.com/serial',
    ]);
    expect(config.resources[2]).toMatchObject({ permissions: 'rwm', shareCount: 10 });
  });

  test('JSON works as well as YAML', () => {
    const json = JSON.stringify(
      { resources: [{ name: 'a.example/x', glob: 'x*', shareCount: 2 }] },
      null,
      '\t',
    );
    expect(parseConfig(json, 'c.json').resources[0]).toMatchObject({ name: 'a.example/x', shareCount: 2 });
  });

  test('syntax errors name the file', () => {
    expect(() => parseConfig('resources: [', 'c.yaml')).toThrow(/^c.yaml is not valid YAML or JSON: /);
    expect(() => parseConfig('{"resources": ', 'c.json')).toThrow(/^c.json is not valid YAML or JSON: /);
  });

  test.each([
    ['', /top level must be a mapping/],
    ['- a', /top level must be a mapping/],
    ['resources: []', /"resources" must be a non-empty list/],
    ['resources: [x]\nextra: 1', /unknown top-level key "extra".*resources\[0\] must be a mapping/],
    ['resources: [{glob: x}]', /resources\[0\].name must be a string/],
    ['resources: [{name: crand, glob: x}]', /resources\[0\].name: "crand" has no domain prefix/],
    ['resources: [{name: a.example/x}]', /resources\[0\].glob must be a string/],
    [
      'resources: [{name: a.example/x, glob: /dev/x}]',
      /resources\[0\].glob: glob "\/dev\/x" must be relative/,
    ],
    [
      'resources: [{name: a.example/x, glob: "x[", sharecount: 2}]',
      /unknown key "sharecount".*unclosed "\["/,
    ],
    ['resources: [{name: a.example/x, glob: x, containerPath: dev/x}]', /must be an absolute path/],
    [
      'resources: [{name: a.example/x, glob: x, containerPath: "/dev/{node}"}]',
      /unknown placeholder \{node\}/,
    ],
    ['resources: [{name: a.example/x, glob: x, containerPath: "/dev/../x"}]', /may not contain "\.\."/],
    [
      'resources: [{name: a.example/x, glob: x, permissions: rx}]',
      /permissions must be a combination of r, w and m/,
    ],
    ['resources: [{name: a.example/x, glob: x, permissions: rr}]', /permissions must be a combination/],
    [
      'resources: [{name: a.example/x, glob: x, shareCount: 0}]',
      /shareCount must be an integer from 1 to 10000, got 0/,
    ],
    ['resources: [{name: a.example/x, glob: x, shareCount: 1.5}]', /shareCount must be an integer/],
    [
      'resources: [{name: a.example/x, glob: x}, {name: a.example/x, glob: y}]',
      /resource "a.example\/x" appears twice/,
    ],
  ])('%j is refused: %s', (text, reason) => {
    expect(() => parseConfig(text, 'c.yaml')).toThrow(reason);
  });

  test('every problem is reported at once', () => {
    const text =
      'resources: [{name: bad, glob: "/x", permissions: q}, {name: a.example/y, glob: y, shareCount: -1}]';
    expect(() => parseConfig(text, 'c.yaml')).toThrow(
      /resources\[0\].name: .*; resources\[0\].glob: .*; resources\[0\].permissions .*; resources\[1\].shareCount/,
    );
  });

  test('container path templates', () => {
    expect(renderContainerPath('/dev/{path}', 'dri/renderD128')).toBe('/dev/dri/renderD128');
    expect(renderContainerPath('/dev/gpu/{name}', 'dri/renderD128')).toBe('/dev/gpu/renderD128');
    expect(renderContainerPath('/dev/crand', 'crand0')).toBe('/dev/crand');
  });
});

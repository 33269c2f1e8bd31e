/** The template-mode building blocks and the YAML emitter, on small inputs. */
import * as yaml from 'js-yaml';
import { goJson } from '../../synth/helm/go-json';
import { defineDerivation, derive, nonEmpty, symbolic, token, when } from '../../synth/helm/symbolic';
import { listLines, mapLines } from '../../synth/helm/template-yaml';

const int = symbolic<number>('int', '$.Values.n');
const str = symbolic<string>('str', '$.Values.s');
const bool = symbolic<boolean>('bool', '$.Values.b');

test('plain values are emitted so that YAML 1.1 (Helm) and 1.2 read the same', () => {
  const value = {
    a: 'n',
    b: 'on',
    c: '10m',
    d: '/dev',
    e: 'x: y',
    f: '',
    g: 'line one\nline two',
    h: [],
    i: {},
    j: 3,
  };
  const text = mapLines(value, 0).join('\n');
  expect(text).toContain('a: "n"');
  expect(text).toContain('b: "on"');
  expect(text).toContain('d: /dev');
  expect(text).toContain('g: |-');
  expect(yaml.load(text)).toEqual(value);
});

test('tokens become template actions of their type', () => {
  expect(mapLines({ port: int, name: str, on: bool }, 0)).toEqual([
    'port: {{ int $.Values.n }}',
    'name: {{ $.Values.s | toJson }}',
    '"on": {{ $.Values.b }}',
  ]);
  expect(listLines([`--count=${int}`, `50% of ${str}`], 2)).toEqual([
    '  - {{ printf "--count=%v" (int $.Values.n) | toJson }}',
    '  - {{ printf "50%% of %v" ($.Values.s) | toJson }}',
  ]);
  expect(mapLines({ spec: { tolerations: token('yaml', '$.Values.t') } }, 0)).toEqual([
    'spec:',
    '  tolerations: {{- toYaml $.Values.t | nindent 4 }}',
  ]);
});

test('literal braces never reach the template engine', () => {
  expect(mapLines({ x: 'a }} b' }, 0)).toEqual(['x: {{ "a }} b" | toJson }}']);
});

test('conditional items, and keys whose items are all conditional', () => {
  expect(when(true, 'a')).toEqual(['a']);
  expect(when(false, 'a')).toEqual([]);
  expect(mapLines({ list: ['a', ...when(bool, 'b')] }, 0)).toEqual([
    'list:',
    '  - a',
    '  {{- if $.Values.b }}',
    '  - b',
    '  {{- end }}',
  ]);
  expect(mapLines({ list: when(bool, 'b') }, 0)).toEqual([
    '{{- if $.Values.b }}',
    'list:',
    '  {{- if $.Values.b }}',
    '  - b',
    '  {{- end }}',
    '{{- end }}',
  ]);
  expect(nonEmpty([])).toBe(false);
  expect(nonEmpty(str)).toBe(token('bool', '$.Values.s'));
});

test('derivations compute with plain values and include their template with tokens', () => {
  const joined = defineDerivation({
    name: 'kdp.test.joined',
    compute: ({ a, b }: { a: string; b: string }) => `${a}-${b}`,
    template: '{{ .a }}-{{ .b }}',
  });
  expect(derive(joined, { a: 'x', b: 'y' })).toBe('x-y');
  expect(mapLines({ v: derive(joined, { a: str, b: str }) }, 0)).toEqual([
    'v: {{ include "kdp.test.joined" (dict "a" $.Values.s "b" $.Values.s) | toJson }}',
  ]);
  expect(() => derive(joined, { a: str, b: 'y' })).toThrow(/mix/);
});

test('goJson writes JSON as Go does', () => {
  expect(goJson({ b: 1, a: ['<&>'] })).toBe('{"a":["\\u003c\\u0026\\u003e"],"b":1}');
  expect(goJson({ b: [], a: {} }, true)).toBe('{\n  "a": {},\n  "b": []\n}');
});

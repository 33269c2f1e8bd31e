// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';

/** The plugin families: each is a folder plugins/<name>/ (docs/ARCHITECTURE.md). */
const FAMILIES = ['tdx', 'kvm', 'devnode', 'cxi', 'netdevice', 'cex'];
/** Code that never ships: test support, demos, benchmarks and the fault tier. */
const NOT_PRODUCT = ['./simulator', './fixtures', './demo', './bench', './faults', './test', './chart-test'];

/**
 * The layers, top-down (docs/ARCHITECTURE.md): entry points (plugins/cli) → families → the shared engine
 * (plugins/device-nodes) → the framework; plugins/catalogue is data anyone may read. Each zone forbids
 * `target` files to import `from` files (paths as resolved, however the import is spelled).
 */
const LAYER_ZONES = [
  {
    target: './plugins/framework',
    from: ['./plugins/cli', './plugins/device-nodes', ...FAMILIES.map((f) => `./plugins/${f}`)],
    message: 'the framework is the bottom layer: it imports no CLI, family or engine',
  },
  {
    target: './plugins/device-nodes',
    from: ['./plugins/cli', ...FAMILIES.map((f) => `./plugins/${f}`)],
    message: 'the shared engine imports only the framework',
  },
  ...FAMILIES.map((family) => ({
    target: `./plugins/${family}`,
    from: ['./plugins/cli', ...FAMILIES.filter((f) => f !== family).map((f) => `./plugins/${f}`)],
    message: 'a family imports the framework and the engine, never the CLI or another family',
  })),
  {
    target: './plugins',
    from: [...NOT_PRODUCT, './synth', './nfd-rules'],
    message: 'the product (plugins/) never imports test support, demos, benchmarks or the chart',
  },
  {
    target: ['./synth', './nfd-rules'],
    from: './plugins',
    except: ['./catalogue'],
    message: 'the chart reads the dependency-free catalogues (plugins/catalogue), never plugin runtime code',
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'charts/**', 'coverage/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // Boundaries (proven by test/lint/boundaries.test.ts, which lints deliberately bad imports).
  {
    files: ['**/*.ts'],
    plugins: { import: importPlugin },
    settings: {
      'import/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import/resolver': { node: { extensions: ['.ts', '.js', '.json'] } },
    },
    rules: {
      'import/no-cycle': ['error', { ignoreExternal: true }],
      'import/no-restricted-paths': ['error', { zones: LAYER_ZONES }],
    },
  },
  {
    files: ['plugins/**/*.ts', 'synth/**/*.ts', 'nfd-rules/**/*.ts'],
    ignores: ['plugins/framework/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@grpc/*'],
              message: 'only the framework speaks gRPC (a family fails an allocation with GrpcStatus)',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['plugins/framework/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@grpc/*'],
              message:
                'a plugin process loads no gRPC library: grpc-server.ts and grpc-client.ts speak gRPC on node:http2 (issue 15)',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['plugins/catalogue/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!\\./)',
              message: 'a catalogue is dependency-free data: it imports only other catalogues (./…)',
            },
          ],
        },
      ],
    },
  },
);

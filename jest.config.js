/** Jest runs the TypeScript sources directly through ts-jest; `npm test` runs every suite serially
 * (--runInBand) because the integration suites bind real unix sockets and network namespaces. */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testTimeout: 30000,
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
};

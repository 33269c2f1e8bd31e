/** In-memory API stand-ins for tests: see simulator/dra-api.ts. */
export * from '../../simulator/dra-api';

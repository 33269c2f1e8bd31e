/** The Node.js flags are data in the catalogue (the chart reads them too); re-exported for the CLI's users. */
export { NODE_RUNTIME_FLAGS } from '../catalogue/node-flags';

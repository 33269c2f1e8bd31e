/** Validates CDI specs against the upstream JSON schema (schema.json + defs.json, draft-07). */
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv';
import { UPSTREAM_DIR } from './upstream';

let validator: ((spec: unknown) => string[]) | undefined;

export function cdiSchemaErrors(spec: unknown): string[] {
  if (!validator) {
    const dir = path.join(UPSTREAM_DIR, 'cdi');
    const ajv = new Ajv({ allErrors: true, strict: false });
    // schema.json refers to "defs.json#/definitions/..." relative to itself.
    ajv.addSchema({ ...JSON.parse(fs.readFileSync(path.join(dir, 'defs.json'), 'utf8')), $id: 'defs.json' });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(dir, 'schema.json'), 'utf8')));
    validator = (s) =>
      validate(JSON.parse(JSON.stringify(s)))
        ? []
        : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  }
  return validator(spec);
}

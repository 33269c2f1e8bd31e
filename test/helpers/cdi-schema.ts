/**
 * Validates CDI specs against the upstream JSON schema (schema.json + defs.json, draft-07) in
 * ../shared/upstream/cdi. In a user's clone that directory is absent: then only the loader rules the
 * framework enforces are checked, and the skipped schema check is printed once (under CI=true a
 * missing directory is an error instead).
 */
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv';
import { cdiSpecErrors, type CdiSpec } from '../../plugins/framework/cdi';
import { UPSTREAM_DIR, upstreamAvailable } from './upstream';

let validator: ((spec: unknown) => string[]) | undefined;
let warned = false;

export function cdiSchemaErrors(spec: unknown): string[] {
  if (!upstreamAvailable()) {
    if (!warned)
      console.warn(
        `SKIPPED upstream CDI schema check: ${UPSTREAM_DIR} is not present; checking the CDI loader rules only`,
      );
    warned = true;
    return cdiSpecErrors(spec as CdiSpec);
  }
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

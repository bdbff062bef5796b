import Ajv2020, { type ErrorObject } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { eventSchema } from './index.ts';

/** The event schema compiled with ajv (draft 2020-12, formats asserted), for the generator and the tests. */
const ajv = new Ajv2020.default({ allErrors: true, strict: true, strictRequired: false });
addFormats.default(ajv);
const validate = ajv.compile(eventSchema);

export function validateEvent(value: unknown): { valid: true } | { valid: false; errors: string[] } {
  if (validate(value)) return { valid: true };
  return { valid: false, errors: (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim()) };
}

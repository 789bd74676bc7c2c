/**
 * JSON Schema validation for the tasks' `--json` documents (docs/schemas/*.schema.json).
 *
 * @module
 */
// deno-lint-ignore no-import-prefix -- a full specifier, so that mod.ts imports with no import map
import { Ajv } from "npm:ajv@8.20.0";
import { ROOT } from "./_helpers.ts";

const ajv = new Ajv({ allErrors: true, strict: true });
ajv.addFormat("date-time", (s: string) => !Number.isNaN(Date.parse(s)));

/** A validator for one task's schema; `errors` explains the last failure. */
export async function schemaValidator(task: string): Promise<{ (doc: unknown): boolean; errors: string }> {
  const compiled = ajv.compile(JSON.parse(await Deno.readTextFile(`${ROOT}/docs/schemas/${task}.schema.json`)));
  // A getter defined on the function itself (Object.assign would copy its value once, at creation: null).
  const validate = (doc: unknown): boolean => compiled(doc) as boolean;
  Object.defineProperty(validate, "errors", { get: () => JSON.stringify(compiled.errors) });
  return validate as typeof validate & { errors: string };
}

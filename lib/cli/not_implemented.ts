/**
 * Entry point for tasks whose part has not been built yet: it says so plainly and exits 1, with no fake output.
 *
 * @module
 */
import { runTask } from "./run.ts";
import { ClipcmpError } from "../errors.ts";

/**
 * Fails the task `task` with a "not implemented yet" message naming the issue that will build it.
 *
 * @param task The task name, e.g. `params`.
 * @param what What the part will do, for the message.
 */
export function notImplemented(task: string, what: string): Promise<never> {
  return runTask(task, (args) => {
    if (args.includes("--help") || args.includes("-h")) {
      console.log(`clipcmp ${task}: ${what}.\nThis part is not implemented yet.`);
      return Promise.resolve(0);
    }
    throw new ClipcmpError(`not implemented yet: ${what} (tracked in the project's issues)`);
  });
}

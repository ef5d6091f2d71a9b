/** Resource names and tags shared by both targets. */
import { type ConfigIssue, PROJECT } from "../config";
import { tagValueProblem } from "./alibaba";

/**
 * Name prefix for every cloud resource of a stack. It must be valid in the strictest place it
 * goes: RAM role names (letters, digits, `.` and `-`), policy names (letters, digits and `-`) and
 * the instance's host name (no `--`, no leading or trailing `-`). So any run of other characters
 * (Pulumi allows `_` and `.` in stack names) becomes one `-`, and the result never ends in `-`.
 */
export function namePrefix(stack: string): string {
  const clean = stack
    .replace(/[^A-Za-z0-9]+/g, "-")
    .slice(0, 40)
    .replace(/^-+|-+$/g, "");
  return clean ? `vace-${clean}` : "vace";
}

/** What Alibaba Cloud would reject about a stack name: it is the `stack` tag's value. */
export function stackNameIssues(stack: string): ConfigIssue[] {
  const problem = tagValueProblem(stack);
  return problem
    ? [
        {
          key: "stack",
          message: `stack name ${problem.replace(/^"[^"]*" /, "")}; create the stack under another name (pulumi stack init)`,
        },
      ]
    : [];
}

export interface TagInputs {
  stack: string;
  owner: string;
  /** ISO 8601 release time; the reaper and people use it to see what is overdue. */
  expiresAt: string;
}

/** Tags on every taggable resource. Keys and values may not start with `aliyun`, `acs:` or http(s)://. */
export function standardTags(t: TagInputs): Record<string, string> {
  return { project: PROJECT, stack: t.stack, owner: t.owner, "expires-at": t.expiresAt };
}

/** Resource names and tags shared by both targets. */
import { PROJECT } from "../config";

/**
 * Name prefix for every cloud resource of a stack. Alibaba names allow 2–128 characters of
 * letters, digits, `-` and `_`, starting with a letter, so anything else in the stack name becomes `-`.
 */
export function namePrefix(stack: string): string {
  const clean = stack.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 40);
  return `vace-${clean}`;
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

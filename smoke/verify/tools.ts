import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Whether an executable called `name` is on PATH (what a shell's `command -v` would find). */
export function onPath(name: string, path = process.env.PATH ?? ""): boolean {
  return path
    .split(delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/**
 * `mkdir -p` that always ends and names the real cause. Node's recursive mkdir loops forever under
 * /proc (`--out /proc/nope` hung the smoke) and reports ENOENT on a read-only file system, so each
 * missing level is made on its own, and its own error is the one reported.
 */
import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/** Creates `dir` and any missing parents; throws an Error naming the folder and the cause. */
export async function makeFolder(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    const found = await stat(d).catch((e: NodeJS.ErrnoException) => {
      // Missing, or below a file: keep walking up to say which.
      if (e.code === "ENOENT" || e.code === "ENOTDIR") return undefined;
      throw new Error(`cannot create ${dir}: ${e.message}`);
    });
    if (found) {
      if (!found.isDirectory())
        throw new Error(`cannot create ${dir}: ${d} is a file, not a folder`);
      break;
    }
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    await mkdir(d).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "EEXIST") return; // made meanwhile by someone else: fine
      // ENOENT although the parent exists: a file system that takes no new folders (/proc, /sys).
      const why =
        e.code === "ENOENT" ? `${dirname(d)} does not accept new folders (${e.code})` : e.message;
      throw new Error(`cannot create ${dir}: ${why}`);
    });
  }
}

/**
 * A file replaced in one step: written beside its final name, flushed to disk, then renamed over it.
 * A crash leaves the old file or the new one, never a torn one (rename is atomic within a folder).
 */
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const partial = join(dirname(path), `.${basename(path)}.${process.pid}.partial`);
  try {
    const f = await open(partial, "w", 0o644);
    try {
      await f.writeFile(data);
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
  // The rename itself is durable once the folder is flushed (not possible on every platform).
  const folder = await open(dirname(path), "r").catch(() => undefined);
  await folder?.sync().catch(() => {});
  await folder?.close();
}

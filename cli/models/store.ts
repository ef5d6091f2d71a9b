/**
 * `vace models fp8`: turns each fetched model whose manifest entry has `stored` into its stored
 * form, in place under its ComfyUI name. Nothing is lost on any failure: the verified download
 * stays where it was until the converted file is complete and matches every pinned value, and only
 * then replaces it with one rename.
 */
import { rename, rm, stat } from "node:fs/promises";
import { CONVERTER_KEY, convertFile, FP8_DTYPE, isConverted } from "./convert";
import { sha256File } from "./hash";
import { type ModelEntry, type Stored, targetPath } from "./manifest";

export type StoreOutcome =
  | {
      entry: ModelEntry;
      status: "converted" | "present";
      size: number;
      sha256: string;
      pinned: boolean;
    }
  | { entry: ModelEntry; status: "failed"; message: string };

function label(entry: ModelEntry): string {
  return `${entry.folder}/${entry.name}`;
}

/** Pinned values the file breaks, as "size expected X, actual Y" phrases (empty: all match). */
function mismatches(stored: Stored, size: number, sha256: string): string[] {
  const out: string[] = [];
  if (stored.size !== undefined && stored.size !== size) {
    out.push(`size expected ${stored.size}, actual ${size}`);
  }
  if (stored.sha256 !== undefined && stored.sha256 !== sha256) {
    out.push(`sha256 expected ${stored.sha256}, actual ${sha256}`);
  }
  return out;
}

async function storeOne(
  dir: string,
  entry: ModelEntry & { stored: Stored },
): Promise<StoreOutcome> {
  const path = targetPath(dir, entry);
  const pinned = entry.stored.size !== undefined && entry.stored.sha256 !== undefined;
  const fail = (message: string): StoreOutcome => ({
    entry,
    status: "failed",
    message: `${label(entry)}: ${message}`,
  });
  const info = await stat(path).catch(() => undefined);
  if (!info)
    return fail(`missing; run \`vace models fetch\` first (expected sha256 ${entry.sha256})`);

  if (await isConverted(path)) {
    const sha256 = await sha256File(path);
    const wrong = mismatches(entry.stored, info.size, sha256);
    if (wrong.length > 0) {
      return fail(
        `the converted file does not match docker/models.json (${wrong.join("; ")}); delete it and fetch again`,
      );
    }
    return { entry, status: "present", size: info.size, sha256, pinned };
  }

  // Only a verified download is converted: the output is a function of exactly those bytes.
  const sourceSha = info.size === entry.size ? await sha256File(path) : undefined;
  if (sourceSha !== entry.sha256) {
    return fail(
      `not the manifest's download (expected size ${entry.size} and sha256 ${entry.sha256}, ` +
        `actual size ${info.size}${sourceSha ? ` and sha256 ${sourceSha}` : ""}); run \`vace models fetch\` first`,
    );
  }
  const partial = `${path}.fp8.partial`;
  try {
    const result = await convertFile(path, partial);
    if (result.overflow.length > 0) {
      const where = result.overflow.map((o) => `${o.name} (${o.count})`).join(", ");
      return fail(
        `finite values beyond ${FP8_DTYPE}'s range would become NaN, as ComfyUI's load-time cast makes them: ${where}. ` +
          "The download was kept; this checkpoint should not be run in fp8",
      );
    }
    const wrong = mismatches(entry.stored, result.size, result.sha256);
    if (wrong.length > 0) {
      return fail(
        `converted file does not match docker/models.json (${wrong.join("; ")}); the download was kept`,
      );
    }
    await rename(partial, path);
    return { entry, status: "converted", size: result.size, sha256: result.sha256, pinned };
  } finally {
    await rm(partial, { force: true });
  }
}

/** Converts every entry that has `stored`; one failure does not stop the others. */
export async function storeModels(
  dir: string,
  entries: readonly ModelEntry[],
): Promise<StoreOutcome[]> {
  const outcomes: StoreOutcome[] = [];
  for (const entry of entries) {
    if (!entry.stored) continue;
    try {
      outcomes.push(await storeOne(dir, { ...entry, stored: entry.stored }));
    } catch (err) {
      outcomes.push({
        entry,
        status: "failed",
        message: `${label(entry)}: ${(err as Error).message}`,
      });
    }
  }
  return outcomes;
}

/** The line printed for a stored file; an unpinned one says exactly what to record. */
export function describeOutcome(o: Extract<StoreOutcome, { size: number }>): string {
  const head = `ok ${label(o.entry)} ${FP8_DTYPE} (${o.status}) size ${o.size} sha256 ${o.sha256}`;
  return o.pinned
    ? `${head} (matches docker/models.json)`
    : `${head} (NOT PINNED: record stored.size ${o.size} and stored.sha256 ${o.sha256} for ` +
        `${o.entry.name} in docker/models.json; metadata key ${CONVERTER_KEY})`;
}

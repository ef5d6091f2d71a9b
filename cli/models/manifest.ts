/**
 * The model manifest (docker/models.json): which files ComfyUI needs, where they go, where they
 * come from, and the exact bytes we accept (size + sha256). Loading validates everything once, so
 * the fetcher can trust every field.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";

/** A single path segment: no separators, no `..`, no leading dot (hidden or partial files). */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

const httpsUrl = z
  .string()
  .refine((s) => URL.canParse(s) && new URL(s).protocol === "https:", "must be an https:// URL");

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters");

/**
 * How the file is stored in the image when that differs from the download: converted at build by
 * `vace models fp8` (cli/models/convert.ts). The conversion is a pure function of the verified
 * download, so `size` and `sha256` of its output can be pinned once a real build has printed them;
 * until then the build prints them and verifies only the download. A pinned value is always checked.
 */
export const StoredSchema = z.object({
  dtype: z.literal("F8_E4M3"),
  /** The UNETLoader weight_dtype that loads this dtype without a cast (workflow test). */
  weightDtype: z.enum(["fp8_e4m3fn", "fp8_e4m3fn_fast"]),
  size: z.number().int().positive().optional(),
  sha256: sha256Hex.optional(),
  provenance: z.string().min(1),
});
export type Stored = z.infer<typeof StoredSchema>;

export const ModelEntrySchema = z.object({
  /** The file name ComfyUI sees (the seed workflow's name), not the upstream name. */
  name: z.string().regex(SEGMENT, "must be a plain file name (no '/', no leading '.')"),
  /** ComfyUI model folder, e.g. diffusion_models, text_encoders, vae. */
  folder: z.string().regex(SEGMENT, "must be a single folder name"),
  size: z.number().int().positive(),
  sha256: sha256Hex,
  /** Tried in order: the commit-pinned primary first, then mirrors. */
  sources: z.array(httpsUrl).min(1),
  /** Where size/sha256/URLs were taken from, so a reviewer can re-check them. */
  provenance: z.string().min(1),
  notes: z.string().optional(),
  loadedAs: z.string().optional(),
  stored: StoredSchema.optional(),
});
export type ModelEntry = z.infer<typeof ModelEntrySchema>;

export const ManifestSchema = z
  .object({
    description: z.string().optional(),
    models: z.array(ModelEntrySchema).min(1),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.models.forEach((e, i) => {
      const key = `${e.folder}/${e.name}`;
      if (seen.has(key)) {
        ctx.addIssue({ code: "custom", path: ["models", i, "name"], message: `duplicate ${key}` });
      }
      seen.add(key);
    });
  });
export type Manifest = z.infer<typeof ManifestSchema>;

export class ManifestError extends Error {
  override name = "ManifestError";
}

/** Validates parsed JSON; every problem is listed with its JSON path. */
export function parseManifest(data: unknown, source: string): Manifest {
  const r = ManifestSchema.safeParse(data);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new ManifestError(`${source} is not a valid model manifest:\n${problems.join("\n")}`);
}

export async function loadManifest(path: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ManifestError(`cannot read manifest ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`manifest ${path} is not JSON: ${(err as Error).message}`);
  }
  return parseManifest(data, path);
}

/** The entries named by `only` (all when empty); an unknown name is an error listing the known. */
export function selectModels(manifest: Manifest, only: readonly string[] = []): ModelEntry[] {
  if (only.length === 0) return manifest.models;
  const known = new Map(manifest.models.map((m) => [m.name, m]));
  const unknown = only.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new ManifestError(
      `no model named ${unknown.join(", ")} in the manifest; known: ${[...known.keys()].join(", ")}`,
    );
  }
  return [...new Set(only)].map((n) => known.get(n) as ModelEntry);
}

/**
 * Replaces a source URL's scheme and host (and port) with `baseUrl`'s, keeping path and query:
 * the same manifest then works against a mirror or a local test server.
 */
export function rebaseUrl(source: string, baseUrl: string): string {
  const base = new URL(baseUrl);
  const url = new URL(source);
  url.protocol = base.protocol;
  url.host = base.host;
  return url.toString();
}

/** Where the verified file lives: DIR/folder/name. */
export function targetPath(dir: string, entry: Pick<ModelEntry, "folder" | "name">): string {
  return join(dir, entry.folder, entry.name);
}

/** The download lands here first and is renamed to targetPath only once its sha256 matches. */
export function partialPath(dir: string, entry: Pick<ModelEntry, "folder" | "name">): string {
  return `${targetPath(dir, entry)}.partial`;
}

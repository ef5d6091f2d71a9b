/**
 * `vace models fetch` (design.md contract 5): puts every model of the manifest under DIR, each
 * verified by sha256. The image's models stage runs exactly this, so the build uses tested logic.
 *
 * Exit codes: 0 every file present and verified; 1 any file failed (each named with its expected
 * sha256, and the actual one on a mismatch); 2 usage error (bad option, unreadable manifest).
 */
import { type Command, InvalidArgumentError } from "commander";
import { CliError, ExitCode } from "./errors";
import { FETCH_DEFAULTS, fetchModels, ModelFetchError } from "./models/fetch";
import { loadManifest, ManifestError, selectModels } from "./models/manifest";
import { createProgress } from "./models/progress";
import { describeOutcome, storeModels } from "./models/store";
import { userPath } from "./run";

interface FetchCliOptions {
  manifest: string;
  dir: string;
  only: string[];
  baseUrl?: string;
  concurrency: number;
  retries: number;
}

function positiveInt(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`must be an integer ≥ ${min}`);
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function httpBaseUrl(value: string): string {
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) {
    throw new InvalidArgumentError(
      "must be an http:// or https:// URL, e.g. https://hf-mirror.com",
    );
  }
  return value;
}

export function registerModels(program: Command): void {
  const models = program.command("models").description("model files baked into the ComfyUI image");
  models
    .command("fetch")
    .description(
      "download the manifest's models into DIR/<folder>/<name>; each file is verified by sha256 " +
        "before it gets its final name",
    )
    .requiredOption("--manifest <file>", "model manifest, e.g. docker/models.json")
    .requiredOption("--dir <dir>", "ComfyUI models directory to fill")
    .option("--only <name>", "fetch only this model (repeatable)", collect, [])
    .option(
      "--base-url <url>",
      "replace every source's scheme and host (a mirror, a test server)",
      httpBaseUrl,
    )
    .option(
      "--concurrency <n>",
      "files downloaded at the same time",
      positiveInt(1),
      FETCH_DEFAULTS.concurrency,
    )
    .option(
      "--retries <n>",
      "failed attempts in a row per source, without 1% (at most 8 MiB) of new data, before " +
        "trying the next source; each source gets at most 10 × (N + 1) attempts per run",
      positiveInt(0),
      FETCH_DEFAULTS.retries,
    )
    .action(async (opts: FetchCliOptions) => {
      await runFetch(opts);
    });
  models
    .command("fp8")
    .description(
      "convert, in place, each fetched model whose manifest entry has `stored` to float8_e4m3fn " +
        "the way ComfyUI casts it at load (the image build runs this after fetch)",
    )
    .requiredOption("--manifest <file>", "model manifest, e.g. docker/models.json")
    .requiredOption("--dir <dir>", "ComfyUI models directory `models fetch` filled")
    .option("--only <name>", "convert only this model (repeatable)", collect, [])
    .action(async (opts: { manifest: string; dir: string; only: string[] }) => {
      await runStore(opts);
    });
}

async function loadEntries(manifest: string, only: string[]) {
  try {
    return selectModels(await loadManifest(userPath(manifest)), only);
  } catch (err) {
    if (err instanceof ManifestError) throw new CliError(ExitCode.usage, err.message);
    throw err;
  }
}

/** Exit codes as `models fetch`: 0 all stored and matching every pinned value, 1 any failure, 2 usage. */
async function runStore(opts: { manifest: string; dir: string; only: string[] }): Promise<void> {
  const outcomes = await storeModels(
    userPath(opts.dir),
    await loadEntries(opts.manifest, opts.only),
  );
  if (outcomes.length === 0) {
    process.stderr.write(
      "nothing to convert: no selected model has a `stored` form in the manifest\n",
    );
  }
  const failed: string[] = [];
  for (const o of outcomes) {
    if (o.status === "failed") failed.push(o.message);
    else process.stdout.write(`${describeOutcome(o)}\n`);
  }
  if (failed.length > 0) {
    throw new CliError(
      ExitCode.failed,
      `${failed.length} of ${outcomes.length} model(s) failed:\n${failed.join("\n")}`,
    );
  }
}

async function runFetch(opts: FetchCliOptions): Promise<void> {
  const entries = await loadEntries(opts.manifest, opts.only);

  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const progress = createProgress(entries, {
    out: process.stderr,
    tty: Boolean(process.stderr.isTTY),
    columns: process.stderr.columns,
  });
  try {
    const outcomes = await fetchModels(entries, {
      dir: userPath(opts.dir),
      baseUrl: opts.baseUrl,
      concurrency: opts.concurrency,
      retries: opts.retries,
      onEvent: progress.onEvent,
      signal: abort.signal,
    });
    progress.stop();
    for (const o of outcomes) {
      if (o.ok) {
        const how = o.result.status === "present" ? "present" : `downloaded from ${o.result.url}`;
        process.stdout.write(`ok ${o.entry.folder}/${o.entry.name} (${how})\n`);
      }
    }
    if (abort.signal.aborted) {
      throw new CliError(
        ExitCode.failed,
        "interrupted; downloaded bytes are kept as .partial files and the next run resumes them",
      );
    }
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length > 0) {
      const lines = failed.map((o) =>
        o.error instanceof ModelFetchError
          ? o.error.message
          : `${o.entry.folder}/${o.entry.name}: ${o.error.message} (expected sha256 ${o.entry.sha256})`,
      );
      throw new CliError(
        ExitCode.failed,
        `${failed.length} of ${outcomes.length} model(s) failed:\n${lines.join("\n")}`,
      );
    }
  } finally {
    progress.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

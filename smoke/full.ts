/**
 * A smoke profile's runs. `ci` is the one cheap r2v run. `full` is the seed's r2v run and then a v2v
 * edit at 832×480 whose input is that run's own video re-wrapped as a MOV: it proves the endpoint
 * edits an uploaded MOV at landscape 480P, through the same client fitting `vace run` uses.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { prepareEdit } from "./edit";
import { FFMPEG_MISSING, InputError } from "./inputs";
import type { SmokeReport } from "./report";
import { runSmoke, type SmokeOptions } from "./run";

const run = promisify(execFile);

/** The full profile's edit: v2v at landscape 480P from a MOV. */
export const FULL_EDIT = {
  workflow: "v2v",
  size: "832x480",
  prompt: "The same scene as a watercolor painting, soft brush strokes",
} as const;

/**
 * Runs the profile: the r2v smoke and, for `full` when that passed, the v2v edit, reported under
 * `edit`. The exit code is the first failure's; the edit shares the overall deadline.
 */
export async function runProfile(o: SmokeOptions): Promise<SmokeReport> {
  const started = Date.now();
  const report = await runSmoke(o);
  if (o.profile !== "full" || !report.ok || !report.video) return report;
  const work = await mkdtemp(join(o.outDir, ".v2v-"));
  try {
    report.edit = await runEdit(o, report, work, Date.now() - started);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (report.edit.error) {
    report.ok = false;
    report.exitCode = report.edit.exitCode;
    report.error = { ...report.edit.error, message: `v2v edit: ${report.edit.error.message}` };
  }
  return report;
}

/** The v2v edit of the r2v video; a client-side failure (ffmpeg) becomes the edit's error. */
async function runEdit(
  o: SmokeOptions,
  r2v: SmokeReport,
  work: string,
  elapsedMs: number,
): Promise<SmokeReport> {
  const log = o.log ?? (() => {});
  try {
    const mov = join(work, "r2v.mov");
    // Re-wrapped, not re-encoded: the same H.264 frames in a QuickTime container.
    await run("ffmpeg", [
      ...["-v", "error", "-y", "-i", r2v.video?.file as string],
      ...["-c", "copy", "-f", "mov", mov],
    ]).catch((e: NodeJS.ErrnoException & { stderr?: string }) => {
      throw new InputError(
        e.code === "ENOENT" ? FFMPEG_MISSING : `could not make the MOV: ${e.stderr ?? e.message}`,
      );
    });
    const prepared = await prepareEdit({
      workflow: FULL_EDIT.workflow,
      video: mov,
      size: FULL_EDIT.size,
      workDir: work,
    });
    log(`[v2v] the r2v video as a MOV, at ${FULL_EDIT.size}: ${prepared.changes.join("; ")}`);
    return await runSmoke({
      ...o,
      job: prepared.job,
      settings: prepared.settings,
      prompt: FULL_EDIT.prompt,
      timeoutMs: Math.max(1, o.timeoutMs - elapsedMs),
    });
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return {
      ...r2v,
      ok: false,
      exitCode: 1,
      workflow: FULL_EDIT.workflow,
      promptId: null,
      video: null,
      verification: null,
      content: null,
      timings: {},
      error: { phase: "upload", kind: "check", message: e.message },
    };
  }
}

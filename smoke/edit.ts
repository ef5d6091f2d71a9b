/**
 * `vace run`'s preparation: checks and fits the inputs of one workflow (smoke/inputs.ts) and turns
 * them into a SmokeJob for runSmoke, so an edit travels the smoke's one client (ready, preflight,
 * upload, submit, track, download, verify).
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import {
  FPS,
  fitMask,
  fitVideo,
  InputError,
  type MaskSource,
  type MediaInfo,
  planFit,
  probeMedia,
} from "./inputs";
import type { Profile } from "./profiles";
import type { JobUpload, SmokeJob } from "./run";
import { buildNamedWorkflow, WORKFLOW_INPUTS, type WorkflowName } from "./workflow";

/** The sizes Wan2.1 VACE 1.3B makes: 480P landscape, portrait and square. */
export const SIZES = ["832x480", "480x832", "480x480"] as const;
export type Size = (typeof SIZES)[number];

/** Pure: `832x480` as width and height. */
export function parseSize(size: Size): { width: number; height: number } {
  const [width, height] = size.split("x").map(Number) as [number, number];
  return { width, height };
}

export interface EditRequest {
  workflow: WorkflowName;
  video?: string;
  mask?: MaskSource;
  image?: string;
  size: Size;
  /** 4n+1; by default r2v makes 49, edits take the clip's length. */
  frames?: number;
  steps?: number;
  strength?: number;
  /** A folder for the fitted files (kept small: they are what is uploaded). */
  workDir: string;
}

export interface PreparedEdit {
  job: SmokeJob;
  /** Replaces the base profile's settings (size, frames, steps). */
  settings: Partial<Profile>;
  /** What was changed in the inputs, one line each. */
  changes: string[];
  /** The probed input video, when there is one. */
  source?: MediaInfo;
}

/** R2V's default length when no input video sets it: the seed's 49 frames. */
export const R2V_FRAMES = 49;

/**
 * Checks every input before any traffic and fits the videos; InputError (a usage error) on anything
 * the model cannot take: an unreadable or audio-only file, a clip over the frame limit, a mask of
 * another size, a missing input for the workflow, or one the workflow does not use.
 */
export async function prepareEdit(r: EditRequest): Promise<PreparedEdit> {
  const need = WORKFLOW_INPUTS[r.workflow];
  const problems: string[] = [];
  if (need.video && !r.video) problems.push(`--workflow ${r.workflow} needs --video`);
  if (!need.video && r.video) problems.push(`--workflow ${r.workflow} takes no --video`);
  if (need.mask && !r.mask)
    problems.push(`--workflow ${r.workflow} needs --mask FILE or --box x,y,w,h`);
  if (!need.mask && r.mask) problems.push(`--workflow ${r.workflow} takes no --mask or --box`);
  if (need.image === "required" && !r.image)
    problems.push(`--workflow ${r.workflow} needs --image`);
  if (problems.length) throw new InputError(problems.join("; "));
  const { width, height } = parseSize(r.size);
  const uploads: JobUpload[] = [];
  const changes: string[] = [];
  let frames = r.frames ?? R2V_FRAMES;
  let source: MediaInfo | undefined;
  if (r.video) {
    source = await probeMedia(r.video, "--video");
    const fit = r.workflow === "outpaint" ? "contain" : "cover";
    const plan = planFit(source, { width, height, frames: r.frames, fit });
    frames = plan.frames;
    changes.push(...plan.changes);
    if (r.mask) {
      const mask = await fitMask(r.mask, source, plan, r.workDir);
      changes.push(...mask.changes);
      uploads.push(await upload("mask", mask.file, "mask"));
    }
    const fitted = await fitVideo(r.video, plan, r.workDir);
    uploads.unshift(await upload("video", fitted, r.video));
  }
  if (r.image) {
    const data = await readFile(r.image).catch((e: Error) => {
      throw new InputError(`cannot read --image ${r.image}: ${e.message}`);
    });
    uploads.push({ role: "image", name: basename(r.image), data, source: r.image });
  }
  const settings: Partial<Profile> = { width, height, frames, fps: FPS };
  if (r.steps !== undefined) settings.steps = r.steps;
  const job: SmokeJob = {
    workflow: r.workflow,
    uploads,
    build: (files, { image: _, ...p }) => buildNamedWorkflow(r.workflow, p, files, r.strength),
  };
  return { job, settings, changes, source };
}

async function upload(role: JobUpload["role"], file: string, from: string): Promise<JobUpload> {
  return { role, name: basename(file), data: await readFile(file), source: from };
}

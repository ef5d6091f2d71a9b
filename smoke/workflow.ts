/**
 * The smoke test's ComfyUI workflow (`workflows/vace-r2v.json`) and the pure builder that fills it in.
 *
 * The JSON is the seed's API-format workflow with its faults fixed: the reference image now reaches
 * `WanVaceToVideo.reference_image` (the seed sent it to a PreviewImage only), the frame count is a literal
 * so ComfyUI's validator range-checks it (linked values are never checked), and TrimVideoLatent takes
 * WanVaceToVideo's `trim_latent` output so the prepended reference frame is cut from the video.
 */
import { z } from "zod";
import inpaintTemplate from "../workflows/vace-inpaint.json";
import outpaintTemplate from "../workflows/vace-outpaint.json";
import template from "../workflows/vace-r2v.json";
import v2vTemplate from "../workflows/vace-v2v.json";

/** A link to another node's output: `[node id, output index]`. */
export type Link = [string, number];
export interface ApiNode {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title?: string };
}
/** ComfyUI's API-format graph: `{node id: node}`. */
export type ApiWorkflow = Record<string, ApiNode>;

/** Node ids by role in `workflows/vace-r2v.json` (the seed's ids, kept so its users recognise them). */
export const NODE = {
  unet: "11",
  clip: "13",
  vae: "14",
  positive: "15",
  negative: "16",
  vace: "17",
  image: "18",
  resize: "22",
  sampler: "24",
  trim: "30",
  decode: "31",
  video: "32",
  /** The edit workflows' nodes (vace-v2v, vace-inpaint, vace-outpaint). */
  controlVideo: "40",
  maskVideo: "41",
  mask: "42",
  pad: "43",
} as const;

/** Inputs whose value is a file uploaded by the client itself, so preflight cannot check them. */
export const UPLOADED_INPUTS: ReadonlyArray<{ node: string; input: string }> = [
  { node: NODE.image, input: "image" },
  { node: NODE.controlVideo, input: "video" },
  { node: NODE.maskVideo, input: "video" },
];

const dimension = z
  .number()
  .int("must be a whole number")
  .min(16, "must be at least 16")
  .max(16384, "must be at most 16384")
  .multipleOf(16, "must be a multiple of 16 (WanVaceToVideo's step; other sizes fail at run time)");

/** What a smoke run may change in the workflow. Everything else is fixed by the JSON. */
export const WorkflowParams = z
  .object({
    prompt: z.string().refine((s) => s.trim().length > 0, "must not be empty"),
    negative: z.string(),
    seed: z
      .number()
      .int("must be a whole number")
      .min(0, "must be at least 0")
      // KSampler accepts up to 2^64-1, but JSON numbers above 2^53 lose precision in JavaScript.
      .max(Number.MAX_SAFE_INTEGER, "must be at most 2^53-1"),
    width: dimension,
    height: dimension,
    frames: z
      .number()
      .int("must be a whole number")
      .min(1, "must be at least 1")
      .max(16384, "must be at most 16384")
      .refine(
        (n) => (n - 1) % 4 === 0,
        "must be 4k+1 (1, 5, 9, … 49, 81): Wan packs 4 frames per latent frame after the first, so other counts are silently rounded down",
      ),
    fps: z.number().int("must be a whole number").min(1, "must be at least 1").max(240),
    steps: z.number().int("must be a whole number").min(1, "must be at least 1").max(10000),
    cfg: z.number().min(0, "must be at least 0").max(100, "must be at most 100"),
    image: z.string().min(1, "must name the uploaded reference image"),
  })
  .strict();
export type WorkflowParams = z.infer<typeof WorkflowParams>;

/** Invalid builder input; `problems` has one line per field, each starting with the field's name. */
export class WorkflowParamsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid workflow parameters:\n  ${problems.join("\n  ")}`);
    this.name = "WorkflowParamsError";
  }
}

/** `field (got value): message` for each zod issue, so a person sees what to change. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  return issues.map((issue) => {
    const field = issue.path.join(".") || "(parameters)";
    let got: unknown = input;
    for (const key of issue.path) {
      got =
        got !== null && typeof got === "object"
          ? (got as Record<PropertyKey, unknown>)[key]
          : undefined;
    }
    const shown = got === undefined ? "" : ` (got ${JSON.stringify(got)})`;
    return `${field}${shown}: ${issue.message}`;
  });
}

/** Validates parameters; throws WorkflowParamsError naming every bad field. */
export function parseWorkflowParams(input: unknown): WorkflowParams {
  const parsed = WorkflowParams.safeParse(input);
  if (!parsed.success) throw new WorkflowParamsError(describeIssues(parsed.error.issues, input));
  return parsed.data;
}

/** A fresh copy of the workflow as stored in `workflows/vace-r2v.json`. */
export function workflowTemplate(): ApiWorkflow {
  return structuredClone(template) as ApiWorkflow;
}

/** Pure: the workflow with `params` applied. Throws WorkflowParamsError on bad input. */
export function buildWorkflow(input: WorkflowParams): ApiWorkflow {
  const p = parseWorkflowParams(input);
  const wf = workflowTemplate();
  const set = (id: string, values: Record<string, unknown>) => {
    const node = wf[id];
    if (!node) throw new Error(`workflows/vace-r2v.json has no node ${id}`);
    Object.assign(node.inputs, values);
  };
  set(NODE.positive, { text: p.prompt });
  set(NODE.negative, { text: p.negative });
  set(NODE.vace, { width: p.width, height: p.height, length: p.frames });
  // The reference is resized to the video size before WanVaceToVideo scales it again, so both agree.
  set(NODE.resize, { width: p.width, height: p.height });
  set(NODE.image, { image: p.image });
  set(NODE.sampler, { seed: p.seed, steps: p.steps, cfg: p.cfg });
  set(NODE.video, { frame_rate: p.fps });
  return wf;
}

/** True when `value` is a link (`["id", index]`) rather than a literal. */
export function isLink(value: unknown): value is Link {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[0] === "string" &&
    typeof value[1] === "number"
  );
}

// --- edit workflows (vace run) ---------------------------------------------------------------------

/**
 * The workflows `vace run` submits, each `workflows/vace-<name>.json`. How WanVaceToVideo combines its
 * inputs (comfy_extras/nodes_wan.py at the pinned commit): `control_video` is cut to `length` and
 * padded with 0.5 gray; `control_masks` (default all 1) splits it into `inactive = video·(1−mask)`
 * (kept) and `reactive = video·mask` (regenerated), both VAE-encoded; a mask shorter than the video is
 * padded with 1, so a one-frame mask would leave every later frame fully regenerated, which is why
 * `vace run` always sends a mask video as long as the input; `reference_image` adds one latent frame in
 * front, cut again by TrimVideoLatent through `trim_latent`.
 * - r2v: reference image only (gray control, mask 1): a new video in the image's likeness;
 * - v2v: control video, mask 1: the whole frame follows the video's layout and motion, restyled by the
 *   prompt; `strength` sets how closely;
 * - inpaint: control video + mask video: only the mask's white region changes;
 * - outpaint: the video padded to the target size by ImageResizeKJv2 (`pad`), whose mask output is 1
 *   in the padding and 0 on the picture: only the new border is generated.
 */
export const WORKFLOW_NAMES = ["r2v", "v2v", "inpaint", "outpaint"] as const;
export type WorkflowName = (typeof WORKFLOW_NAMES)[number];

const TEMPLATES: Record<WorkflowName, unknown> = {
  r2v: template,
  v2v: v2vTemplate,
  inpaint: inpaintTemplate,
  outpaint: outpaintTemplate,
};

/** What each workflow needs uploaded (besides the prompt): required and optional inputs. */
export const WORKFLOW_INPUTS: Record<
  WorkflowName,
  { video: boolean; mask: boolean; image: "required" | "optional" }
> = {
  r2v: { video: false, mask: false, image: "required" },
  v2v: { video: true, mask: false, image: "optional" },
  inpaint: { video: true, mask: true, image: "optional" },
  outpaint: { video: true, mask: false, image: "optional" },
};

/** Uploaded file names for an edit workflow; `image` is the optional reference. */
export interface EditFiles {
  video?: string;
  mask?: string;
  image?: string;
}

/** WanVaceToVideo's strength: how strongly the control video steers the result (node range 0–1000). */
export const Strength = z.number().min(0, "must be at least 0").max(1000, "must be at most 1000");

/**
 * Pure: workflow `name` with `params` and the uploaded `files` applied. An edit workflow without a
 * reference image loses the reference nodes; with one, it gains the r2v workflow's LoadImage and resize
 * nodes wired into `reference_image`. Throws WorkflowParamsError on bad input or a missing file.
 */
export function buildNamedWorkflow(
  name: WorkflowName,
  input: Omit<WorkflowParams, "image">,
  files: EditFiles,
  strength = 1,
): ApiWorkflow {
  const need = WORKFLOW_INPUTS[name];
  const problems: string[] = [];
  if (need.video && !files.video) problems.push(`video: the ${name} workflow needs an input video`);
  if (need.mask && !files.mask) problems.push(`mask: the ${name} workflow needs a mask`);
  if (need.image === "required" && !files.image) {
    problems.push(`image: the ${name} workflow needs a reference image`);
  }
  const s = Strength.safeParse(strength);
  for (const issue of s.success ? [] : s.error.issues) {
    problems.push(`strength (got ${strength}): ${issue.message}`);
  }
  if (problems.length) throw new WorkflowParamsError(problems);
  const p = parseWorkflowParams({ ...input, image: files.image ?? "none" });
  if (name === "r2v") return buildWorkflow(p);
  const wf = structuredClone(TEMPLATES[name]) as ApiWorkflow;
  const set = (id: string, values: Record<string, unknown>) => {
    const node = wf[id];
    if (!node) throw new Error(`workflows/vace-${name}.json has no node ${id}`);
    Object.assign(node.inputs, values);
  };
  set(NODE.positive, { text: p.prompt });
  set(NODE.negative, { text: p.negative });
  set(NODE.vace, { width: p.width, height: p.height, length: p.frames, strength });
  set(NODE.sampler, { seed: p.seed, steps: p.steps, cfg: p.cfg });
  set(NODE.video, { frame_rate: p.fps });
  // The client already fitted the file; the cap only guards against a longer upload.
  set(NODE.controlVideo, { video: files.video, frame_load_cap: p.frames });
  if (need.mask) set(NODE.maskVideo, { video: files.mask, frame_load_cap: p.frames });
  if (name === "outpaint") set(NODE.pad, { width: p.width, height: p.height });
  if (files.image) {
    const r2v = workflowTemplate();
    wf[NODE.image] = { ...(r2v[NODE.image] as ApiNode), inputs: { image: files.image } };
    wf[NODE.resize] = r2v[NODE.resize] as ApiNode;
    set(NODE.resize, { width: p.width, height: p.height });
    set(NODE.vace, { reference_image: [NODE.resize, 0] });
  }
  return wf;
}

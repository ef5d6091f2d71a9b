/**
 * The smoke test's ComfyUI workflow (`workflows/vace-r2v.json`) and the pure builder that fills it in.
 *
 * The JSON is the seed's API-format workflow with its faults fixed: the reference image now reaches
 * `WanVaceToVideo.reference_image` (the seed sent it to a PreviewImage only), the frame count is a literal
 * so ComfyUI's validator range-checks it (linked values are never checked), and TrimVideoLatent takes
 * WanVaceToVideo's `trim_latent` output so the prepended reference frame is cut from the video.
 */
import { z } from "zod";
import template from "../workflows/vace-r2v.json";

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
} as const;

/** Inputs whose value is a file uploaded by the smoke itself, so preflight cannot check them. */
export const UPLOADED_INPUTS: ReadonlyArray<{ node: string; input: string }> = [
  { node: NODE.image, input: "image" },
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

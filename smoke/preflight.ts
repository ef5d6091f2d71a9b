/**
 * Preflight: before any GPU work, check that the server knows every node class the workflow uses and
 * offers every option it picks (model files above all), and say what to install when it does not.
 */
import { type ApiWorkflow, isLink, UPLOADED_INPUTS } from "./workflow";

/** The part of `/object_info/{class}` that preflight reads. */
export interface NodeInfo {
  input?: {
    required?: Record<string, unknown>;
    optional?: Record<string, unknown>;
  };
}
export type ObjectInfo = Record<string, NodeInfo>;

/** Where a node class comes from. Classes not listed are ComfyUI core. */
export const NODE_PACKAGES: Record<string, string> = {
  ImageResizeKJv2: "ComfyUI-KJNodes (https://github.com/kijai/ComfyUI-KJNodes)",
  VHS_VideoCombine:
    "ComfyUI-VideoHelperSuite (https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite)",
};
const CORE =
  "ComfyUI core (https://github.com/comfyanonymous/ComfyUI; WanVaceToVideo and TrimVideoLatent arrived in ce22f687, 2025-04-21)";

/** Loader inputs that name model files, the models/ folder each lists, and where each seed file comes from. */
export const MODEL_INPUTS: Record<string, { input: string; folder: string }> = {
  UNETLoader: { input: "unet_name", folder: "diffusion_models" },
  CLIPLoader: { input: "clip_name", folder: "text_encoders" },
  VAELoader: { input: "vae_name", folder: "vae" },
};
const REPACKAGED = "Comfy-Org/Wan_2.1_ComfyUI_repackaged split_files/";
export const MODEL_SOURCES: Record<string, string> = {
  "wan21_vace_1_3_b.safetensors": `${REPACKAGED}diffusion_models/wan2.1_vace_1.3B_fp16.safetensors`,
  "umt5_xxl_fp8_e4m3fn.safetensors": `${REPACKAGED}text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors`,
  "wan21_vace_vae.safetensors": `${REPACKAGED}vae/wan_2.1_vae.safetensors`,
};

export interface PreflightProblem {
  kind: "node" | "model" | "option";
  /** The node class, model file or option value that is missing. */
  name: string;
  message: string;
}

/**
 * The options of a combo input spec, or undefined if the input is not a combo. V1 nodes give
 * `[[...options], {…}?]`; V3 nodes (WanVaceToVideo, …) give `["COMBO", {options: [...]}]`.
 */
export function comboOptions(spec: unknown): unknown[] | undefined {
  if (!Array.isArray(spec)) return undefined;
  const [type, opts] = spec as [unknown, unknown];
  if (Array.isArray(type)) return type;
  if (type === "COMBO" && opts && typeof opts === "object") {
    const options = (opts as { options?: unknown }).options;
    if (Array.isArray(options)) return options;
  }
  return undefined;
}

/** Pure: every problem that would stop `workflow` from running on a server with `info`. */
export function checkPreflight(workflow: ApiWorkflow, info: ObjectInfo): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  const missingClasses = new Map<string, string[]>();
  for (const [id, node] of Object.entries(workflow)) {
    const cls = info[node.class_type];
    if (!cls) {
      missingClasses.set(node.class_type, [...(missingClasses.get(node.class_type) ?? []), id]);
      continue;
    }
    for (const [input, value] of Object.entries(node.inputs)) {
      if (isLink(value) || UPLOADED_INPUTS.some((u) => u.node === id && u.input === input))
        continue;
      const options = comboOptions(cls.input?.required?.[input] ?? cls.input?.optional?.[input]);
      if (!options || options.includes(value)) continue;
      problems.push(optionProblem(id, node.class_type, input, value, options));
    }
  }
  for (const [cls, ids] of missingClasses) {
    problems.unshift({
      kind: "node",
      name: cls,
      message:
        `node class ${cls} (workflow node${ids.length > 1 ? "s" : ""} ${ids.join(", ")}) is not installed; ` +
        `it comes from ${NODE_PACKAGES[cls] ?? CORE}`,
    });
  }
  return problems;
}

function optionProblem(
  id: string,
  cls: string,
  input: string,
  value: unknown,
  options: unknown[],
): PreflightProblem {
  const model = MODEL_INPUTS[cls];
  if (model && model.input === input) {
    const file = String(value);
    const source = MODEL_SOURCES[file];
    return {
      kind: "model",
      name: file,
      message:
        `model file ${file} is missing from models/${model.folder} (node ${id} ${cls}.${input}; ` +
        `the server has ${options.length ? options.join(", ") : "none"})` +
        (source ? `; it is ${source}, saved under that name (see docker/models.json)` : ""),
    };
  }
  const shown =
    options.length > 12
      ? `${options.slice(0, 12).join(", ")}, … (${options.length} in all)`
      : options.join(", ");
  return {
    kind: "option",
    name: String(value),
    message:
      `node ${id} ${cls}.${input} = ${JSON.stringify(value)} is not offered by this server (it offers ${shown}); ` +
      `update ${NODE_PACKAGES[cls] ?? CORE}`,
  };
}

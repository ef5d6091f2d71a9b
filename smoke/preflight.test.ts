import { describe, expect, it } from "vitest";
import { nodeSpecs } from "../test/doubles/comfyui/nodes";
import { DEFAULT_MODELS } from "../test/doubles/comfyui/server";
import { checkPreflight, comboOptions, type ObjectInfo } from "./preflight";
import { buildWorkflow, NODE } from "./workflow";

const workflow = buildWorkflow({
  prompt: "p",
  negative: "n",
  seed: 1,
  width: 480,
  height: 480,
  frames: 9,
  fps: 16,
  steps: 4,
  cfg: 1,
  image: "not-uploaded-yet.png",
});
/** A server as the double describes it: ComfyUI 0.3.64 + KJNodes + VHS, seed models, empty input dir. */
const server = (): ObjectInfo => nodeSpecs({ ...DEFAULT_MODELS, input: [] }) as ObjectInfo;

describe("checkPreflight", () => {
  it("passes a complete server, without checking the not-yet-uploaded image", () => {
    expect(checkPreflight(workflow, server())).toEqual([]);
  });

  it("names each missing class with its nodes and the package that provides it", () => {
    const info = server();
    delete info.VHS_VideoCombine;
    delete info.WanVaceToVideo;
    const problems = checkPreflight(workflow, info);
    expect(problems.map((p) => [p.kind, p.name])).toEqual([
      ["node", "VHS_VideoCombine"],
      ["node", "WanVaceToVideo"],
    ]);
    expect(problems[0]?.message).toBe(
      "node class VHS_VideoCombine (workflow node 32) is not installed; it comes from ComfyUI-VideoHelperSuite (https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite)",
    );
    expect(problems[1]?.message).toContain("ComfyUI core");
  });

  it("names a missing model file, its folder, what the server has, and where the file comes from", () => {
    const info = nodeSpecs({
      ...DEFAULT_MODELS,
      diffusion_models: ["wan2.1_vace_14B_fp16.safetensors"],
      input: [],
    }) as ObjectInfo;
    const [p] = checkPreflight(workflow, info);
    expect(p?.kind).toBe("model");
    expect(p?.message).toBe(
      "model file wan21_vace_1_3_b.safetensors is missing from models/diffusion_models (node 11 UNETLoader.unet_name; " +
        "the server has wan2.1_vace_14B_fp16.safetensors); it is Comfy-Org/Wan_2.1_ComfyUI_repackaged " +
        "split_files/diffusion_models/wan2.1_vace_1.3B_fp16.safetensors, saved under that name (see docker/models.json)",
    );
  });

  it("flags other options the server does not offer (an old ComfyUI without uni_pc, say)", () => {
    const info = server();
    const ks = info.KSampler?.input?.required as Record<string, unknown[]>;
    ks.sampler_name = [["euler", "ddim"]];
    const [p] = checkPreflight(workflow, info);
    expect(p).toMatchObject({ kind: "option", name: "uni_pc" });
    expect(p?.message).toContain(
      `node ${NODE.sampler} KSampler.sampler_name = "uni_pc" is not offered by this server (it offers euler, ddim)`,
    );
  });
});

describe("comboOptions", () => {
  it("reads V1 and V3 combo specs and ignores other inputs", () => {
    expect(comboOptions([["a", "b"]])).toEqual(["a", "b"]);
    expect(comboOptions([["a"], { default: "a" }])).toEqual(["a"]);
    expect(comboOptions(["COMBO", { options: ["x", "y"] }])).toEqual(["x", "y"]);
    expect(comboOptions(["INT", { min: 0 }])).toBeUndefined();
    expect(comboOptions("IMAGE")).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { nodeSpecs } from "../test/doubles/comfyui/nodes";
import { DEFAULT_MODELS } from "../test/doubles/comfyui/server";
import { validatePrompt } from "../test/doubles/comfyui/validate";
import { describeCosts, PROFILES, samplingCost } from "./profiles";
import {
  buildNamedWorkflow,
  buildWorkflow,
  isLink,
  NODE,
  type WorkflowParams,
  WorkflowParamsError,
  workflowTemplate,
} from "./workflow";

const params: WorkflowParams = {
  prompt: "a cat",
  negative: "blurry",
  seed: 42,
  width: 832,
  height: 480,
  frames: 33,
  fps: 16,
  steps: 6,
  cfg: 1,
  image: "ref (1).png",
};

describe("workflows/vace-r2v.json", () => {
  const wf = workflowTemplate();

  it("wires the reference image into WanVaceToVideo.reference_image via the resize node", () => {
    expect(wf[NODE.vace]?.class_type).toBe("WanVaceToVideo");
    expect(wf[NODE.vace]?.inputs.reference_image).toEqual([NODE.resize, 0]);
    expect(wf[NODE.resize]).toMatchObject({
      class_type: "ImageResizeKJv2",
      inputs: { image: [NODE.image, 0] },
    });
    expect(wf[NODE.image]?.class_type).toBe("LoadImage");
    // The seed's dead end (LoadImage → resize → PreviewImage only) is gone.
    expect(Object.values(wf).some((n) => n.class_type === "PreviewImage")).toBe(false);
  });

  it("trims the reference frame with WanVaceToVideo's trim_latent output", () => {
    expect(wf[NODE.trim]).toMatchObject({
      class_type: "TrimVideoLatent",
      inputs: { trim_amount: [NODE.vace, 3], samples: [NODE.sampler, 0] },
    });
    expect(wf[NODE.decode]?.inputs.samples).toEqual([NODE.trim, 0]);
  });

  it("loads the models by the seed's file names and dtypes", () => {
    expect(wf[NODE.unet]?.inputs).toMatchObject({
      unet_name: "wan21_vace_1_3_b.safetensors",
      weight_dtype: "fp8_e4m3fn_fast",
    });
    expect(wf[NODE.clip]?.inputs).toMatchObject({
      clip_name: "umt5_xxl_fp8_e4m3fn.safetensors",
      type: "wan",
    });
    expect(wf[NODE.vae]?.inputs).toMatchObject({ vae_name: "wan21_vace_vae.safetensors" });
  });

  it("has only links to nodes that exist", () => {
    for (const [id, node] of Object.entries(wf)) {
      for (const [input, value] of Object.entries(node.inputs)) {
        if (isLink(value)) expect(wf[value[0]], `${id}.${input} → ${value[0]}`).toBeDefined();
      }
    }
  });

  it("saves an H.264 yuv420p MP4", () => {
    expect(wf[NODE.video]?.inputs).toMatchObject({
      format: "video/h264-mp4",
      pix_fmt: "yuv420p",
      save_output: true,
    });
  });
});

describe("buildWorkflow", () => {
  it("sets every parameter where ComfyUI reads it, leaving the template untouched", () => {
    const wf = buildWorkflow(params);
    expect(wf[NODE.positive]?.inputs.text).toBe("a cat");
    expect(wf[NODE.negative]?.inputs.text).toBe("blurry");
    expect(wf[NODE.vace]?.inputs).toMatchObject({ width: 832, height: 480, length: 33 });
    expect(wf[NODE.resize]?.inputs).toMatchObject({ width: 832, height: 480 });
    expect(wf[NODE.sampler]?.inputs).toMatchObject({ seed: 42, steps: 6, cfg: 1 });
    expect(wf[NODE.image]?.inputs.image).toBe("ref (1).png");
    expect(wf[NODE.video]?.inputs.frame_rate).toBe(16);
    expect(workflowTemplate()[NODE.positive]?.inputs.text).not.toBe("a cat");
  });

  it("keeps UTF-8 prompts intact", () => {
    const wf = buildWorkflow({ ...params, prompt: "一个女孩偷偷咬了一口苹果 🍎" });
    expect(JSON.parse(JSON.stringify(wf))[NODE.positive].inputs.text).toBe(
      "一个女孩偷偷咬了一口苹果 🍎",
    );
  });

  it.each([
    [{ width: 840 }, "width (got 840): must be a multiple of 16"],
    [{ height: 0 }, "height (got 0): must be at least 16"],
    [{ frames: 48 }, "frames (got 48): must be 4k+1"],
    [{ frames: 2.5 }, "frames (got 2.5): must be a whole number"],
    [{ steps: 0 }, "steps (got 0): must be at least 1"],
    [{ cfg: 101 }, "cfg (got 101): must be at most 100"],
    [{ seed: -1 }, "seed (got -1): must be at least 0"],
    [{ prompt: "  " }, 'prompt (got "  "): must not be empty'],
    [{ image: "" }, 'image (got ""): must name the uploaded reference image'],
  ])("rejects %j naming the field", (bad, message) => {
    expect(() => buildWorkflow({ ...params, ...bad })).toThrow(message);
  });

  it("reports every bad field at once", () => {
    try {
      buildWorkflow({ ...params, width: 17, frames: 10 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(WorkflowParamsError);
      expect((e as WorkflowParamsError).problems.map((p) => p.split(" ")[0])).toEqual([
        "width",
        "frames",
      ]);
    }
  });
});

describe("profiles", () => {
  it("ci is 480P at cfg 1 (one pass); full is the seed's settings", () => {
    expect(PROFILES.ci).toMatchObject({ width: 480, height: 480, cfg: 1 });
    expect(PROFILES.full).toEqual({
      width: 480,
      height: 480,
      frames: 49,
      fps: 16,
      steps: 20,
      cfg: 4,
    });
    for (const p of Object.values(PROFILES))
      expect(() => buildWorkflow({ ...params, ...p })).not.toThrow();
  });

  it("costs latent frames (plus the reference frame) × steps × passes", () => {
    expect(samplingCost(PROFILES.ci)).toEqual({
      latentFrames: 3,
      sampledLatentFrames: 4,
      steps: 4,
      passes: 1,
      cost: 16,
    });
    expect(samplingCost(PROFILES.full)).toEqual({
      latentFrames: 13,
      sampledLatentFrames: 14,
      steps: 20,
      passes: 2,
      cost: 560,
    });
    expect(samplingCost({ ...PROFILES.full, cfg: 1.0000000001 }).passes).toBe(1);
    // Only the profile that runs is described (issue 12: ci printed full's line too).
    expect(describeCosts("ci")).toEqual([
      "profile ci: 480×480, 9 frames → 3 latent + 1 reference = 4 latent frames × 4 steps × 1 pass (cfg 1) = sampling cost 16 (full costs 35× ci)",
    ]);
    expect(describeCosts("full")).toHaveLength(1);
    expect(describeCosts("full")[0]).toMatch(/^profile full: .* = sampling cost 560 \(35× ci\)$/);
  });
});

describe("edit workflows (workflows/vace-{v2v,inpaint,outpaint}.json)", () => {
  const base = { ...params, width: 480, height: 832, frames: 17 } as Omit<
    WorkflowParams,
    "image"
  > & {
    image?: string;
  };
  delete base.image;
  const files = { video: "in.vace.mp4", mask: "mask.vace.mp4", image: "ref.png" };
  const specs = nodeSpecs({
    ...DEFAULT_MODELS,
    input: [files.video, files.mask, files.image],
  });

  it.each(["r2v", "v2v", "inpaint", "outpaint"] as const)(
    "%s uses only the pinned image's nodes, with and without a reference image, and passes its validator",
    (name) => {
      for (const withImage of [true, false]) {
        if (name === "r2v" && !withImage) continue;
        const wf = buildNamedWorkflow(
          name,
          base,
          withImage ? files : { ...files, image: undefined },
        );
        const v = validatePrompt(structuredClone(wf), specs, {});
        expect(v, `${name} ${withImage ? "with" : "without"} reference`).toMatchObject({
          ok: true,
          nodeErrors: {},
        });
        expect(wf[NODE.vace]?.inputs).toMatchObject({ width: 480, height: 832, length: 17 });
        expect(wf[NODE.vace]?.inputs.reference_image).toEqual(
          withImage ? [NODE.resize, 0] : undefined,
        );
        // The reference frame is always trimmed (trim_latent is 0 without one).
        expect(wf[NODE.decode]?.inputs.samples).toEqual([NODE.trim, 0]);
      }
    },
  );

  it("wires each edit as WanVaceToVideo expects", () => {
    const v2v = buildNamedWorkflow("v2v", base, files, 0.7);
    expect(v2v[NODE.vace]?.inputs).toMatchObject({
      control_video: [NODE.controlVideo, 0],
      strength: 0.7,
    });
    expect(v2v[NODE.vace]?.inputs.control_masks).toBeUndefined();
    expect(v2v[NODE.controlVideo]?.inputs).toMatchObject({
      video: files.video,
      frame_load_cap: 17,
      format: "None",
      force_rate: 0,
    });
    const inpaint = buildNamedWorkflow("inpaint", base, files);
    expect(inpaint[NODE.vace]?.inputs.control_masks).toEqual([NODE.mask, 0]);
    expect(inpaint[NODE.mask]?.inputs).toEqual({ channel: "red", image: [NODE.maskVideo, 0] });
    expect(inpaint[NODE.maskVideo]?.inputs.video).toBe(files.mask);
    const outpaint = buildNamedWorkflow("outpaint", base, files);
    expect(outpaint[NODE.pad]?.inputs).toMatchObject({
      image: [NODE.controlVideo, 0],
      width: 480,
      height: 832,
      keep_proportion: "pad",
      divisible_by: 16,
    });
    expect(outpaint[NODE.vace]?.inputs).toMatchObject({
      control_video: [NODE.pad, 0],
      control_masks: [NODE.pad, 3],
    });
  });

  it("names every missing input and a bad strength at once", () => {
    expect(() => buildNamedWorkflow("inpaint", base, {}, -1)).toThrow(
      /video: the inpaint workflow needs an input video\n {2}mask: the inpaint workflow needs a mask\n {2}strength \(got -1\): must be at least 0/,
    );
    expect(() => buildNamedWorkflow("r2v", base, {})).toThrow(
      "image: the r2v workflow needs a reference image",
    );
  });
});

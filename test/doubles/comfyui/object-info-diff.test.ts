/**
 * The comparator a captured `/object_info` (bench/gpu/comfyui_smoke.py on a GPU machine) will be
 * checked with against the double's specs. No capture exists yet (bench/gpu/RESULTS.md), so these
 * tests feed it the double's own specs, changed the ways a real server could differ.
 */
import { describe, expect, it } from "vitest";
import template from "../../../workflows/vace-r2v.json";
import { type NodeSpec, nodeSpecs, type ServerFiles } from "./nodes";
import { diffObjectInfo, formatDifferences } from "./object-info-diff";

const FILES: ServerFiles = {
  diffusion_models: ["wan21_vace_1_3_b.safetensors"],
  text_encoders: ["umt5_xxl_fp8_e4m3fn.safetensors"],
  vae: ["wan21_vace_vae.safetensors"],
  input: ["vace-smoke-ref.png"],
};
const NODES = [...new Set(Object.values(template).map((n) => n.class_type))].sort();

/** The options dict (second element) of a required input. */
function options(spec: NodeSpec | undefined, input: string): Record<string, unknown> {
  return spec?.input.required[input]?.[1] as Record<string, unknown>;
}
/** The combo list (first element) of an input. */
function combo(spec: NodeSpec | undefined, input: string): string[] {
  return (spec?.input.required[input] ?? spec?.input.optional?.[input])?.[0] as string[];
}

/** The double's specs as the server would serialize them: a JSON round trip, keys in another order. */
function serverCopy(): Record<string, NodeSpec> {
  const specs = nodeSpecs(FILES);
  const reordered = Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [
      name,
      Object.fromEntries(Object.entries(spec).reverse()),
    ]),
  );
  return JSON.parse(JSON.stringify(reordered));
}

describe("diffObjectInfo", () => {
  it("finds nothing when the server serves exactly the double's specs, whatever its key order", () => {
    const diffs = diffObjectInfo(serverCopy(), nodeSpecs(FILES), NODES);
    expect(formatDifferences(diffs)).toBe("");
    expect(NODES).toHaveLength(12);
  });

  it("names a node the server lacks and one the double lacks", () => {
    const server = serverCopy();
    delete server.ImageResizeKJv2;
    const double: Record<string, NodeSpec> = nodeSpecs(FILES);
    delete (double as Partial<Record<string, NodeSpec>>).TrimVideoLatent;
    const diffs = diffObjectInfo(server, double, NODES);
    expect(diffs.map((d) => [d.node, d.kind])).toEqual([
      ["ImageResizeKJv2", "only-in-double"],
      ["TrimVideoLatent", "only-in-server"],
    ]);
  });

  it("points at a changed bound, an added option, a missing input and a reordered combo list", () => {
    const server = serverCopy();
    options(server.WanVaceToVideo, "length").max = 4096;
    combo(server.UNETLoader, "weight_dtype").push("fp8_e8m0fnu");
    // biome-ignore lint/style/noNonNullAssertion: the double defines CLIPLoader
    delete server.CLIPLoader!.input.optional;
    combo(server.KSampler, "scheduler").reverse();
    const text = formatDifferences(diffObjectInfo(server, nodeSpecs(FILES), NODES));
    expect(text.split("\n").sort()).toEqual(
      [
        "CLIPLoader.input.optional: only the double has " +
          JSON.stringify({ device: [["default", "cpu"], { advanced: true }] }),
        `KSampler.input.required.scheduler[0]: server ${JSON.stringify(combo(server.KSampler, "scheduler"))}, double ${JSON.stringify(combo(nodeSpecs(FILES).KSampler, "scheduler"))}`,
        `UNETLoader.input.required.weight_dtype[0]: server ["default","fp8_e4m3fn","fp8_e4m3fn_fast","fp8_e5m2","fp8_e8m0fnu"], double ["default","fp8_e4m3fn","fp8_e4m3fn_fast","fp8_e5m2"]`,
        "WanVaceToVideo.input.required.length[1].max: server 4096, double 16384",
      ].sort(),
    );
  });

  it("skips tooltips and descriptions the double leaves out, and nothing else", () => {
    const server = serverCopy();
    options(server.KSampler, "seed").tooltip = "The random seed used for creating the noise.";
    Object.assign(server.KSampler ?? {}, { description: "Uses the provided model to denoise." });
    options(server.KSampler, "seed").display = "number";
    const diffs = diffObjectInfo(server, nodeSpecs(FILES), NODES);
    expect(formatDifferences(diffs)).toBe(
      'KSampler.input.required.seed[1].display: only the server has "number"',
    );
  });

  it("tells a number from the same number as a string", () => {
    const server = serverCopy();
    options(server.ModelSamplingSD3, "shift").default = "3.0";
    expect(diffObjectInfo(server, nodeSpecs(FILES), NODES)).toEqual([
      {
        node: "ModelSamplingSD3",
        path: "input.required.shift[1].default",
        kind: "differs",
        server: "3.0",
        double: 3,
      },
    ]);
  });
});

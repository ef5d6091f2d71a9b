/**
 * The double's validator against ComfyUI's at the pinned commit (execution.py validate_prompt /
 * validate_inputs, comfy_execution/validation.py): the fidelity gaps a comparison with the real
 * server found, one test each. Pure: no server, no ffmpeg.
 */
import { describe, expect, it } from "vitest";
import { smallWorkflow } from "./harness";
import { type NodeSpec, nodeSpecs } from "./nodes";
import { DEFAULT_MODELS, decodedFrames } from "./server";
import { pyFloatStr, typesMatch, validatePrompt } from "./validate";

type Wf = Record<string, { class_type: string; inputs: Record<string, unknown> }>;
const specs: Record<string, NodeSpec> = nodeSpecs({ ...DEFAULT_MODELS, input: ["in.png"] });
const wf = (): Wf => smallWorkflow("in.png") as Wf;
const validate = (prompt: Wf) =>
  validatePrompt(prompt, specs, { LoadImage: { image: () => undefined } });
const inputs = (w: Wf, id: string) => (w[id] as Wf[string]).inputs;

describe("double validator: links", () => {
  it("a link to an output slot that doesn't exist is exception_during_inner_validation on the linking node", () => {
    const w = wf();
    inputs(w, "24").positive = ["17", 7];
    const v = validate(w);
    expect(v.ok).toBe(false);
    expect(Object.keys(v.nodeErrors)).toEqual(["24"]);
    expect(v.nodeErrors["24"]).toMatchObject({
      class_type: "KSampler",
      dependent_outputs: ["32"],
      errors: [
        {
          type: "exception_during_inner_validation",
          message: "Exception when validating inner node",
          details: "tuple index out of range",
          extra_info: { exception_type: "IndexError", linked_node: ["24", 0] },
        },
      ],
    });
  });

  it("a link to a missing node names the node that holds the link (KeyError)", () => {
    const w = wf();
    inputs(w, "31").vae = ["99", 0];
    const v = validate(w);
    expect(v.ok).toBe(false);
    expect(v.nodeErrors["31"]?.errors[0]).toMatchObject({
      type: "exception_during_inner_validation",
      details: "'99'",
      extra_info: { exception_type: "KeyError" },
    });
  });

  it("a bad link on the output node itself is exception_during_validation, in the top-level details too", () => {
    const w = wf();
    inputs(w, "32").images = ["31", 3];
    const v = validate(w);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.nodeErrors["32"]?.errors[0]).toMatchObject({
      type: "exception_during_validation",
      message: "Exception when validating node",
      details: "tuple index out of range",
    });
    expect(v.error.details).toBe("Exception when validating node: tuple index out of range");
  });

  it("top-level error.details carries only the output node's own reasons", () => {
    const w = wf();
    inputs(w, "11").unet_name = "other.safetensors";
    inputs(w, "32").loop_count = 101;
    const v = validate(w);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.error.details).toBe("Value 101 bigger than max of 100: loop_count");
    expect(Object.keys(v.nodeErrors).sort()).toEqual(["11", "32"]);
  });

  it("rejects a cycle; the cycle's nodes carry no reasons of their own", () => {
    const w = wf();
    // 27 and a second ModelSamplingSD3 take their model from each other.
    w["40"] = { class_type: "ModelSamplingSD3", inputs: { shift: 8, model: ["27", 0] } };
    inputs(w, "27").model = ["40", 0];
    const v = validate(w);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.error.type).toBe("prompt_outputs_failed_validation");
    expect(v.nodeErrors).toEqual({});
  });
});

describe("double validator: literals are coerced first, with Python's messages", () => {
  it("int(4.5) is 4 and replaces the input; '4.5' is not an INT", () => {
    const w = wf();
    inputs(w, "24").steps = 4.5;
    inputs(w, "17").length = "9";
    expect(validate(w).ok).toBe(true);
    expect(inputs(w, "24").steps).toBe(4);
    expect(inputs(w, "17").length).toBe(9);

    const bad = wf();
    inputs(bad, "24").steps = "4.5";
    const v = validate(bad);
    expect(v.nodeErrors["24"]?.errors[0]).toMatchObject({
      type: "invalid_input_type",
      message: "Failed to convert an input value to a INT value",
      details: "steps, 4.5, invalid literal for int() with base 10: '4.5'",
    });
  });

  it("checks range after coercion, printing floats as Python does", () => {
    const w = wf();
    inputs(w, "24").cfg = "-0.5";
    inputs(w, "24").steps = 0.9; // int(0.9) = 0 < 1
    inputs(w, "15").text = 5; // str(5): fine
    const v = validate(w);
    expect(v.nodeErrors["24"]?.errors.map((e) => e.message)).toEqual([
      "Value 0 smaller than min of 1",
      "Value -0.5 smaller than min of 0.0",
    ]);
    expect(inputs(w, "15").text).toBe("5");
    const n = wf();
    inputs(n, "24").cfg = null;
    expect(validate(n).nodeErrors["24"]?.errors[0]?.details).toBe(
      "cfg, None, float() argument must be a string or a real number, not 'NoneType'",
    );
    expect([pyFloatStr(1), pyFloatStr(1e16), pyFloatStr(0.00001), pyFloatStr(2.5)]).toEqual([
      "1.0",
      "1e+16",
      "1e-05",
      "2.5",
    ]);
  });
});

describe("double validator: type matching", () => {
  it("handles *, comma-separated types and VHS MultiInput types", () => {
    expect(typesMatch({ type: "IMAGE" }, "*")).toBe(true);
    expect(typesMatch({ type: "*" }, "MASK")).toBe(true);
    expect(typesMatch({ type: "STRING,INT" }, "INT,FLOAT")).toBe(true);
    expect(typesMatch({ type: "STRING" }, "INT,FLOAT")).toBe(false);
    expect(typesMatch({ type: "IMAGE", accepts: ["IMAGE", "LATENT"] }, "LATENT")).toBe(true);
  });

  it("VHS_VideoCombine's images also accept LATENT, so a KSampler can feed it directly", () => {
    const w = wf();
    inputs(w, "32").images = ["24", 0];
    expect(validate(w).ok).toBe(true);
    const bad = wf();
    inputs(bad, "32").images = ["13", 0];
    expect(validate(bad).nodeErrors["32"]?.errors[0]).toMatchObject({
      type: "return_type_mismatch",
      details: "images, received_type(CLIP) mismatch input_type(IMAGE)",
    });
  });
});

describe("double renders: frames follow the trim wiring", () => {
  it("length 5 with the trim wired gives 5 frames; unwired (literal 0 or no TrimVideoLatent) gives 9", () => {
    const w = wf();
    expect(decodedFrames(w, "32")).toBe(5);
    inputs(w, "30").trim_amount = 0;
    expect(decodedFrames(w, "32")).toBe(9);
    const noTrim = wf();
    inputs(noTrim, "31").samples = ["24", 0];
    expect(decodedFrames(noTrim, "32")).toBe(9);
    const noRef = wf();
    delete inputs(noRef, "17").reference_image;
    expect(decodedFrames(noRef, "32")).toBe(5);
  });
});

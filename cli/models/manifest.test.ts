import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  loadManifest,
  type Manifest,
  ManifestError,
  parseManifest,
  partialPath,
  rebaseUrl,
  selectModels,
  targetPath,
} from "./manifest";

const ROOT = resolve(__dirname, "../..");
const MANIFEST = join(ROOT, "docker/models.json");
const entry = {
  name: "x.safetensors",
  folder: "vae",
  size: 10,
  sha256: "a".repeat(64),
  sources: ["https://example.org/x"],
  provenance: "test",
};

function problems(models: unknown[]): string {
  try {
    parseManifest({ models }, "m.json");
    return "";
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as Error).message;
  }
}

/**
 * design.md's "Model files" table (seed file name, ComfyUI folder, upstream path under
 * split_files/), copied here so a clone tests on its own, without shared/ beside it.
 */
const DESIGN_MODEL_TABLE = [
  {
    name: "wan21_vace_1_3_b.safetensors",
    folder: "diffusion_models",
    upstream: "diffusion_models/wan2.1_vace_1.3B_fp16.safetensors",
  },
  {
    name: "umt5_xxl_fp8_e4m3fn.safetensors",
    folder: "text_encoders",
    upstream: "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors",
  },
  { name: "wan21_vace_vae.safetensors", folder: "vae", upstream: "vae/wan_2.1_vae.safetensors" },
];
const designModelTable = () => DESIGN_MODEL_TABLE;

describe("docker/models.json", () => {
  const manifest: Manifest = parseManifest(JSON.parse(readFileSync(MANIFEST, "utf8")), MANIFEST);

  it("holds exactly the seed's files, in the folders of design.md's model table", () => {
    const table = designModelTable();
    expect(table).toHaveLength(3);
    expect(manifest.models.map((m) => [m.name, m.folder])).toEqual(
      table.map((r) => [r.name, r.folder]),
    );
  });

  it("tries the commit-pinned Hugging Face file first, then a mirror of the same path", () => {
    for (const [i, row] of designModelTable().entries()) {
      const m = manifest.models[i];
      const [primary, ...mirrors] = m?.sources ?? [];
      expect(primary).toMatch(
        new RegExp(
          `^https://huggingface\\.co/Comfy-Org/Wan_2\\.1_ComfyUI_repackaged/resolve/[0-9a-f]{40}/split_files/${row.upstream.replaceAll(".", "\\.")}$`,
        ),
      );
      expect(mirrors.length).toBeGreaterThan(0);
      for (const u of mirrors) expect(u.endsWith(`/split_files/${row.upstream}`)).toBe(true);
    }
  });

  it("has every file the deployed workflow loads, in the folder its loader reads", () => {
    // The failure RunPod #163 shipped: a model in one folder, a loader reading another.
    const loaders: Record<string, [input: string, folder: string]> = {
      UNETLoader: ["unet_name", "diffusion_models"],
      CLIPLoader: ["clip_name", "text_encoders"],
      VAELoader: ["vae_name", "vae"],
    };
    const workflow: Record<string, { class_type: string; inputs: Record<string, unknown> }> =
      JSON.parse(readFileSync(join(ROOT, "workflows/vace-r2v.json"), "utf8"));
    const wanted = Object.values(workflow).flatMap((n) => {
      const l = loaders[n.class_type];
      return l ? [[String(n.inputs[l[0]]), l[1]]] : [];
    });
    expect(wanted).toHaveLength(3);
    const have = manifest.models.map((m) => [m.name, m.folder]);
    for (const w of wanted) expect(have).toContainEqual(w);
    const unet = Object.values(workflow).find((n) => n.class_type === "UNETLoader");
    expect(unet?.inputs.weight_dtype).toBe("fp8_e4m3fn_fast");
  });

  it("stores the diffusion model in the dtype its UNETLoader weight_dtype loads, so the load casts nothing", () => {
    // ComfyUI 637221995f nodes.py UNETLoader.load_unet: weight_dtype → the model's torch dtype,
    // written here as the safetensors name of that dtype.
    const loads: Record<string, string> = {
      fp8_e4m3fn: "F8_E4M3",
      fp8_e4m3fn_fast: "F8_E4M3",
      fp8_e5m2: "F8_E5M2",
    };
    const workflow: Record<string, { class_type: string; inputs: Record<string, unknown> }> =
      JSON.parse(readFileSync(join(ROOT, "workflows/vace-r2v.json"), "utf8"));
    const unet = Object.values(workflow).find((n) => n.class_type === "UNETLoader");
    const entry = manifest.models.find((m) => m.name === unet?.inputs.unet_name);
    expect(entry?.stored?.weightDtype).toBe(unet?.inputs.weight_dtype);
    expect(loads[String(unet?.inputs.weight_dtype)]).toBe(entry?.stored?.dtype);
    // Only the diffusion model is converted; the text encoder is already fp8 upstream, the VAE stays.
    expect(manifest.models.filter((m) => m.stored).map((m) => m.folder)).toEqual([
      "diffusion_models",
    ]);
  });

  it("records the sizes of comfyui-api-facts §5 (11.3 GB in all)", () => {
    expect(manifest.models.map((m) => m.size)).toEqual([4_309_519_800, 6_735_906_897, 253_815_318]);
  });
});

describe("parseManifest", () => {
  it("accepts a well-formed entry", () => {
    expect(problems([entry])).toBe("");
  });

  it("names every bad field with its path", () => {
    const msg = problems([
      { ...entry, sha256: "A".repeat(64) },
      { ...entry, name: "y", size: 0, sources: ["http://example.org/x"] },
      { ...entry, name: "../z", folder: "a/b" },
    ]);
    expect(msg).toContain("models.0.sha256: must be 64 lowercase hex characters");
    expect(msg).toContain("models.1.size");
    expect(msg).toContain("models.1.sources.0: must be an https:// URL");
    expect(msg).toContain("models.2.name: must be a plain file name");
    expect(msg).toContain("models.2.folder: must be a single folder name");
  });

  it("rejects a short sha256 and a duplicate destination", () => {
    expect(problems([{ ...entry, sha256: "a".repeat(63) }])).toContain("models.0.sha256");
    expect(problems([entry, entry])).toContain("models.1.name: duplicate vae/x.safetensors");
  });

  it("loadManifest reports an unreadable file and bad JSON, naming the path", async () => {
    const d = await mkdtemp(join(tmpdir(), "vace-manifest-"));
    try {
      await expect(loadManifest(join(d, "none.json"))).rejects.toThrow(
        /cannot read manifest .*none\.json/,
      );
      await writeFile(join(d, "bad.json"), "{");
      await expect(loadManifest(join(d, "bad.json"))).rejects.toThrow(/bad\.json is not JSON/);
    } finally {
      await rm(d, { recursive: true });
    }
  });
});

describe("selectModels, rebaseUrl, paths", () => {
  const m = parseManifest({ models: [entry, { ...entry, name: "y.safetensors" }] }, "m");

  it("selects by name and lists the known names for an unknown one", () => {
    expect(selectModels(m).map((e) => e.name)).toEqual(["x.safetensors", "y.safetensors"]);
    expect(selectModels(m, ["y.safetensors"]).map((e) => e.name)).toEqual(["y.safetensors"]);
    expect(() => selectModels(m, ["nope"])).toThrow(
      "no model named nope in the manifest; known: x.safetensors, y.safetensors",
    );
  });

  it("replaces scheme, host and port, keeping path and query", () => {
    expect(rebaseUrl("https://huggingface.co/a/b.bin?download=true", "http://127.0.0.1:8080")).toBe(
      "http://127.0.0.1:8080/a/b.bin?download=true",
    );
    expect(rebaseUrl("https://huggingface.co/a", "https://hf-mirror.com/ignored")).toBe(
      "https://hf-mirror.com/a",
    );
  });

  it("puts files at DIR/folder/name and downloads beside them as .partial", () => {
    expect(targetPath("/m", entry)).toBe("/m/vae/x.safetensors");
    expect(partialPath("/m", entry)).toBe("/m/vae/x.safetensors.partial");
  });
});

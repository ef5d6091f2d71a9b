/**
 * `/object_info` of the node classes `workflows/*.json` use, transcribed from the sources at
 * the commits `docker/comfyui/Dockerfile` pins (PINNED below; double.test.ts fails when they part):
 * - Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 (0.3.64, 2025-10-08): `server.py`
 *   `node_info` builds V1 nodes' entries; V3 nodes come from `comfy_api/latest/_io.py`
 *   `Schema.get_v1_info` (every input gets an options dict, `{}` when it has none; null display name
 *   unless the schema sets one; `output_tooltips`, `deprecated`, `experimental`, `api_node` always);
 * - kijai/ComfyUI-KJNodes 3fcd22f2fe2be69c3229f192362b91888277cbcb;
 * - Kosinkadink/ComfyUI-VideoHelperSuite 08e8df15db24da292d4b7f943c460dc2ab442b24.
 * Each node names its file below. Options lists, defaults, min/max/step, required/optional/hidden,
 * outputs, display names and categories are as served; tooltips and descriptions are left out (no
 * client reads them).
 */

/** The commits the production image pins, and so the ones this file was transcribed from. */
export const PINNED = {
  comfyui: "637221995f7424a561bd825de3e61ea117dfe1e3",
  kjnodes: "3fcd22f2fe2be69c3229f192362b91888277cbcb",
  vhs: "08e8df15db24da292d4b7f943c460dc2ab442b24",
} as const;

export interface NodeSpec {
  input: {
    required: Record<string, unknown[]>;
    optional?: Record<string, unknown[]>;
    hidden?: Record<string, unknown>;
  };
  input_order: Record<string, string[]>;
  output: string[];
  output_is_list: boolean[];
  output_name: string[];
  /** V3 nodes only: one null per output when no tooltips are set. */
  output_tooltips?: null[];
  name: string;
  /** V3 nodes without a schema display_name send null. */
  display_name: string | null;
  description: string;
  python_module: string;
  category: string;
  output_node: boolean;
  deprecated?: boolean;
  experimental?: boolean;
  api_node?: boolean;
}

export interface ServerFiles {
  diffusion_models: string[];
  text_encoders: string[];
  vae: string[];
  /** Files in ComfyUI's input directory (LoadImage's combo). */
  input: string[];
}

/** `nodes.py` MAX_RESOLUTION (KJNodes imports it from there). */
const MAX_RESOLUTION = 16384;

/** `comfy/samplers.py` SAMPLER_NAMES: KSAMPLER_NAMES + ["ddim", "uni_pc", "uni_pc_bh2"]. */
export const SAMPLERS = [
  "euler",
  "euler_cfg_pp",
  "euler_ancestral",
  "euler_ancestral_cfg_pp",
  "heun",
  "heunpp2",
  "dpm_2",
  "dpm_2_ancestral",
  "lms",
  "dpm_fast",
  "dpm_adaptive",
  "dpmpp_2s_ancestral",
  "dpmpp_2s_ancestral_cfg_pp",
  "dpmpp_sde",
  "dpmpp_sde_gpu",
  "dpmpp_2m",
  "dpmpp_2m_cfg_pp",
  "dpmpp_2m_sde",
  "dpmpp_2m_sde_gpu",
  "dpmpp_2m_sde_heun",
  "dpmpp_2m_sde_heun_gpu",
  "dpmpp_3m_sde",
  "dpmpp_3m_sde_gpu",
  "ddpm",
  "lcm",
  "ipndm",
  "ipndm_v",
  "deis",
  "res_multistep",
  "res_multistep_cfg_pp",
  "res_multistep_ancestral",
  "res_multistep_ancestral_cfg_pp",
  "gradient_estimation",
  "gradient_estimation_cfg_pp",
  "er_sde",
  "seeds_2",
  "seeds_3",
  "sa_solver",
  "sa_solver_pece",
  "ddim",
  "uni_pc",
  "uni_pc_bh2",
];
/** `comfy/samplers.py` SCHEDULER_NAMES (the keys of SCHEDULER_HANDLERS). */
export const SCHEDULERS = [
  "simple",
  "sgm_uniform",
  "karras",
  "exponential",
  "ddim_uniform",
  "beta",
  "normal",
  "linear_quadratic",
  "kl_optimal",
];
/** `nodes.py` CLIPLoader's `type`. */
const CLIP_TYPES = [
  "stable_diffusion",
  "stable_cascade",
  "sd3",
  "stable_audio",
  "mochi",
  "ltxv",
  "pixart",
  "cosmos",
  "lumina2",
  "wan",
  "hidream",
  "chroma",
  "ace",
  "omnigen2",
  "qwen_image",
  "hunyuan_image",
];

/**
 * VHS `video_formats/*.json` as `get_video_formats()` serves them: `video/<file name>` per file, and
 * the widgets `iterate_format()` finds in each. `video/gifski` is left out, as VHS leaves it out when
 * no gifski binary is found (`utils.py` gifski_path): the image installs none and sets no VHS_GIFSKI.
 * The real order is `os.scandir`'s, which the filesystem decides; clients must test membership.
 */
const NVENC_WIDGETS = [
  ["pix_fmt", ["yuv420p", "p010le"]],
  ["bitrate", "INT", { default: 10, min: 1, max: 999, step: 1 }],
  ["megabit", "BOOLEAN", { default: true }],
  ["save_metadata", "BOOLEAN", { default: true }],
];
const SAVE_METADATA = ["save_metadata", "BOOLEAN", { default: true }];
const TRIM_TO_AUDIO = ["trim_to_audio", "BOOLEAN", { default: false }];
const crf = (d: number) => ["crf", "INT", { default: d, min: 0, max: 100, step: 1 }];
const choice = (name: string, options: string[], d: string) => [name, options, { default: d }];
const VHS_FORMAT_WIDGETS: Record<string, unknown[]> = {
  "video/ProRes": [choice("profile", ["lt", "standard", "hq", "4444", "4444xq"], "hq")],
  "video/av1-webm": [
    ["pix_fmt", ["yuv420p10le", "yuv420p"]],
    crf(23),
    ["input_color_depth", ["8bit", "16bit"]],
    SAVE_METADATA,
  ],
  "video/ffmpeg-gif": [
    [
      "dither",
      [
        "bayer",
        "heckbert",
        "floyd_steinberg",
        "sierra2",
        "sierra2_4a",
        "sierra3",
        "burkes",
        "atkinson",
        "none",
      ],
      { default: "sierra2_4a" },
      "[0:v] split [a][b]; [a] palettegen=reserve_transparent=on:transparency_color=ffffff [p]; [b][p] paletteuse=dither=$val",
    ],
  ],
  "video/ffv1-mkv": [
    choice("level", ["0", "1", "3"], "3"),
    choice("coder", ["0", "1", "2"], "1"),
    choice("context", ["0", "1"], "1"),
    ["gop_size", "INT", { default: 1, min: 1, max: 300, step: 1 }],
    choice("slices", ["4", "6", "9", "12", "16", "20", "24", "30"], "16"),
    choice("slicecrc", ["0", "1"], "1"),
    choice(
      "pix_fmt",
      [
        "bgra",
        "rgba64le",
        "yuv420p",
        "yuv422p",
        "yuv444p",
        "yuva420p",
        "yuva422p",
        "yuva444p",
        "yuv420p10le",
        "yuv422p10le",
        "yuv444p10le",
        "yuv420p12le",
        "yuv422p12le",
        "yuv444p12le",
        "yuv420p14le",
        "yuv422p14le",
        "yuv444p14le",
        "yuv420p16le",
        "yuv422p16le",
        "yuv444p16le",
        "gray",
        "gray10le",
        "gray12le",
        "gray16le",
      ],
      "bgra",
    ),
    SAVE_METADATA,
    TRIM_TO_AUDIO,
  ],
  "video/h264-mp4": [
    ["pix_fmt", ["yuv420p", "yuv420p10le"]],
    crf(19),
    SAVE_METADATA,
    TRIM_TO_AUDIO,
  ],
  "video/h265-mp4": [["pix_fmt", ["yuv420p10le", "yuv420p"]], crf(22), SAVE_METADATA],
  "video/nvenc_av1-mp4": NVENC_WIDGETS,
  "video/nvenc_h264-mp4": NVENC_WIDGETS,
  "video/nvenc_hevc-mp4": NVENC_WIDGETS,
  "video/webm": [["pix_fmt", ["yuv420p", "yuva420p"]], crf(20), SAVE_METADATA, TRIM_TO_AUDIO],
  // VideoCombine.INPUT_TYPES adds this one itself.
  "image/webp": [["lossless", "BOOLEAN", { default: true }]],
};
const VHS_FORMATS = [
  "image/gif",
  "image/webp",
  "video/16bit-png",
  "video/8bit-png",
  "video/ProRes",
  "video/av1-webm",
  "video/ffmpeg-gif",
  "video/ffv1-mkv",
  "video/h264-mp4",
  "video/h265-mp4",
  "video/nvenc_av1-mp4",
  "video/nvenc_h264-mp4",
  "video/nvenc_hevc-mp4",
  "video/webm",
];

/**
 * VideoHelperSuite's MultiInput types (`videohelpersuite/utils.py` at the pinned commit): str
 * subclasses that compare equal to every type in their list, so ComfyUI's type check
 * (validate_node_input, which compares with `!=`) lets them link to any of those types. JSON
 * carries only the plain name, so validate.ts reads the lists from here.
 */
export const MULTI_TYPES: Record<
  string,
  { inputs?: Record<string, string[]>; outputs?: Record<number, string[]> }
> = {
  // imageOrLatent / floatOrInt
  VHS_VideoCombine: { inputs: { images: ["IMAGE", "LATENT"], frame_rate: ["FLOAT", "INT"] } },
  VHS_LoadVideo: { inputs: { force_rate: ["FLOAT", "INT"] }, outputs: { 0: ["IMAGE", "LATENT"] } },
};

/** VHS `load_video_nodes.py` video_extensions: the files VHS_LoadVideo lists (no .avi). */
export const VHS_VIDEO_EXTENSIONS = ["webm", "mp4", "mkv", "gif", "mov"];
/** VHS `utils.py` BIGMAX and DIMMAX. */
const BIGMAX = 2 ** 53 - 1;
const DIMMAX = 8192;
/** VHS `load_video_nodes.py` VHSLoadFormats, after `nodes.VHSLoadFormats` (empty: no plugin adds any). */
const VHS_LOAD_FORMATS = {
  None: {},
  AnimateDiff: { target_rate: 8, dim: [8, 0, 512, 512] },
  Mochi: { target_rate: 24, dim: [16, 0, 848, 480], frames: [6, 1] },
  LTXV: { target_rate: 24, dim: [32, 0, 768, 512], frames: [8, 1] },
  Hunyuan: { target_rate: 24, dim: [16, 0, 848, 480], frames: [4, 1] },
  Cosmos: { target_rate: 24, dim: [16, 0, 1280, 704], frames: [8, 1] },
  Wan: { target_rate: 16, dim: [8, 0, 832, 480], frames: [4, 1] },
};

interface Def {
  required: Record<string, unknown[]>;
  optional?: Record<string, unknown[]>;
  hidden?: Record<string, unknown>;
  output: string[];
  output_name?: string[];
  display_name?: string;
  category: string;
  python_module?: string;
  output_node?: boolean;
}

/** A V1 node as `server.py` node_info describes it. */
function spec(name: string, d: Def): NodeSpec {
  const input = {
    required: d.required,
    ...(d.optional ? { optional: d.optional } : {}),
    ...(d.hidden ? { hidden: d.hidden } : {}),
  };
  return {
    input,
    input_order: Object.fromEntries(Object.entries(input).map(([k, v]) => [k, Object.keys(v)])),
    output: d.output,
    output_is_list: d.output.map(() => false),
    output_name: d.output_name ?? d.output,
    name,
    display_name: d.display_name ?? name,
    description: "",
    python_module: d.python_module ?? "nodes",
    category: d.category,
    output_node: d.output_node ?? false,
  };
}

/** A V3 node (`io.ComfyNode`) as `Schema.get_v1_info` describes it. */
function v3(name: string, d: Def): NodeSpec {
  return {
    ...spec(name, d),
    output_tooltips: d.output.map(() => null),
    display_name: d.display_name ?? null,
    deprecated: false,
    experimental: false,
    api_node: false,
  };
}

const int = (o: Record<string, number | boolean>) => ["INT", o];
const float = (o: Record<string, number>) => ["FLOAT", o];

/** The node classes this double knows, with combo lists built from the server's files. */
export function nodeSpecs(files: ServerFiles): Record<string, NodeSpec> {
  return {
    // Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 nodes.py
    UNETLoader: spec("UNETLoader", {
      required: {
        unet_name: [files.diffusion_models],
        weight_dtype: [["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"]],
      },
      output: ["MODEL"],
      display_name: "Load Diffusion Model",
      category: "advanced/loaders",
    }),
    // Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 nodes.py
    CLIPLoader: spec("CLIPLoader", {
      required: { clip_name: [files.text_encoders], type: [CLIP_TYPES] },
      optional: { device: [["default", "cpu"], { advanced: true }] },
      output: ["CLIP"],
      display_name: "Load CLIP",
      category: "advanced/loaders",
    }),
    // Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 nodes.py: vae_list() adds
    // taesd* only when models/vae_approx holds their decoders (the image has none), then pixel_space.
    VAELoader: spec("VAELoader", {
      required: { vae_name: [[...files.vae, "pixel_space"]] },
      output: ["VAE"],
      display_name: "Load VAE",
      category: "loaders",
    }),
    // Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 nodes.py
    CLIPTextEncode: spec("CLIPTextEncode", {
      required: { text: ["STRING", { multiline: true, dynamicPrompts: true }], clip: ["CLIP", {}] },
      output: ["CONDITIONING"],
      display_name: "CLIP Text Encode (Prompt)",
      category: "conditioning",
    }),
    // Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 comfy_extras/nodes_wan.py (V3)
    WanVaceToVideo: v3("WanVaceToVideo", {
      required: {
        positive: ["CONDITIONING", {}],
        negative: ["CONDITIONING", {}],
        vae: ["VAE", {}],
        width: int({ default: 832, min: 16, max: MAX_RESOLUTION, step: 16 }),
        height: int({ default: 480, min: 16, max: MAX_RESOLUTION, step: 16 }),
        length: int({ default: 81, min: 1, max: MAX_RESOLUTION, step: 4 }),
        batch_size: int({ default: 1, min: 1, max: 4096 }),
        strength: float({ default: 1.0, min: 0.0, max: 1000.0, step: 0.01 }),
      },
      optional: {
        control_video: ["IMAGE", {}],
        control_masks: ["MASK", {}],
        reference_image: ["IMAGE", {}],
      },
      output: ["CONDITIONING", "CONDITIONING", "LATENT", "INT"],
      output_name: ["positive", "negative", "latent", "trim_latent"],
      category: "conditioning/video_models",
      python_module: "comfy_extras.nodes_wan",
    }),
    // Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 comfy_extras/nodes_wan.py (V3)
    TrimVideoLatent: v3("TrimVideoLatent", {
      required: { samples: ["LATENT", {}], trim_amount: int({ default: 0, min: 0, max: 99999 }) },
      output: ["LATENT"],
      category: "latent/video",
      python_module: "comfy_extras.nodes_wan",
    }),
    // Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 nodes.py: the combo lists the
    // input directory's image files, sorted.
    LoadImage: spec("LoadImage", {
      required: { image: [[...files.input].sort(), { image_upload: true }] },
      output: ["IMAGE", "MASK"],
      display_name: "Load Image",
      category: "image",
    }),
    // kijai/ComfyUI-KJNodes 3fcd22f2fe2be69c3229f192362b91888277cbcb nodes/image_nodes.py
    // (display name: __init__.py NODE_CONFIG). Newer KJNodes add upscale_method nvidia_rtx_vsr and
    // keep_proportion total_pixels; this commit has neither.
    ImageResizeKJv2: spec("ImageResizeKJv2", {
      required: {
        image: ["IMAGE"],
        width: int({ default: 512, min: 0, max: MAX_RESOLUTION, step: 1 }),
        height: int({ default: 512, min: 0, max: MAX_RESOLUTION, step: 1 }),
        upscale_method: [["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]],
        keep_proportion: [
          ["stretch", "resize", "pad", "pad_edge", "pad_edge_pixel", "crop", "pillarbox_blur"],
          { default: false },
        ],
        pad_color: ["STRING", { default: "0, 0, 0" }],
        crop_position: [["center", "top", "bottom", "left", "right"], { default: "center" }],
        divisible_by: int({ default: 2, min: 0, max: 512, step: 1 }),
      },
      optional: { mask: ["MASK"], device: [["cpu", "gpu"]] },
      hidden: { unique_id: "UNIQUE_ID" },
      output: ["IMAGE", "INT", "INT", "MASK"],
      output_name: ["IMAGE", "width", "height", "mask"],
      display_name: "Resize Image v2",
      category: "KJNodes/image",
      python_module: "custom_nodes.ComfyUI-KJNodes",
    }),
    // Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 nodes.py (lists: comfy/samplers.py)
    KSampler: spec("KSampler", {
      required: {
        model: ["MODEL", {}],
        // 0xffffffffffffffff in Python; JSON.parse reads it as the nearest double, as this is.
        seed: int({ default: 0, min: 0, max: 2 ** 64 - 1, control_after_generate: true }),
        steps: int({ default: 20, min: 1, max: 10000 }),
        cfg: float({ default: 8.0, min: 0.0, max: 100.0, step: 0.1, round: 0.01 }),
        sampler_name: [SAMPLERS, {}],
        scheduler: [SCHEDULERS, {}],
        positive: ["CONDITIONING", {}],
        negative: ["CONDITIONING", {}],
        latent_image: ["LATENT", {}],
        denoise: float({ default: 1.0, min: 0.0, max: 1.0, step: 0.01 }),
      },
      output: ["LATENT"],
      category: "sampling",
    }),
    // Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 comfy_extras/nodes_model_advanced.py
    ModelSamplingSD3: spec("ModelSamplingSD3", {
      required: {
        model: ["MODEL"],
        shift: float({ default: 3.0, min: 0.0, max: 100.0, step: 0.01 }),
      },
      output: ["MODEL"],
      category: "advanced/model",
      python_module: "comfy_extras.nodes_model_advanced",
    }),
    // Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 nodes.py
    VAEDecode: spec("VAEDecode", {
      required: { samples: ["LATENT", {}], vae: ["VAE", {}] },
      output: ["IMAGE"],
      display_name: "VAE Decode",
      category: "latent",
    }),
    // Comfy-Org/ComfyUI 637221995f7424a561bd825de3e61ea117dfe1e3 comfy_extras/nodes_mask.py (V1)
    ImageToMask: spec("ImageToMask", {
      required: { image: ["IMAGE"], channel: [["red", "green", "blue", "alpha"]] },
      output: ["MASK"],
      display_name: "Convert Image to Mask",
      category: "mask",
      python_module: "comfy_extras.nodes_mask",
    }),
    // Kosinkadink/ComfyUI-VideoHelperSuite 08e8df15db24da292d4b7f943c460dc2ab442b24
    // videohelpersuite/load_video_nodes.py LoadVideoUpload (registered as VHS_LoadVideo in nodes.py):
    // the combo lists the input directory's files with a video extension, sorted.
    VHS_LoadVideo: spec("VHS_LoadVideo", {
      required: {
        video: [
          files.input
            .filter((f) => VHS_VIDEO_EXTENSIONS.includes(f.split(".").pop()?.toLowerCase() ?? ""))
            .sort(),
        ],
        // floatOrInt (see MULTI_TYPES)
        force_rate: ["FLOAT", { default: 0, min: 0, max: 60, step: 1, disable: 0 }],
        custom_width: int({ default: 0, min: 0, max: DIMMAX, disable: 0 }),
        custom_height: int({ default: 0, min: 0, max: DIMMAX, disable: 0 }),
        frame_load_cap: int({ default: 0, min: 0, max: BIGMAX, step: 1, disable: 0 }),
        skip_first_frames: int({ default: 0, min: 0, max: BIGMAX, step: 1 }),
        select_every_nth: int({ default: 1, min: 1, max: BIGMAX, step: 1 }),
      },
      optional: {
        meta_batch: ["VHS_BatchManager"],
        vae: ["VAE"],
        format: [
          Object.keys(VHS_LOAD_FORMATS),
          { default: "AnimateDiff", formats: VHS_LOAD_FORMATS },
        ],
      },
      hidden: { force_size: "STRING", unique_id: "UNIQUE_ID" },
      // imageOrLatent first (see MULTI_TYPES)
      output: ["IMAGE", "INT", "AUDIO", "VHS_VIDEOINFO"],
      output_name: ["IMAGE", "frame_count", "audio", "video_info"],
      display_name: "Load Video (Upload) 🎥🅥🅗🅢",
      category: "Video Helper Suite 🎥🅥🅗🅢",
      python_module: "custom_nodes.ComfyUI-VideoHelperSuite",
    }),
    // Kosinkadink/ComfyUI-VideoHelperSuite 08e8df15db24da292d4b7f943c460dc2ab442b24
    // videohelpersuite/nodes.py VideoCombine (display name: NODE_DISPLAY_NAME_MAPPINGS there).
    VHS_VideoCombine: spec("VHS_VideoCombine", {
      required: {
        // imageOrLatent / floatOrInt (utils.py) are str subclasses "IMAGE" / "FLOAT" that also accept LATENT / INT.
        images: ["IMAGE"],
        frame_rate: ["FLOAT", { default: 8, min: 1, step: 1 }],
        loop_count: int({ default: 0, min: 0, max: 100, step: 1 }),
        filename_prefix: ["STRING", { default: "AnimateDiff" }],
        // The format's own widgets (pix_fmt, crf, …) reach combine_video through **kwargs: the hidden
        // dict is a ContainsAll, so ComfyUI passes any extra input through unvalidated.
        format: [VHS_FORMATS, { formats: VHS_FORMAT_WIDGETS }],
        pingpong: ["BOOLEAN", { default: false }],
        save_output: ["BOOLEAN", { default: true }],
      },
      optional: { audio: ["AUDIO"], meta_batch: ["VHS_BatchManager"], vae: ["VAE"] },
      hidden: { prompt: "PROMPT", extra_pnginfo: "EXTRA_PNGINFO", unique_id: "UNIQUE_ID" },
      output: ["VHS_FILENAMES"],
      output_name: ["Filenames"],
      display_name: "Video Combine 🎥🅥🅗🅢",
      category: "Video Helper Suite 🎥🅥🅗🅢",
      python_module: "custom_nodes.ComfyUI-VideoHelperSuite",
      output_node: true,
    }),
  };
}

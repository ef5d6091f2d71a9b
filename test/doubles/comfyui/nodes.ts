/**
 * `/object_info` of the node classes the smoke workflow uses, as the real servers describe them.
 * Sources (read at these commits):
 * - core: Comfy-Org/ComfyUI a125cd84b054a57729b5eecab930ca9408719832 (0.3.64) `nodes.py`
 *   (UNETLoader, CLIPLoader, VAELoader, CLIPTextEncode, LoadImage, KSampler, VAEDecode),
 *   `comfy_extras/nodes_wan.py` (WanVaceToVideo, TrimVideoLatent; V3 nodes in their V1 shape),
 *   `comfy_extras/nodes_model_advanced.py` (ModelSamplingSD3), `comfy/samplers.py` (sampler and scheduler lists);
 * - kijai/ComfyUI-KJNodes 3f20054214fec9f9234fd3841ae6f1e4287948f6 `nodes/image_nodes.py` (ImageResizeKJv2);
 * - Kosinkadink/ComfyUI-VideoHelperSuite 4ee72c065db22c9d96c2427954dc69e7b908444b `videohelpersuite/nodes.py`
 *   (VideoCombine) and `video_formats/*.json`.
 * Only the fields a client reads are reproduced; tooltips are left out.
 */

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
  name: string;
  display_name: string;
  description: string;
  python_module: string;
  category: string;
  output_node: boolean;
}

export interface ServerFiles {
  diffusion_models: string[];
  text_encoders: string[];
  vae: string[];
  /** Files in ComfyUI's input directory (LoadImage's combo). */
  input: string[];
}

const MAX_RESOLUTION = 16384;

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
const VHS_FORMATS = [
  "image/gif",
  "image/webp",
  "video/16bit-png",
  "video/8bit-png",
  "video/ProRes",
  "video/av1-webm",
  "video/ffmpeg-gif",
  "video/ffv1-mkv",
  "video/gifski",
  "video/h264-mp4",
  "video/h265-mp4",
  "video/nvenc_av1-mp4",
  "video/nvenc_h264-mp4",
  "video/nvenc_hevc-mp4",
  "video/webm",
];

interface Def {
  required: Record<string, unknown[]>;
  optional?: Record<string, unknown[]>;
  hidden?: Record<string, unknown>;
  output: string[];
  output_name?: string[];
  category: string;
  python_module?: string;
  output_node?: boolean;
}

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
    display_name: name,
    description: "",
    python_module: d.python_module ?? "nodes",
    category: d.category,
    output_node: d.output_node ?? false,
  };
}

/** The node classes this double knows, with combo lists built from the server's files. */
export function nodeSpecs(files: ServerFiles): Record<string, NodeSpec> {
  const int = (o: Record<string, number>) => ["INT", o];
  return {
    UNETLoader: spec("UNETLoader", {
      required: {
        unet_name: [files.diffusion_models],
        weight_dtype: [["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"]],
      },
      output: ["MODEL"],
      category: "advanced/loaders",
    }),
    CLIPLoader: spec("CLIPLoader", {
      required: { clip_name: [files.text_encoders], type: [CLIP_TYPES] },
      optional: { device: [["default", "cpu"], { advanced: true }] },
      output: ["CLIP"],
      category: "advanced/loaders",
    }),
    VAELoader: spec("VAELoader", {
      required: { vae_name: [[...files.vae, "pixel_space"]] },
      output: ["VAE"],
      category: "loaders",
    }),
    CLIPTextEncode: spec("CLIPTextEncode", {
      required: { text: ["STRING", { multiline: true, dynamicPrompts: true }], clip: ["CLIP"] },
      output: ["CONDITIONING"],
      category: "conditioning",
    }),
    WanVaceToVideo: spec("WanVaceToVideo", {
      required: {
        positive: ["CONDITIONING"],
        negative: ["CONDITIONING"],
        vae: ["VAE"],
        width: int({ default: 832, min: 16, max: MAX_RESOLUTION, step: 16 }),
        height: int({ default: 480, min: 16, max: MAX_RESOLUTION, step: 16 }),
        length: int({ default: 81, min: 1, max: MAX_RESOLUTION, step: 4 }),
        batch_size: int({ default: 1, min: 1, max: 4096 }),
        strength: ["FLOAT", { default: 1.0, min: 0.0, max: 1000.0, step: 0.01 }],
      },
      optional: { control_video: ["IMAGE"], control_masks: ["MASK"], reference_image: ["IMAGE"] },
      output: ["CONDITIONING", "CONDITIONING", "LATENT", "INT"],
      output_name: ["positive", "negative", "latent", "trim_latent"],
      category: "conditioning/video_models",
      python_module: "comfy_extras.nodes_wan",
    }),
    TrimVideoLatent: spec("TrimVideoLatent", {
      required: { samples: ["LATENT"], trim_amount: int({ default: 0, min: 0, max: 99999 }) },
      output: ["LATENT"],
      category: "latent/video",
      python_module: "comfy_extras.nodes_wan",
    }),
    LoadImage: spec("LoadImage", {
      required: { image: [[...files.input].sort(), { image_upload: true }] },
      output: ["IMAGE", "MASK"],
      category: "image",
    }),
    ImageResizeKJv2: spec("ImageResizeKJv2", {
      required: {
        image: ["IMAGE"],
        width: int({ default: 512, min: 0, max: MAX_RESOLUTION, step: 1 }),
        height: int({ default: 512, min: 0, max: MAX_RESOLUTION, step: 1 }),
        upscale_method: [
          ["nearest-exact", "bilinear", "area", "bicubic", "lanczos", "nvidia_rtx_vsr"],
        ],
        keep_proportion: [
          [
            "stretch",
            "resize",
            "pad",
            "pad_edge",
            "pad_edge_pixel",
            "crop",
            "pillarbox_blur",
            "total_pixels",
          ],
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
      category: "KJNodes/image",
      python_module: "custom_nodes.ComfyUI-KJNodes",
    }),
    KSampler: spec("KSampler", {
      required: {
        model: ["MODEL"],
        // 0xffffffffffffffff in Python; JSON.parse reads it as the nearest double, as this is.
        seed: int({ default: 0, min: 0, max: 2 ** 64 - 1 }),
        steps: int({ default: 20, min: 1, max: 10000 }),
        cfg: ["FLOAT", { default: 8.0, min: 0.0, max: 100.0, step: 0.1, round: 0.01 }],
        sampler_name: [SAMPLERS],
        scheduler: [SCHEDULERS],
        positive: ["CONDITIONING"],
        negative: ["CONDITIONING"],
        latent_image: ["LATENT"],
        denoise: ["FLOAT", { default: 1.0, min: 0.0, max: 1.0, step: 0.01 }],
      },
      output: ["LATENT"],
      category: "sampling",
    }),
    ModelSamplingSD3: spec("ModelSamplingSD3", {
      required: {
        model: ["MODEL"],
        shift: ["FLOAT", { default: 3.0, min: 0.0, max: 100.0, step: 0.01 }],
      },
      output: ["MODEL"],
      category: "advanced/model",
      python_module: "comfy_extras.nodes_model_advanced",
    }),
    VAEDecode: spec("VAEDecode", {
      required: { samples: ["LATENT"], vae: ["VAE"] },
      output: ["IMAGE"],
      category: "latent",
    }),
    VHS_VideoCombine: spec("VHS_VideoCombine", {
      required: {
        // VHS's imageOrLatent / floatOrInt are str subclasses ("IMAGE", "FLOAT") that also accept LATENT / INT.
        images: ["IMAGE"],
        frame_rate: ["FLOAT", { default: 8, min: 1, step: 1 }],
        loop_count: int({ default: 0, min: 0, max: 100, step: 1 }),
        filename_prefix: ["STRING", { default: "AnimateDiff" }],
        format: [VHS_FORMATS],
        pingpong: ["BOOLEAN", { default: false }],
        save_output: ["BOOLEAN", { default: true }],
      },
      optional: { audio: ["AUDIO"], meta_batch: ["VHS_BatchManager"], vae: ["VAE"] },
      hidden: { prompt: "PROMPT", extra_pnginfo: "EXTRA_PNGINFO", unique_id: "UNIQUE_ID" },
      output: ["VHS_FILENAMES"],
      output_name: ["Filenames"],
      category: "Video Helper Suite 🎥🅥🅗🅢",
      python_module: "custom_nodes.ComfyUI-VideoHelperSuite",
      output_node: true,
    }),
  };
}

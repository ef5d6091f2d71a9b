/**
 * Smoke profiles and what each costs the GPU.
 *
 * `ci` is the cheapest run that still proves the deployment makes a 480P H.264 MP4 end to end:
 * 9 frames (3 latent frames, enough for the verifier's frozen-video check to see motion), 4 steps,
 * and cfg 1, at which ComfyUI skips the negative (unconditional) pass entirely.
 * `full` is the seed's own settings: 480×480, 49 frames, 20 steps, cfg 4.
 */
export interface Profile {
  width: number;
  height: number;
  frames: number;
  fps: number;
  steps: number;
  cfg: number;
}

export const PROFILES = {
  ci: { width: 480, height: 480, frames: 9, fps: 16, steps: 4, cfg: 1 },
  full: { width: 480, height: 480, frames: 49, fps: 16, steps: 20, cfg: 4 },
} as const satisfies Record<string, Profile>;
export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

/** The reference image becomes one extra latent frame that the sampler denoises (WanVaceToVideo). */
export const REFERENCE_LATENT_FRAMES = 1;

export interface SamplingCost {
  /** Latent frames of the video itself: (frames - 1) / 4 + 1. */
  latentFrames: number;
  /** Latent frames the sampler actually runs on: the video's plus the reference frame. */
  sampledLatentFrames: number;
  steps: number;
  /** 1 when cfg is 1 (ComfyUI skips the unconditional pass), else 2. */
  passes: number;
  /** sampledLatentFrames × steps × passes: proportional to the sampler's GPU time at a fixed size. */
  cost: number;
}

/** Pure: the sampler work a profile asks for. */
export function samplingCost(p: Profile): SamplingCost {
  const latentFrames = Math.floor((p.frames - 1) / 4) + 1;
  const sampledLatentFrames = latentFrames + REFERENCE_LATENT_FRAMES;
  // comfy/samplers.py skips the uncond model call when math.isclose(cfg, 1.0).
  const passes = Math.abs(p.cfg - 1) < 1e-9 ? 1 : 2;
  return {
    latentFrames,
    sampledLatentFrames,
    steps: p.steps,
    passes,
    cost: sampledLatentFrames * p.steps * passes,
  };
}

/**
 * The chosen profile's cost, for the start of a smoke run; ci also says how much more full costs,
 * full how much more it costs than ci. Only the profile that runs is described in full.
 */
export function describeCosts(name: ProfileName): string[] {
  const p = PROFILES[name];
  const c = samplingCost(p);
  const ratio = formatRatio(samplingCost(PROFILES.full).cost / samplingCost(PROFILES.ci).cost);
  return [
    `profile ${name}: ${p.width}×${p.height}, ${p.frames} frames → ${c.latentFrames} latent + ` +
      `${REFERENCE_LATENT_FRAMES} reference = ${c.sampledLatentFrames} latent frames × ${c.steps} steps × ` +
      `${c.passes} pass${c.passes === 1 ? "" : "es"} (cfg ${p.cfg}) = sampling cost ${c.cost}` +
      (name === "ci" ? ` (full costs ${ratio}× ci)` : ` (${ratio}× ci)`),
  ];
}

function formatRatio(r: number): string {
  return Number.isInteger(r) ? String(r) : r.toFixed(1);
}

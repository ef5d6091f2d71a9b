/**
 * The bake's decisions, pure (BAKE-CONTRACT.md): when the builder is released, what the image is
 * called. The image's tags are in ./tags.ts.
 */
import { formatReleaseTime, MIN_TTL_MINUTES } from "../common/ttl";

/** The builder's lifetime: ECS releases it by itself even when `vace bake` dies. */
export const BAKE_TTL_MINUTES = 120;

/**
 * The builder's `autoReleaseTime`: the one it already has (stage `image` runs the program again,
 * and a new time would update the builder), or at most BAKE_TTL_MINUTES from now: a whole minute
 * not ending in 0, like every release time (infra/common/ttl.ts says why).
 */
export function builderReleaseTime(now: Date, existing?: string): string {
  const kept = existing === undefined ? Number.NaN : Date.parse(existing);
  // A kept time must still be one ECS accepts for a new instance, should the builder be gone.
  if (kept - now.getTime() >= MIN_TTL_MINUTES * 60_000) return existing as string;
  let minute = Math.floor((now.getTime() + BAKE_TTL_MINUTES * 60_000) / 60_000);
  if (minute % 10 === 0) minute -= 1;
  return formatReleaseTime(new Date(minute * 60_000));
}

/** `<prefix>-baked-<yyyymmddhhmm>` (UTC): ECS image names allow letters, digits, `-`, `_`, `.`, `:`. */
export function bakedImageName(prefix: string, at: Date): string {
  const stamp = at.toISOString().slice(0, 16).replace(/[-T:]/g, "");
  return `${prefix}-baked-${stamp}`;
}

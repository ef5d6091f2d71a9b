/**
 * ECS `autoReleaseTime` rules (alicloud-facts §1, ModifyInstanceAutoReleaseTime): ISO 8601 UTC
 * `yyyy-MM-ddTHH:mm:ssZ`, at least 30 minutes and less than 3 years ahead. The cloud enforces the
 * release even if CI dies, which is why every deployment carries one.
 */
export const MIN_TTL_MINUTES = 30;
/**
 * Three calendar years are at least 1095 days. The release time is ttl + the deploy allowance
 * ahead, so the largest ttl leaves room for the allowance under that.
 */
export const MAX_TTL_MINUTES = 1095 * 24 * 60 - 1 - 10;

/**
 * The program computes the release time when `pulumi up` starts, but the instance is created
 * minutes later (VPC, vSwitch, role first). The allowance keeps a 30-minute TTL above the API's
 * 30-minute floor at the moment the instance is created.
 */
export const DEPLOY_ALLOWANCE_MINUTES = 10; // MAX_TTL_MINUTES subtracts this too

/** Formats a Date the way ECS wants it: second precision, no milliseconds, `Z`. */
export function formatReleaseTime(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

/** When an instance whose deploy started at `now` is released. Throws when the TTL is out of bounds. */
export function autoReleaseTime(now: Date, ttlMinutes: number): string {
  if (
    !Number.isInteger(ttlMinutes) ||
    ttlMinutes < MIN_TTL_MINUTES ||
    ttlMinutes > MAX_TTL_MINUTES
  ) {
    throw new RangeError(
      `ttl must be between ${MIN_TTL_MINUTES} minutes and 3 years, got ${ttlMinutes} minutes`,
    );
  }
  // Round up to the next whole second so the result is never under the 30-minute floor.
  const ms = now.getTime() + (ttlMinutes + DEPLOY_ALLOWANCE_MINUTES) * 60_000;
  const at = new Date(Math.ceil(ms / 1000) * 1000);
  return formatReleaseTime(at);
}

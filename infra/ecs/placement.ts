/**
 * Zone and instance-type choice. `ecs.getInstanceTypes` drops sold-out types and lists, per type,
 * the zones where it is in stock now (alicloud-facts §1), so the choice is a pure walk of the
 * preference list over those offers: first preferred type, first allowed zone.
 */
export interface InstanceTypeOffer {
  instanceType: string;
  /** Zones where the type is in stock right now. */
  zones: string[];
  /** Hourly price as the lookup returned it (empty unless priced). */
  price?: string;
}

export interface Placement {
  instanceType: string;
  zone: string;
  /** Hourly price, when the lookup returned one. */
  hourlyPrice?: number;
}

export class PlacementError extends Error {
  constructor(
    message: string,
    readonly tried: string[],
  ) {
    super(message);
    this.name = "PlacementError";
  }
}

/**
 * Takes the first (type, zone) in preference order that is in stock. `allowedZones` (config
 * `zones`) both restricts and orders the zones; when empty, any zone goes, in name order so the
 * choice is stable between runs.
 */
export function choosePlacement(
  preferences: readonly string[],
  allowedZones: readonly string[],
  offers: readonly InstanceTypeOffer[],
  region: string,
): Placement {
  const tried: string[] = [];
  for (const type of preferences) {
    const inStock = offers.filter((o) => o.instanceType === type).flatMap((o) => o.zones);
    const candidates = allowedZones.length
      ? allowedZones.filter((z) => inStock.includes(z))
      : [...new Set(inStock)].sort();
    const offer = offers.find((o) => o.instanceType === type);
    if (candidates[0] !== undefined) {
      const price = Number.parseFloat(offer?.price ?? "");
      return {
        instanceType: type,
        zone: candidates[0],
        ...(Number.isFinite(price) && price > 0 && { hourlyPrice: price }),
      };
    }
    tried.push(
      inStock.length === 0
        ? `${type}: sold out (or not offered) in every zone of ${region}`
        : `${type}: in stock only in ${[...new Set(inStock)].sort().join(", ")}, none of the allowed zones ${allowedZones.join(", ")}`,
    );
  }
  throw new PlacementError(
    `no GPU capacity in ${region} for any preferred instance type. Tried, in order:\n  ${tried.join("\n  ")}\n` +
      "Add instance types to wan-vace:instanceTypes, widen or clear wan-vace:zones, try wan-vace:spot, or pick another wan-vace:region.",
    tried,
  );
}

/** This stack's instance, when the cloud still has one (any status). */
export interface RunningPlacement {
  instanceType: string;
  zone: string;
  /**
   * Its `boot-digest` tag: the digest of the inputs that force a new instance when they change
   * (see `bootDigest`). Absent on instances made before the tag existed.
   */
  bootDigest?: string;
  /** Its `expires-at` tag (a bake's builder keeps its release time across stages). */
  expiresAt?: string;
}

/**
 * What `pulumi up` will do to the instance, decided before anything is deleted:
 * - `create`: no instance (first deploy, or the cloud released or reclaimed it);
 * - `keep`: the running instance stays where it is, whatever the stock says now;
 * - `replace`: its boot inputs changed, so the provider deletes it and creates a new one; the
 *   new one keeps the type and zone when they are still in stock there;
 * - `replace-and-move`: as `replace`, but that type is sold out in that zone, so the new one
 *   takes the first preference in stock (its vSwitch moves with it).
 * When a new instance is needed and nothing is in stock, planning throws PlacementError, which
 * fails the preview: the running instance is never deleted for a create that cannot succeed.
 */
export type PlacementAction = "create" | "keep" | "replace" | "replace-and-move";

export interface PlacementPlan extends Placement {
  action: PlacementAction;
  /** What a person should read in the preview, for replacements. */
  note?: string;
}

export interface PlacementInputs {
  running: RunningPlacement | undefined;
  /** The digest of this deploy's boot inputs. */
  bootDigest: string;
  preferences: readonly string[];
  allowedZones: readonly string[];
  offers: readonly InstanceTypeOffer[];
  region: string;
}

export function planPlacement(p: PlacementInputs): PlacementPlan {
  const { running } = p;
  if (!running) {
    return {
      ...choosePlacement(p.preferences, p.allowedZones, p.offers, p.region),
      action: "create",
    };
  }
  const here = { instanceType: running.instanceType, zone: running.zone };
  // Without a digest (an instance from before the tag) a replacement cannot be foreseen: keep.
  if (running.bootDigest === undefined || running.bootDigest === p.bootDigest) {
    return { ...here, action: "keep" };
  }
  const stillOffered = p.offers.some(
    (o) => o.instanceType === running.instanceType && o.zones.includes(running.zone),
  );
  const stillAllowed =
    p.preferences.includes(running.instanceType) &&
    (p.allowedZones.length === 0 || p.allowedZones.includes(running.zone));
  const what = `${running.instanceType} in ${running.zone}`;
  if (stillOffered && stillAllowed) {
    return {
      ...here,
      action: "replace",
      note: `the instance's boot configuration changed, so it is replaced (deleted, then created again as ${what})`,
    };
  }
  let moved: Placement;
  try {
    moved = choosePlacement(p.preferences, p.allowedZones, p.offers, p.region);
  } catch (e) {
    if (!(e instanceof PlacementError)) throw e;
    throw new PlacementError(
      `the instance's boot configuration changed, so it must be replaced, but ${what} is no longer available and nothing else is in stock; nothing was changed and the running instance is kept. ${e.message}`,
      e.tried,
    );
  }
  return {
    ...moved,
    action: "replace-and-move",
    note: `the instance's boot configuration changed, so it is replaced; ${what} is ${stillAllowed ? "sold out" : "no longer allowed by the config"}, so the new instance is ${moved.instanceType} in ${moved.zone} (its vSwitch moves with it)`,
  };
}

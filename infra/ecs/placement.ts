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

/** The placement of this stack's instance, when one already exists. */
export interface RunningPlacement {
  instanceType: string;
  zone: string;
}

/**
 * A re-deploy keeps the running instance where it is (its inputs are sticky anyway, and stock
 * for its type is irrelevant); only a first deploy, or one after the cloud released the
 * instance at its TTL, walks the preferences.
 */
export function keepOrChoosePlacement(
  running: RunningPlacement | undefined,
  preferences: readonly string[],
  allowedZones: readonly string[],
  offers: readonly InstanceTypeOffer[],
  region: string,
): Placement {
  if (running) return { instanceType: running.instanceType, zone: running.zone };
  return choosePlacement(preferences, allowedZones, offers, region);
}

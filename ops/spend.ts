/**
 * What a run cost: GPU minutes from creation to release (or stop), times the hourly price, plus what
 * the EIP added. spend.json keys are design.md contract 7:
 * {stack, target, instanceType, pricePerHour, currency, priceSource, billedMinutes, total}.
 *
 * The price comes from the pricing API when the stack asked for it (config priceLookup → the
 * `hourlyPrice` output), else from the dated table below, else it is unknown and says so: a cost is
 * never guessed.
 */

export interface PriceEntry {
  instanceType: string;
  /** Regions the quote applies to. */
  regions: string[];
  pricePerHour: number;
  currency: string;
  /** The day the quote was taken. */
  asOf: string;
  source: string;
}

/**
 * Pay-as-you-go hourly quotes. Add a row only with its date and source; prices differ by region and
 * change, so a row applies only to the regions it names.
 */
export const PRICE_TABLE: PriceEntry[] = [
  ...(
    [
      ["ecs.gn7i-c8g1.2xlarge", 9.74],
      ["ecs.gn6i-c4g1.xlarge", 11.84],
      ["ecs.gn8is.2xlarge", 14.63],
    ] as const
  ).map(([instanceType, pricePerHour]) => ({
    instanceType,
    regions: ["cn-shanghai", "cn-shenzhen"],
    pricePerHour,
    currency: "CNY",
    asOf: "2026-09-24",
    source:
      "ECS DescribePrice quote (Shanghai/Shenzhen, Linux GPU-driver image, 100 GiB ESSD PL1 system disk) recorded in a public capacity note of 2026-09-24; the note does not say which of the two regions each row came from",
  })),
];

export interface Price {
  pricePerHour: number | null;
  currency: string | null;
  priceSource: string;
}

/** The best price we know for a type in a region: the pricing API's, else the table's, else none. */
export function priceFor(
  instanceType: string | undefined,
  region: string,
  fromApi?: number | null,
  apiCurrency = process.env.VACE_BILLING_CURRENCY ?? "USD",
): Price {
  if (typeof fromApi === "number" && Number.isFinite(fromApi) && fromApi > 0) {
    return {
      pricePerHour: fromApi,
      currency: apiCurrency,
      priceSource: `pricing API (stack output hourlyPrice; currency is the account's, assumed ${apiCurrency}: set VACE_BILLING_CURRENCY)`,
    };
  }
  const row = PRICE_TABLE.find(
    (p) => p.instanceType === instanceType && p.regions.includes(region),
  );
  if (row) {
    return {
      pricePerHour: row.pricePerHour,
      currency: row.currency,
      priceSource: `price table of ${row.asOf} (ops/spend.ts): ${row.source}`,
    };
  }
  return {
    pricePerHour: null,
    currency: null,
    priceSource: `unknown: no dated price for ${instanceType ?? "an unknown type"} in ${region} in ops/spend.ts; set wan-vace:priceLookup true to ask the pricing API`,
  };
}

export interface SpendInput {
  stack: string;
  target: string;
  region: string;
  instanceType?: string;
  /** The stack's hourlyPrice output, when the pricing API was asked. */
  hourlyPrice?: number | null;
  /** GPU billing start: the instance's CreationTime from the cloud, else when `up` ended. */
  startedAt?: Date;
  startedFrom: "cloud" | "local clock" | "none";
  /** Billing end: release (destroy finished) or the watchdog's stop. */
  endedAt?: Date;
  endedFrom: "cloud" | "local clock" | "none";
  /** Bytes sent out through the EIP that we know of (the video downloads). */
  egressBytes?: number;
}

export interface Spend {
  stack: string;
  target: string;
  instanceType: string | null;
  pricePerHour: number | null;
  currency: string | null;
  priceSource: string;
  billedMinutes: number | null;
  total: number | null;
  startedAt: string | null;
  endedAt: string | null;
  timestamps: string;
  eip: { allocatedMinutes: number | null; egressGB: number; note: string };
}

const round = (n: number, places: number) => Math.round(n * 10 ** places) / 10 ** places;

/** Key order is spend.json's: contract 7's keys first, then the detail behind them. */
export function computeSpend(s: SpendInput): Spend {
  const price = priceFor(s.instanceType, s.region, s.hourlyPrice);
  // Pay-as-you-go bills by the second; a part-second counts as a whole one.
  const seconds =
    s.startedAt && s.endedAt
      ? Math.max(0, Math.ceil((s.endedAt.getTime() - s.startedAt.getTime()) / 1000))
      : null;
  const minutes = seconds === null ? null : round(seconds / 60, 2);
  const total =
    seconds !== null && price.pricePerHour !== null
      ? round((price.pricePerHour * seconds) / 3600, 4)
      : null;
  return {
    stack: s.stack,
    target: s.target,
    instanceType: s.instanceType ?? null,
    ...price,
    billedMinutes: minutes,
    total,
    startedAt: s.startedAt?.toISOString() ?? null,
    endedAt: s.endedAt?.toISOString() ?? null,
    timestamps: `start from ${s.startedFrom}, end from ${s.endedFrom}`,
    eip: {
      // The EIP lives as long as the instance, give or take the minute around creation and release.
      allocatedMinutes: minutes,
      egressGB: round((s.egressBytes ?? 0) / 1e9, 6),
      note: "PayByTraffic EIP: an hourly configuration fee plus outbound GB; not in the total (no dated EIP price in ops/spend.ts)",
    },
  };
}

/** Worst case before a deploy: the price per hour for the whole TTL (the cloud releases it then). */
export function worstCase(price: Price, ttlMinutes: number): string {
  if (price.pricePerHour === null) return `worst case: unknown (${price.priceSource})`;
  const cost = round((price.pricePerHour * ttlMinutes) / 60, 2);
  return `worst case: ${price.pricePerHour} ${price.currency}/h × ${round(ttlMinutes / 60, 2)} h ttl = ${cost} ${price.currency} (${price.priceSource})`;
}

const money = (n: number | null, c: string | null) => (n === null ? "unknown" : `${n} ${c}`);

function rows(s: Spend): Array<[string, string]> {
  return [
    ["stack", s.stack],
    ["target", s.target],
    ["instance type", s.instanceType ?? "unknown"],
    ["price per hour", money(s.pricePerHour, s.currency)],
    ["price source", s.priceSource],
    ["billed minutes", s.billedMinutes === null ? "unknown" : String(s.billedMinutes)],
    ["from / to", `${s.startedAt ?? "?"} → ${s.endedAt ?? "?"} (${s.timestamps})`],
    ["EIP", `${s.eip.egressGB} GB out; ${s.eip.note}`],
    ["total (GPU instance)", money(s.total, s.currency)],
  ];
}

/** A plain-text table for the terminal. */
export function formatSpendTable(s: Spend): string {
  const r = rows(s);
  const width = Math.max(...r.map(([k]) => k.length));
  return `${["SPEND", ...r.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join("\n")}\n`;
}

/** Markdown for $GITHUB_STEP_SUMMARY. */
export function formatSpendMarkdown(s: Spend): string {
  const esc = (v: string) => v.replace(/\|/g, "\\|");
  return `${["### Spend", "", "| | |", "|---|---|", ...rows(s).map(([k, v]) => `| ${k} | ${esc(v)} |`)].join("\n")}\n`;
}

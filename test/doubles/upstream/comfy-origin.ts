/**
 * ComfyUI's Host-vs-Origin check, ported from `create_origin_only_middleware()` and
 * `is_loopback()` in Comfy-Org/ComfyUI server.py (read at a125cd84, 2025-10-11; byte-identical
 * at the image's pinned 637221995f; the check came in 3ab3516e and was limited to loopback hosts
 * in 36c83cdb). A proxy that rewrites Host to
 * ComfyUI's own 127.0.0.1:8188 while the browser's Origin names the public address trips it,
 * so the gateway's tests run their upstream double through this exact rule.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

interface HostPort {
  /** Lower-cased, IPv6 brackets removed, like Python's `SplitResult.hostname`. */
  hostname: string | null;
  /** Like Python's `SplitResult.port`: null when absent or empty. */
  port: string | null;
}

/** Python's `urlsplit("//" + netloc)`: userinfo dropped, `[v6]` unwrapped, port split off. */
export function splitNetloc(netloc: string): HostPort {
  const hostPort = netloc.slice(netloc.lastIndexOf("@") + 1);
  const m = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort);
  const rawHost = (m?.[1] ?? "").replace(/^\[|\]$/g, "").toLowerCase();
  return { hostname: rawHost === "" ? null : rawHost, port: m?.[2] ? m[2] : null };
}

/** Python's `urlparse(origin).netloc`: the authority after `scheme://`, else "". */
export function originNetloc(origin: string): string {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(origin)?.[1] ?? "";
}

/**
 * The two strings ComfyUI compares, and the host name whose loopback-ness decides whether it
 * compares at all. Pure: resolving the name is left to `isLoopback`.
 */
export function originComparison(
  host: string,
  origin: string,
): { hostName: string | null; hostSide: string | null; originSide: string | null } {
  const hostDomain = host.toLowerCase();
  const originSideFull = originNetloc(origin).toLowerCase();
  const hostParsed = splitNetloc(hostDomain);
  const originParsed = splitNetloc(originSideFull);
  // "if origin doesn't have a port strip it from the host to handle weird browsers, same for host"
  const hostSide = originParsed.port === null ? hostParsed.hostname : hostDomain;
  const originSide = hostParsed.port === null ? originParsed.hostname : originSideFull;
  return { hostName: hostParsed.hostname, hostSide, originSide };
}

/** `is_loopback()`: an IP literal is checked directly; a name is loopback if all its addresses are. */
export async function isLoopback(host: string | null): Promise<boolean> {
  if (host === null) return false;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1";
  try {
    const addresses = await lookup(host, { all: true });
    return (
      addresses.length > 0 &&
      addresses.every((a) =>
        isIP(a.address) === 4 ? a.address.startsWith("127.") : a.address === "::1",
      )
    );
  } catch {
    return false;
  }
}

/** True when ComfyUI would answer 403: both headers present, loopback Host, sides differ. */
export async function comfyRejectsOrigin(
  host: string | undefined,
  origin: string | undefined,
): Promise<boolean> {
  if (host === undefined || origin === undefined) return false;
  const { hostName, hostSide, originSide } = originComparison(host, origin);
  if (!hostSide || !originSide) return false;
  return (await isLoopback(hostName)) && hostSide !== originSide;
}

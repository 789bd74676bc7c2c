/**
 * The public hub's hosts: the hub itself and its CDNs. The downloader follows redirects only to these (or to a
 * configured mirror), and the launcher grants network access to exactly these (plus the mirror).
 *
 * @module
 */

/** Host patterns, as `--allow-net` takes them (`*.` for any subdomain). */
export const HUB_HOSTS = ["huggingface.co", "hf.co", "*.huggingface.co", "*.hf.co"] as const;

/**
 * Whether `host` is one of {@linkcode HUB_HOSTS}.
 *
 * @example
 * ```ts
 * import { isHubHost } from "./hosts.ts";
 * if (!isHubHost("cas-bridge.xethub.hf.co") || isHubHost("evilhf.co")) throw new Error();
 * ```
 * @param host A host name (no port).
 * @returns True for the hub and its CDN hosts.
 */
export function isHubHost(host: string): boolean {
  return HUB_HOSTS.some((p) => p.startsWith("*.") ? host.endsWith(p.slice(1)) : host === p);
}

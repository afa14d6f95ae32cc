/**
 * Ameide platform SDK for TypeScript: a client for one platform endpoint that reports every
 * call through the sibling telemetry package. Resource helpers live in subpath exports
 * (`@ameideio/ameide-sdk-ts/platform/organizations`).
 */
import { createRecorder, type Recorder } from "@ameideio/ameide-telemetry-ts";

export const API_VERSION = "v1";

/** The subset of `fetch` the SDK uses, so callers and tests can supply their own. */
export type FetchLike = (url: string, init?: { headers?: Record<string, string> }) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}>;

export interface ClientOptions {
  telemetry?: Recorder;
  fetch?: FetchLike;
}

export interface Client {
  readonly baseUrl: string;
  readonly telemetry: Recorder;
  /** Absolute URL of an API path such as `organizations`. */
  url(path: string): string;
  /** GET an API path and parse the JSON body; records a `request` event. */
  getJson(path: string): Promise<unknown>;
}

export function createClient(baseUrl: string, options: ClientOptions = {}): Client {
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new Error(`base URL must be absolute http(s): ${baseUrl}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(`base URL must be absolute http(s): ${baseUrl}`);
  }
  const base = baseUrl.replace(/\/+$/, "");
  const telemetry = options.telemetry ?? createRecorder("ameide-sdk-ts");
  const doFetch: FetchLike = options.fetch ?? (globalThis.fetch as unknown as FetchLike);
  const url = (path: string) => `${base}/${API_VERSION}/${path.replace(/^\/+/, "")}`;
  return {
    baseUrl: base,
    telemetry,
    url,
    async getJson(path: string) {
      const target = url(path);
      const response = await doFetch(target, { headers: { accept: "application/json" } });
      telemetry.record("request", { path, status: String(response.status) });
      if (!response.ok) throw new Error(`GET ${target} failed with status ${response.status}`);
      return response.json();
    },
  };
}

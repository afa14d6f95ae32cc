/** Organizations of the Ameide platform: listing and slug rules. */
import slugify from "slugify";
import type { Client } from "../index.js";

export interface Organization {
  id: string;
  name: string;
  /** URL-safe form of the name (lower case, ASCII, dashes). */
  slug: string;
}

/** The slug the platform derives from an organization's display name. */
export function organizationSlug(name: string): string {
  return slugify(name, { lower: true, strict: true });
}

/** Lists the organizations visible to the client; rejects a malformed answer. */
export async function listOrganizations(client: Client): Promise<Organization[]> {
  const body = await client.getJson("organizations");
  const items = (body as { items?: unknown })?.items;
  if (!Array.isArray(items)) throw new Error("organizations: answer has no `items` array");
  return items.map((item) => {
    const { id, name } = item as { id?: unknown; name?: unknown };
    if (typeof id !== "string" || typeof name !== "string") {
      throw new Error("organizations: each item needs string `id` and `name`");
    }
    return { id, name, slug: organizationSlug(name) };
  });
}

// Unit tests run against the built package through its own exports map (self-reference),
// so a broken `exports` entry fails here as it would for a consumer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "@ameideio/ameide-sdk-ts";
import { listOrganizations, organizationSlug } from "@ameideio/ameide-sdk-ts/platform/organizations";
import { renderEvent } from "@ameideio/ameide-telemetry-ts";

function fakeFetch(status, body, seen) {
  return async (url, init) => {
    seen.push({ url, init });
    return { ok: status >= 200 && status < 300, status, json: async () => body };
  };
}

test("createClient builds versioned URLs and rejects relative ones", () => {
  const client = createClient("https://api.example.test/base/");
  assert.equal(client.url("organizations"), "https://api.example.test/base/v1/organizations");
  assert.throws(() => createClient("/relative"), /absolute http/);
});

test("listOrganizations maps items, derives slugs and records telemetry", async () => {
  const seen = [];
  const client = createClient("http://localhost:1", {
    fetch: fakeFetch(200, { items: [{ id: "o1", name: "Acme Corp" }, { id: "o2", name: "Zoë & Co" }] }, seen),
  });
  const orgs = await listOrganizations(client);
  assert.deepEqual(orgs, [
    { id: "o1", name: "Acme Corp", slug: "acme-corp" },
    { id: "o2", name: "Zoë & Co", slug: "zoe-and-co" },
  ]);
  assert.equal(seen[0].url, "http://localhost:1/v1/organizations");
  assert.deepEqual(client.telemetry.events().map(renderEvent), [
    "request path=organizations service=ameide-sdk-ts status=200",
  ]);
});

test("listOrganizations surfaces HTTP errors and malformed answers", async () => {
  const failing = createClient("http://localhost:1", { fetch: fakeFetch(503, {}, []) });
  await assert.rejects(listOrganizations(failing), /status 503/);
  const malformed = createClient("http://localhost:1", { fetch: fakeFetch(200, { nope: 1 }, []) });
  await assert.rejects(listOrganizations(malformed), /no `items` array/);
});

test("organizationSlug", () => {
  assert.equal(organizationSlug("  Hello, World!  "), "hello-world");
});

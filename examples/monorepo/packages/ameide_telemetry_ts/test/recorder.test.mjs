// Unit tests run against the built package through its own exports map (self-reference).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRecorder, renderEvent } from "@ameideio/ameide-telemetry-ts";

test("record tags the service and copies attributes", () => {
  const recorder = createRecorder("orders");
  const attrs = { op: "list" };
  recorder.record("call", attrs);
  attrs.op = "mutated";
  const [event] = recorder.events();
  assert.equal(renderEvent(event), "call op=list service=orders");
});

test("events() is a snapshot", () => {
  const recorder = createRecorder("s");
  recorder.record("a");
  const snapshot = recorder.events();
  recorder.record("b");
  assert.equal(snapshot.length, 1);
  assert.equal(recorder.events().length, 2);
});

test("an empty service is rejected", () => {
  assert.throws(() => createRecorder(""), /service must not be empty/);
});

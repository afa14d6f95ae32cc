package telemetry

import "testing"

func TestRecordTagsServiceAndCopiesAttributes(t *testing.T) {
	r := NewRecorder("orders")
	attrs := map[string]string{"op": "list"}
	r.Record("call", attrs)
	attrs["op"] = "mutated"

	events := r.Events()
	if len(events) != 1 {
		t.Fatalf("want 1 event, got %d", len(events))
	}
	if got, want := events[0].String(), "call op=list service=orders"; got != want {
		t.Fatalf("event = %q, want %q", got, want)
	}
}

func TestEventsIsASnapshot(t *testing.T) {
	r := NewRecorder("s")
	r.Record("a", nil)
	snap := r.Events()
	r.Record("b", nil)
	if len(snap) != 1 || len(r.Events()) != 2 {
		t.Fatalf("snapshot changed: %d / %d", len(snap), len(r.Events()))
	}
}

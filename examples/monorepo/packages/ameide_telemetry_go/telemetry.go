// Package telemetry records named events with attributes for the Ameide SDKs.
//
// A Recorder keeps events in memory so callers (and tests) can inspect what an SDK
// call reported; a real exporter would drain Events() periodically.
package telemetry

import (
	"sort"
	"strings"
	"sync"
	"time"
)

// Event is one recorded occurrence.
type Event struct {
	Name       string
	Attributes map[string]string
	At         time.Time
}

// String renders the event as `name k1=v1 k2=v2` with keys sorted, for logs.
func (e Event) String() string {
	keys := make([]string, 0, len(e.Attributes))
	for k := range e.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(e.Name)
	for _, k := range keys {
		b.WriteString(" ")
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(e.Attributes[k])
	}
	return b.String()
}

// Recorder collects events; safe for concurrent use.
type Recorder struct {
	service string
	mu      sync.Mutex
	events  []Event
	now     func() time.Time
}

// NewRecorder returns a Recorder that tags every event with service=<service>.
func NewRecorder(service string) *Recorder {
	return &Recorder{service: service, now: time.Now}
}

// Record stores an event; attributes are copied so later changes by the caller do not leak in.
func (r *Recorder) Record(name string, attrs map[string]string) {
	copied := make(map[string]string, len(attrs)+1)
	for k, v := range attrs {
		copied[k] = v
	}
	copied["service"] = r.service
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, Event{Name: name, Attributes: copied, At: r.now().UTC()})
}

// Events returns a snapshot of the recorded events in order.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Event, len(r.events))
	copy(out, r.events)
	return out
}

package ameidesdk

import "testing"

func TestOrganizationURLAndTelemetry(t *testing.T) {
	c, err := NewClient("https://api.example.test/base/")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.OrganizationURL("acme corp")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://api.example.test/base/v1/organizations/acme%20corp"; got != want {
		t.Fatalf("url = %q, want %q", got, want)
	}
	events := c.Telemetry.Events()
	if len(events) != 1 || events[0].String() != "organization_url org=acme corp service=ameide-sdk-go" {
		t.Fatalf("telemetry events = %v", events)
	}
}

func TestNewClientRejectsRelativeURL(t *testing.T) {
	if _, err := NewClient("/relative"); err == nil {
		t.Fatal("want an error for a relative base URL")
	}
}

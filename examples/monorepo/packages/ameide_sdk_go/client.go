// Package ameidesdk is the Ameide platform SDK for Go.
//
// A Client builds request paths for the platform API and reports every call to the
// telemetry recorder from the sibling ameide-telemetry-go module.
package ameidesdk

import (
	"errors"
	"net/url"
	"strings"

	telemetry "go.packages.dev.ameide.io/ameide-telemetry-go"
)

// Version is the SDK's API version path segment.
const Version = "v1"

// Client talks to one Ameide platform endpoint.
type Client struct {
	base      *url.URL
	Telemetry *telemetry.Recorder
}

// NewClient validates baseURL (absolute http or https) and returns a Client.
func NewClient(baseURL string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("ameidesdk: base URL must be absolute http(s): " + baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &Client{base: u, Telemetry: telemetry.NewRecorder("ameide-sdk-go")}, nil
}

// OrganizationURL returns the API URL of one organization and records the call.
func (c *Client) OrganizationURL(org string) (string, error) {
	if org == "" || strings.Contains(org, "/") {
		return "", errors.New("ameidesdk: organization must be a non-empty name without '/'")
	}
	// url.URL escapes Path when rendered, so the raw name goes in unescaped.
	u := c.base.JoinPath(Version, "organizations", org)
	c.Telemetry.Record("organization_url", map[string]string{"org": org})
	return u.String(), nil
}

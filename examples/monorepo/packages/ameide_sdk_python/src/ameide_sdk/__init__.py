"""Ameide platform SDK for Python: builds API URLs and reports each call to telemetry."""

from __future__ import annotations

from typing import Optional
from urllib.parse import quote, urlsplit

from ameide_telemetry import Recorder

__all__ = ["API_VERSION", "Client"]

API_VERSION = "v1"


class Client:
    """A client for one Ameide platform endpoint."""

    def __init__(self, base_url: str, telemetry: Optional[Recorder] = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base URL must be absolute http(s): {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.telemetry = telemetry or Recorder("ameide-sdk-python")

    def organization_url(self, org: str) -> str:
        """The API URL of one organization; records an `organization_url` event."""
        if not org or "/" in org:
            raise ValueError("organization must be a non-empty name without '/'")
        self.telemetry.record("organization_url", {"org": org})
        return f"{self.base_url}/{API_VERSION}/organizations/{quote(org)}"

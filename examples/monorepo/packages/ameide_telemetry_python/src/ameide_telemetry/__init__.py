"""Telemetry events for the Ameide SDKs: a recorder that keeps named events in memory."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, List, Mapping, Optional

__all__ = ["Event", "Recorder"]


@dataclass(frozen=True)
class Event:
    """One recorded occurrence."""

    name: str
    attributes: Dict[str, str] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def render(self) -> str:
        """`name k1=v1 k2=v2` with keys sorted, for logs."""
        parts = [self.name] + [f"{k}={self.attributes[k]}" for k in sorted(self.attributes)]
        return " ".join(parts)


class Recorder:
    """Collects events tagged with the service name; safe to share between threads."""

    def __init__(self, service: str) -> None:
        if not service:
            raise ValueError("service must not be empty")
        self.service = service
        self._lock = threading.Lock()
        self._events: List[Event] = []

    def record(self, name: str, attributes: Optional[Mapping[str, str]] = None) -> Event:
        attrs = dict(attributes or {})
        attrs["service"] = self.service
        event = Event(name=name, attributes=attrs)
        with self._lock:
            self._events.append(event)
        return event

    def events(self) -> List[Event]:
        """A snapshot copy of the recorded events, in order."""
        with self._lock:
            return list(self._events)

/**
 * Telemetry events for the Ameide SDKs: a recorder that keeps named events in memory so
 * callers (and tests) can inspect what an SDK call reported.
 */

export interface TelemetryEvent {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly at: Date;
}

/** `name k1=v1 k2=v2` with keys sorted, for logs. */
export function renderEvent(event: TelemetryEvent): string {
  const keys = Object.keys(event.attributes).sort();
  return [event.name, ...keys.map((k) => `${k}=${event.attributes[k]}`)].join(" ");
}

export class Recorder {
  readonly service: string;
  #events: TelemetryEvent[] = [];

  constructor(service: string) {
    if (!service) throw new Error("service must not be empty");
    this.service = service;
  }

  /** Stores an event; attributes are copied and tagged with `service`. */
  record(name: string, attributes: Record<string, string> = {}): TelemetryEvent {
    const event: TelemetryEvent = {
      name,
      attributes: Object.freeze({ ...attributes, service: this.service }),
      at: new Date(),
    };
    this.#events.push(event);
    return event;
  }

  /** A snapshot of the recorded events, in order. */
  events(): TelemetryEvent[] {
    return [...this.#events];
  }
}

export function createRecorder(service: string): Recorder {
  return new Recorder(service);
}

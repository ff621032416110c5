/** Where MQTT messages come from: a client of an external broker, or the embedded broker itself. */
export interface MessageSource {
  /** Starts delivering; resolves once subscribed (or once the first attempt failed, for a client). */
  start(handlers: SourceHandlers): Promise<void>;
  stop(): Promise<void>;
  readonly connected: boolean;
  /** "5", "3.1.1" or "embedded": what the gateway speaks with its broker now. */
  readonly protocol: string;
}

export interface SourceHandlers {
  message(topic: string, payload: Uint8Array): void;
  connected(): void;
  disconnected(reason: string): void;
}

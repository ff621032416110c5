import type { QualifiedName } from "node-opcua";
import { BinaryStream, decodeString, encodeString, lowerFirstLetter, Variant } from "../shared/node-opcua.js";

/**
 * An event's fields keyed as node-opcua keys them on its EventData: the browse path from the
 * event type, each name with its first letter lower-cased, joined with dots ("ackedState.id").
 */
export type EventFields = Map<string, Variant>;

/** The key of the field a select clause's browse path names (Part 4 7.4.4.5: relative to the event type). */
export function fieldKey(browsePath: readonly QualifiedName[]): string {
  return browsePath.map((q) => lowerFirstLetter(q.toString())).join(".");
}

/** The fields of an event as node-opcua raised it (its EventData's Variant properties). */
export function fieldsOf(eventData: object): EventFields {
  const fields: EventFields = new Map();
  for (const [key, value] of Object.entries(eventData)) if (value instanceof Variant) fields.set(key, value);
  return fields;
}

/** Packed in OPC UA binary (Part 6 5.2): a count, then per field its key (String) and value (Variant). */
export function packFields(fields: EventFields): Uint8Array {
  // node-opcua's BinaryStream does not grow: sized first (a String is its length and its UTF-8 bytes).
  let size = 4;
  for (const [key, value] of fields) size += 4 + Buffer.byteLength(key) + value.binaryStoreSize();
  const stream = new BinaryStream(size);
  stream.writeUInt32(fields.size);
  for (const [key, value] of fields) {
    encodeString(key, stream);
    value.encode(stream);
  }
  return stream.buffer;
}

export function unpackFields(packed: Uint8Array): EventFields {
  const stream = new BinaryStream(Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength));
  const fields: EventFields = new Map();
  const count = stream.readUInt32();
  for (let i = 0; i < count; i++) {
    const key = decodeString(stream) ?? "";
    const value = new Variant();
    value.decode(stream);
    fields.set(key, value);
  }
  return fields;
}

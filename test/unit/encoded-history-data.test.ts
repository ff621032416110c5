import { BinaryStream, DataType, DataValue, getStatusCodeFromCode, HistoryData, Variant } from "node-opcua";
import { describe, expect, it } from "vitest";
import {
  type EncodableValue,
  EncodedHistoryData,
  encodeHistoryData,
} from "../../src/opcua/patches/encoded-history-data.js";

/** node-opcua's own encoding of the same values, built as DataValue objects. */
function reference(values: EncodableValue[], dataType: DataType): Buffer {
  const dataValues = values.map((v) => {
    const dv = new DataValue({
      sourceTimestamp: new Date(v.sourceTime),
      serverTimestamp: new Date(v.serverTime),
      statusCode: getStatusCodeFromCode(v.status),
    });
    if (v.value !== null) dv.value = new Variant({ dataType, value: v.value });
    return dv;
  });
  const data = new HistoryData({ dataValues });
  const stream = new BinaryStream(data.binaryStoreSize());
  data.encode(stream);
  return stream.buffer;
}

function ours(values: EncodableValue[], dataType: DataType): Buffer {
  const data = new EncodedHistoryData(encodeHistoryData(values, dataType));
  const stream = new BinaryStream(data.binaryStoreSize());
  data.encode(stream);
  return stream.buffer;
}

const T = Date.UTC(2026, 10, 29, 12, 34, 56, 789);
const at = (i: number, value: EncodableValue["value"], status = 0): EncodableValue => ({
  value,
  sourceTime: T + i * 1000,
  serverTime: T + i * 1000 + 3,
  status,
});

describe("a HistoryData encoded from stored values (Part 6 5.2.2.17) is byte for byte node-opcua's", () => {
  it.each([
    [DataType.Double, [at(0, 230.41), at(1, null, 0x80b00000), at(2, -1.5e300, 0x40a40401)]],
    [DataType.Float, [at(0, 1.25)]],
    [DataType.Boolean, [at(0, true), at(1, false, 0x00000400)]],
    [DataType.Int32, [at(0, -7), at(1, 2147483647)]],
    [DataType.UInt32, [at(0, 4294967295)]],
    [DataType.Int16, [at(0, -32768)]],
    [DataType.UInt16, [at(0, 65535)]],
    [DataType.Byte, [at(0, 255)]],
    [DataType.SByte, [at(0, -128)]],
    [DataType.String, [at(0, "SN-0042 ü"), at(1, "")]],
    [DataType.DateTime, [at(0, new Date(T - 86_400_000))]],
  ] as const)("%s", (dataType, values) => {
    expect(ours([...values], dataType).toString("hex")).toBe(
      reference([...values], dataType).toString("hex"),
    );
  });

  it("writes a time in the year 9999 exactly (Part 6 5.2.2.5: 100 ns units beyond 2^53)", () => {
    const values = [at(0, 1), { ...at(1, 2), sourceTime: Date.UTC(9999, 0, 1) }];
    expect(ours(values, DataType.Double).toString("hex")).toBe(
      reference(values, DataType.Double).toString("hex"),
    );
  });
});

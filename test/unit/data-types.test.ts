import { DataType } from "node-opcua";
import { describe, expect, it } from "vitest";
import { DATA_TYPES } from "../../src/model/catalog-types.js";
import { ARGUMENT_TYPES } from "../../src/model/command-catalog-types.js";
import { OPCUA_DATA_TYPE } from "../../src/opcua/data-types.js";

describe("the type → DataType table (Part 6, 5.1.2)", () => {
  it("gives each point type and each command argument type the built-in DataType of its name, Json as String", () => {
    for (const name of [...DATA_TYPES, ...ARGUMENT_TYPES])
      expect([name, DataType[OPCUA_DATA_TYPE[name]]]).toEqual([name, name === "Json" ? "String" : name]);
  });
});

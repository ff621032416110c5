import { describe, expect, it } from "vitest";
import {
  checkNodeOpcuaVersion,
  installedNodeOpcuaVersion,
  NODE_OPCUA_VERSION,
} from "../../src/opcua/patches/index.js";

describe("the node-opcua patches", () => {
  it("were written for the node-opcua release that npm ci installs", () => {
    expect(installedNodeOpcuaVersion()).toBe(NODE_OPCUA_VERSION);
    expect(() => checkNodeOpcuaVersion()).not.toThrow();
  });

  it("refuse to start on another node-opcua release, naming both and what to do", () => {
    expect(() => checkNodeOpcuaVersion("2.183.0")).toThrow(
      /node-opcua 2\.183\.0 is installed.*src\/opcua\/patches.*written and tested for 2\.182\.2/,
    );
  });
});

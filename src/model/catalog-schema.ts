import { DATA_TYPES } from "./catalog-types.js";

const pascal = "^[A-Z][A-Za-z0-9]*$";
const range = { type: "array", items: { type: "number" }, minItems: 2, maxItems: 2 } as const;

/** JSON Schema of `config/catalog.yaml`; the loader adds the checks a schema cannot express. */
export const catalogSchema = {
  type: "object",
  additionalProperties: false,
  required: ["version", "families", "units", "points"],
  properties: {
    version: { const: 1 },
    defaults: {
      type: "object",
      additionalProperties: false,
      properties: {
        access: { enum: ["read", "readWrite"] },
        alarm: { type: "boolean" },
      },
    },
    families: {
      type: "object",
      propertyNames: { pattern: "^[0-9]+$" },
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        required: ["name", "label"],
        properties: { name: { type: "string", pattern: pascal }, label: { type: "string", minLength: 1 } },
      },
    },
    units: {
      type: "object",
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        required: ["unece", "displayName", "description"],
        properties: {
          unece: { type: ["string", "null"], pattern: "^[A-Z0-9]{2,3}$" },
          displayName: { type: "string" },
          description: { type: "string", minLength: 1 },
        },
      },
    },
    points: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["id", "label", "browseName", "folder", "dataType", "unit"],
        properties: {
          id: { type: "string", pattern: "^[0-9]+/[0-9]+$" },
          label: { type: "string", minLength: 1 },
          browseName: { type: "string", pattern: pascal },
          folder: { type: "string", pattern: "^[A-Z][A-Za-z0-9]*(/[A-Z][A-Za-z0-9]*)*$" },
          dataType: { enum: DATA_TYPES },
          unit: { type: "string", minLength: 1 },
          range,
          access: { enum: ["read", "readWrite"] },
          writeRole: { enum: ["Operator", "Engineer"] },
          alarm: { type: "boolean" },
          acknowledgeToDevice: { type: "boolean" },
          severity: { type: "integer", minimum: 1, maximum: 1000 },
          note: { type: "string" },
        },
      },
    },
    rules: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: [
          "name",
          "family",
          "firstId",
          "label",
          "assumption",
          "quantities",
          "phases",
          "orders",
          "parts",
          "folder",
          "browseName",
        ],
        properties: {
          name: { type: "string", minLength: 1 },
          family: { type: "string", pattern: "^[0-9]+$" },
          firstId: { type: "integer", minimum: 0 },
          label: { type: "string", minLength: 1 },
          assumption: { type: "string", minLength: 1 },
          quantities: {
            type: "array",
            minItems: 1,
            items: {
              type: "object",
              additionalProperties: false,
              required: ["name", "label"],
              properties: { name: { type: "string", pattern: pascal }, label: { type: "string" } },
            },
          },
          phases: { type: "array", minItems: 1, items: { type: "string", pattern: pascal } },
          orders: {
            type: "object",
            additionalProperties: false,
            required: ["from", "to"],
            properties: { from: { type: "integer", minimum: 0 }, to: { type: "integer", minimum: 0 } },
          },
          parts: {
            type: "array",
            minItems: 1,
            items: {
              type: "object",
              additionalProperties: false,
              required: ["name", "dataType", "unit"],
              properties: {
                name: { type: "string", pattern: pascal },
                dataType: { enum: DATA_TYPES },
                unit: { type: "string", minLength: 1 },
                range,
              },
            },
          },
          folder: { type: "string", minLength: 1 },
          browseName: { type: "string", minLength: 1 },
        },
      },
    },
  },
} as const;

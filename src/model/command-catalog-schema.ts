import { ROLES } from "../security/role-names.js";
import { ARGUMENT_TYPES } from "./command-catalog-types.js";

const reply = {
  type: "object",
  additionalProperties: false,
  required: ["wait", "timeoutMs"],
  properties: { wait: { type: "boolean" }, timeoutMs: { type: "integer", minimum: 100, maximum: 300000 } },
} as const;
const qos = { enum: [0, 1, 2] } as const;
const role = { enum: ROLES } as const;
const publication = {
  type: "object",
  additionalProperties: false,
  required: ["topic", "qos", "retain", "reply"],
  properties: { topic: { type: "string", minLength: 1 }, qos, retain: { type: "boolean" }, reply },
} as const;

/** The command catalog file (config/commands.yaml), as Ajv checks it before the cross-checks. */
export const commandCatalogSchema = {
  type: "object",
  additionalProperties: false,
  required: ["version", "defaults", "writes", "acknowledgements", "commands"],
  properties: {
    version: { const: 1 },
    writes: publication,
    acknowledgements: publication,
    defaults: {
      type: "object",
      additionalProperties: false,
      required: ["topic", "qos", "retain", "reply", "role"],
      properties: { topic: { type: "string", minLength: 1 }, qos, retain: { type: "boolean" }, reply, role },
    },
    commands: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "description", "on", "family", "id", "inputs"],
        properties: {
          name: { type: "string", pattern: "^[A-Z][A-Za-z0-9]*$" },
          description: { type: "string", minLength: 1 },
          on: { type: "string", pattern: "^$|^[A-Z][A-Za-z0-9]*(/[A-Z][A-Za-z0-9]*)*$" },
          family: { type: "string", pattern: "^[0-9]+$" },
          id: { type: "string", pattern: "^[0-9]+$" },
          topic: { type: "string", minLength: 1 },
          payload: { type: "object" },
          inputs: {
            type: "array",
            items: {
              type: "object",
              additionalProperties: false,
              required: ["name", "dataType", "description"],
              properties: {
                name: { type: "string", pattern: "^[A-Z][A-Za-z0-9]*$" },
                dataType: { enum: ARGUMENT_TYPES },
                description: { type: "string" },
                range: { type: "array", items: { type: "number" }, minItems: 2, maxItems: 2 },
                enum: {
                  type: "array",
                  minItems: 1,
                  items: { anyOf: [{ type: "string" }, { type: "number" }] },
                },
              },
            },
          },
          qos,
          retain: { type: "boolean" },
          reply,
          role,
        },
      },
    },
  },
} as const;

import type {
  ArgumentOptions,
  DataValue,
  INamespace,
  ISessionContext,
  RolePermissionTypeOptions,
  StatusCode,
  UAMethod,
  UAObject,
  UAVariable,
  VariantOptions,
} from "node-opcua";
import type { CommandDef, CommandInput } from "../model/command-catalog-types.js";
import { type DeviceId, deviceKeyOf } from "../model/device-identity.js";
import { ROLES } from "../security/role-names.js";
import { roleNamesOf } from "../security/roles.js";
import {
  Argument,
  AttributeIds,
  coerceLocalizedText,
  DataType,
  MessageSecurityMode,
  makeRoles,
  PermissionType,
  QualifiedName,
  resolveNodeId,
  Variant,
  VariantArrayType,
  WellKnownRoles,
} from "../shared/node-opcua.js";
import { OPCUA_DATA_TYPE } from "./data-types.js";
import { deviceNodeKey } from "./device-nodes.js";
import { stringNodeId } from "./node-ids.js";
import { COMMAND_ID_ARGUMENT } from "./patches/optional-command-id.js";
import { type FixedShape, type MethodShape, VariableFactory } from "./patches/variable-factory.js";
import { routeWrites } from "./patches/write-hook.js";
import type { Caller, CommandOutcome, CommandPort } from "./ports.js";

/**
 * Optional, last on every command method (patches/optional-command-id): the id a client gives so
 * that its retry through the other member of a redundant pair carries the same commandId.
 */
const COMMAND_ID_INPUT = {
  name: COMMAND_ID_ARGUMENT,
  dataType: DataType.String,
  valueRank: -1,
  description: {
    text: "Optional: the commandId to publish (1-64 printable ASCII characters, no space); a retry with the same id, through this or another member, lets the device drop it. Empty or left out: the gateway makes a UUID",
  },
};

const OUTPUTS = [
  {
    name: "CommandId",
    dataType: DataType.String,
    description: { text: "The command's unique id, as published" },
  },
  {
    name: "DeviceStatus",
    dataType: DataType.String,
    description: { text: "The device's answer status (empty when the command waits for none)" },
  },
  {
    name: "Reply",
    dataType: DataType.String,
    description: { text: "The device's answer as text, or why arguments were refused" },
  },
];

/**
 * Makes the command catalog callable from OPC UA: methods on the node of a device or of one of its
 * folders, and Writes of readWrite points. Every role may call or write at the node level, so that
 * the dispatcher is the one place that decides, by the command's role, and audits every attempt.
 */
export class CommandNodes {
  private readonly byFolder = new Map<string, CommandDef[]>();
  private readonly writes = new Map<string, CommandDef>();
  private readonly factory: VariableFactory;
  private readonly shapes = new Map<CommandDef, MethodShape>();
  /** Shared by every method: who may call it, its output arguments, its CommandId's description. */
  private readonly callable: RolePermissionTypeOptions[];
  private readonly outputs = argumentList(OUTPUTS.map((o) => ({ ...o, valueRank: -1 })));
  private readonly commandIdShape: FixedShape;

  constructor(
    private readonly ns: INamespace,
    commands: readonly CommandDef[],
    private readonly dispatcher: CommandPort,
    private readonly anonymousIsObserver: boolean,
  ) {
    this.factory = new VariableFactory(ns);
    this.callable = this.everyRole(PermissionType.Browse | PermissionType.Read | PermissionType.Call);
    const addressSpace = ns.addressSpace;
    this.commandIdShape = {
      browseName: new QualifiedName({ name: COMMAND_ID_ARGUMENT, namespaceIndex: ns.index }),
      description: coerceLocalizedText(COMMAND_ID_INPUT.description.text)!,
      dataType: resolveNodeId(DataType.String),
      valueRank: -1,
      arrayDimensions: null,
      minimumSamplingInterval: 0,
      references: [
        this.factory.reference("HasTypeDefinition", addressSpace.findVariableType("BaseDataVariableType")!),
      ],
      rolePermissions: this.everyRole(PermissionType.Browse | PermissionType.Read),
      value: new Variant({ dataType: DataType.String, value: "" }),
    };
    for (const c of commands) {
      if (c.writeOf) {
        this.writes.set(c.writeOf, c);
        continue;
      }
      // Reached through the condition's Acknowledge and Confirm, not as methods of their own.
      if (c.acknowledgeOf) continue;
      const key = c.on.join("/");
      this.byFolder.set(key, [...(this.byFolder.get(key) ?? []), c]);
    }
  }

  /** Called for each device object (folder []) and each catalog folder created below a device. */
  add(node: UAObject, nodePath: string, folder: readonly string[], device: DeviceId): void {
    for (const command of this.byFolder.get(folder.join("/")) ?? []) {
      const methodId = stringNodeId(this.ns, `${nodePath}/${command.name}`);
      const method = this.factory.createMethod(methodId, this.shapeOf(command), node);
      this.describeOptionalCommandId(method);
      method.bindMethod(async (inputArguments: Variant[], context: ISessionContext) => {
        const args = inputArguments.slice(0, command.inputs.length).map((v) => v.value);
        const commandId = String(inputArguments[command.inputs.length]?.value ?? "");
        const caller = this.callerOf(context);
        const outcome = await this.dispatcher.call(command, device, args, caller, commandId);
        this.raiseAudit("AuditUpdateMethodEventType", caller, command.name, device, outcome, {
          methodId: { dataType: DataType.NodeId, value: method.nodeId },
          inputArguments: {
            dataType: DataType.Variant,
            arrayType: VariantArrayType.Array,
            value: inputArguments,
          },
        });
        return {
          statusCode: outcome.status,
          ...(outcome.inputArgumentResults ? { inputArgumentResults: outcome.inputArgumentResults } : {}),
          outputArguments: [outcome.commandId, outcome.deviceStatus, outcome.reply].map(
            (value) => new Variant({ dataType: DataType.String, value }),
          ),
        };
      });
    }
  }

  /** What every device's method of `command` shares, made on first use. */
  private shapeOf(command: CommandDef): MethodShape {
    let shape = this.shapes.get(command);
    if (!shape) {
      const inputs = [
        ...command.inputs.map((a) => ({
          name: a.name,
          dataType: OPCUA_DATA_TYPE[a.dataType],
          valueRank: -1,
          description: { text: describeInput(a) },
        })),
        COMMAND_ID_INPUT,
      ];
      shape = {
        browseName: new QualifiedName({ name: command.name, namespaceIndex: this.ns.index }),
        description: coerceLocalizedText(`${command.description} Needs role ${command.role}.`)!,
        rolePermissions: this.callable,
        inputArguments: argumentList(inputs),
        outputArguments: this.outputs,
      };
      this.shapes.set(command, shape);
    }
    return shape;
  }

  /**
   * Tells a client from the address space that `CommandId` may be left out (Part 3 5.7.1 and 5.7.3):
   * a Variable named like the argument, of its DataType, whose value is what a call that leaves it out
   * gets (empty: the gateway makes a UUID), referenced with HasOptionalInputArgumentDescription.
   */
  private describeOptionalCommandId(method: UAMethod): void {
    const nodeId = stringNodeId(this.ns, `${method.nodeId.value}/${COMMAND_ID_ARGUMENT}`);
    this.factory.createFixed(nodeId, this.commandIdShape, method, "HasOptionalInputArgumentDescription");
  }

  /** A readWrite point's variable: an OPC UA Write becomes the point's write command. */
  bindWrite(variable: UAVariable, topicId: string, device: DeviceId): void {
    const command = this.writes.get(topicId);
    if (!command) return;
    variable.setRolePermissions(
      this.everyRole(
        PermissionType.Browse | PermissionType.Read | PermissionType.ReceiveEvents | PermissionType.Write,
      ),
    );
    const write = async (context: ISessionContext, dataValue: DataValue): Promise<StatusCode> => {
      const caller = this.callerOf(context);
      const outcome = await this.dispatcher.call(command, device, [dataValue.value.value], caller);
      this.raiseAudit("AuditWriteUpdateEventType", caller, command.name, device, outcome, {
        attributeId: { dataType: DataType.UInt32, value: AttributeIds.Value },
        newValue: { dataType: DataType.Variant, value: dataValue.value },
      });
      return outcome.status;
    };
    routeWrites(variable, write);
  }

  /**
   * OPC UA audit event (Part 5, 6.4.3) on the Server object, beside the audit log line. Its
   * SourceNode is the device, so that the device's event history holds its commands; the message
   * names device, outcome and the commandId the device received.
   */
  private raiseAudit(
    eventType: "AuditUpdateMethodEventType" | "AuditWriteUpdateEventType",
    caller: Caller,
    what: string,
    device: DeviceId,
    outcome: CommandOutcome,
    fields: Record<string, VariantOptions>,
  ): void {
    const { status, commandId } = outcome;
    this.ns.addressSpace.rootFolder.objects.server.raiseEvent(eventType, {
      actionTimeStamp: { dataType: DataType.DateTime, value: new Date() },
      status: { dataType: DataType.Boolean, value: status.isGood() },
      serverId: { dataType: DataType.String, value: "" },
      clientAuditEntryId: { dataType: DataType.String, value: caller.session },
      clientUserId: { dataType: DataType.String, value: caller.user },
      sourceNode: { dataType: DataType.NodeId, value: stringNodeId(this.ns, deviceNodeKey(device)) },
      sourceName: { dataType: DataType.String, value: "SmartGear/Commands" },
      message: {
        dataType: DataType.LocalizedText,
        value: { text: `${what} on ${deviceKeyOf(device)}: ${status.name} (commandId ${commandId})` },
      },
      severity: { dataType: DataType.UInt16, value: status.isGood() ? 100 : 500 },
      ...fields,
    });
  }

  private everyRole(permissions: number) {
    return [
      ...(this.anonymousIsObserver ? [WellKnownRoles.Anonymous] : []),
      WellKnownRoles.AuthenticatedUser,
      ...ROLES.map((r) => WellKnownRoles[r]),
    ].map((role) => ({ roleId: makeRoles([role])[0]!, permissions }));
  }

  private callerOf(context: ISessionContext): Caller {
    return {
      user: context.getUserName(),
      session: context.session?.getSessionId().toString() ?? "",
      roles: roleNamesOf(context.getCurrentUserRoles(), this.anonymousIsObserver),
      secure:
        (context.session?.channel?.securityMode ?? MessageSecurityMode.None) !== MessageSecurityMode.None,
    };
  }
}

/** An argument list property's value (Part 3 8.6), as addMethod makes it. */
function argumentList(args: ArgumentOptions[]): Variant {
  return new Variant({
    dataType: DataType.ExtensionObject,
    arrayType: VariantArrayType.Array,
    value: args.map((a) => new Argument(a)),
  });
}

function describeInput(a: CommandInput): string {
  const limits = [
    a.range ? `range ${a.range.low}..${a.range.high}` : "",
    a.enum ? `one of ${a.enum.join(", ")}` : "",
    a.dataType === "Json" ? "a JSON object as text" : "",
  ].filter(Boolean);
  return limits.length > 0 ? `${a.description} (${limits.join("; ")})` : a.description;
}

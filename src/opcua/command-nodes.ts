import {
  DataType,
  type INamespace,
  type ISessionContext,
  MessageSecurityMode,
  makeRoles,
  PermissionType,
  type UAObject,
  Variant,
  WellKnownRoles,
} from "node-opcua";
import type { DeviceAddress } from "../mapping/command-encoding.js";
import type { ArgumentType, CommandDef, CommandInput } from "../model/command-catalog.js";
import type { OpcuaToMqtt } from "../opcua-to-mqtt.js";
import { ROLES } from "../security/role-names.js";
import { roleNamesOf } from "../security/roles.js";

const ARGUMENT_DATA_TYPE: Record<ArgumentType, DataType> = {
  Boolean: DataType.Boolean,
  UInt16: DataType.UInt16,
  UInt32: DataType.UInt32,
  Int32: DataType.Int32,
  Double: DataType.Double,
  String: DataType.String,
  Json: DataType.String,
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
 * Adds the catalog's commands as OPC UA methods to the node of a device or of one of its folders.
 * Every role may call them at the node level (the method grants Call), so that the dispatcher is
 * the one place that decides, by the command's role, and audits every attempt.
 */
export class CommandMethods {
  private readonly byFolder = new Map<string, CommandDef[]>();

  constructor(
    private readonly ns: INamespace,
    commands: readonly CommandDef[],
    private readonly dispatcher: OpcuaToMqtt,
    private readonly anonymousIsObserver: boolean,
  ) {
    for (const c of commands) {
      const key = c.on.join("/");
      this.byFolder.set(key, [...(this.byFolder.get(key) ?? []), c]);
    }
  }

  /** Called for each device object (folder []) and each catalog folder created below a device. */
  add(node: UAObject, nodePath: string, folder: readonly string[], device: DeviceAddress): void {
    for (const command of this.byFolder.get(folder.join("/")) ?? []) {
      const method = this.ns.addMethod(node, {
        nodeId: `s=${nodePath}/${command.name}`,
        browseName: command.name,
        description: `${command.description} Needs role ${command.role}.`,
        inputArguments: command.inputs.map((a) => ({
          name: a.name,
          dataType: ARGUMENT_DATA_TYPE[a.dataType],
          valueRank: -1,
          description: { text: describeInput(a) },
        })),
        outputArguments: OUTPUTS.map((o) => ({ ...o, valueRank: -1 })),
        rolePermissions: [
          ...(this.anonymousIsObserver ? [WellKnownRoles.Anonymous] : []),
          WellKnownRoles.AuthenticatedUser,
          ...ROLES.map((r) => WellKnownRoles[r]),
        ].map((role) => ({
          roleId: makeRoles([role])[0]!,
          permissions: PermissionType.Browse | PermissionType.Read | PermissionType.Call,
        })),
      });
      method.bindMethod(async (inputArguments: Variant[], context: ISessionContext) => {
        const outcome = await this.dispatcher.call(
          command,
          device,
          inputArguments.map((v) => v.value),
          {
            user: context.getUserName(),
            session: context.session?.getSessionId().toString() ?? "",
            roles: roleNamesOf(context.getCurrentUserRoles(), this.anonymousIsObserver),
            secure:
              (context.session?.channel?.securityMode ?? MessageSecurityMode.None) !==
              MessageSecurityMode.None,
          },
        );
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
}

function describeInput(a: CommandInput): string {
  const limits = [
    a.range ? `range ${a.range.low}..${a.range.high}` : "",
    a.enum ? `one of ${a.enum.join(", ")}` : "",
    a.dataType === "Json" ? "a JSON object as text" : "",
  ].filter(Boolean);
  return limits.length > 0 ? `${a.description} (${limits.join("; ")})` : a.description;
}

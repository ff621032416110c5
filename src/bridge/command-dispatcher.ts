import { randomBytes, randomUUID } from "node:crypto";
import type { StatusCode } from "node-opcua";
import {
  buildPayload,
  checkArguments,
  deviceOfReplyTopic,
  deviceReplyTopic,
  parseReply,
  renderTopic,
} from "../mapping/command-encoding.js";
import { CommandCounters, type CommandOutcomeKind } from "../mapping/counters.js";
import type { CommandDef } from "../model/command-catalog-types.js";
import { type DeviceId, deviceKeyOf } from "../model/device-identity.js";
import { type BrokerLink, NotConnectedError } from "../mqtt/broker-link.js";
import type { Caller, CommandOutcome, CommandPort } from "../opcua/ports.js";
import { satisfies } from "../security/role-names.js";
import type { Logger } from "../shared/logger.js";
import { StatusCodes } from "../shared/node-opcua.js";
import { RateLimitedLog } from "../shared/rate-limited-log.js";

/** true when `work` settles within `ms`, false when the time runs out first. */
async function withinMs(work: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function outcomeKind(status: StatusCode): CommandOutcomeKind {
  if (status === StatusCodes.Good) return "succeeded";
  if (status === StatusCodes.BadNoCommunication) return "noCommunication";
  if (status === StatusCodes.BadTimeout) return "timedOut";
  return "rejected";
}

/**
 * A client's commandId (README, Commands): it goes into the payload and the audit log, and the
 * device keys its memory by it, so it is kept to what every device and log line takes.
 */
const CLIENT_COMMAND_ID = /^[\x21-\x7e]{1,64}$/;

interface Pending {
  /** `<type>/<name>/<source>` of the device the command went to: only its reply topic may answer. */
  device: string;
  /** null: no answer (the gateway is stopping). */
  resolve(reply: { status: string; text: string } | null): void;
}

/**
 * dispatcher: turns an OPC UA method call into one MQTT command published with the command's QoS
 * (2 by default), and tells the caller what happened: published (PUBCOMP), answered, refused,
 * or not delivered. Every call goes to the audit log, whatever its outcome.
 */
export class CommandDispatcher implements CommandPort {
  readonly counters = new CommandCounters();
  private readonly pending = new Map<string, Pending>();
  private readonly refusals: RateLimitedLog;

  constructor(
    private readonly source: BrokerLink,
    private readonly logger: Logger,
    private readonly audit: Logger,
    /** Each finished call, for metrics (a latency histogram needs every observation). */
    private readonly onCommand: (latencyMs: number, outcome: CommandOutcomeKind) => void = () => {},
  ) {
    this.refusals = new RateLimitedLog(logger);
  }

  async call(
    command: CommandDef,
    device: DeviceId,
    args: readonly unknown[],
    caller: Caller,
    requestedId = "",
  ): Promise<CommandOutcome> {
    const started = performance.now();
    // A refused id is not echoed: the outcome and the audit log say the call had none.
    const refusedId = requestedId !== "" && !CLIENT_COMMAND_ID.test(requestedId);
    const commandId = refusedId ? "" : requestedId || randomUUID();
    this.counters.calls++;
    const outcome = await this.execute(command, device, args, caller, commandId, refusedId).catch(
      (err: Error): CommandOutcome => {
        this.logger.error("command failed", { command: command.name, error: err.message });
        return { status: StatusCodes.BadInternalError, commandId, deviceStatus: "", reply: "" };
      },
    );
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    this.counters.lastLatencyMs = latencyMs;
    const kind = outcomeKind(outcome.status);
    this.counters[kind]++;
    this.onCommand(latencyMs, kind);
    this.audit.info("command", {
      command: command.name,
      device: deviceKeyOf(device),
      user: caller.user,
      session: caller.session,
      arguments: JSON.stringify(args).slice(0, 512),
      outcome: outcome.status.name,
      deviceStatus: outcome.deviceStatus,
      commandId,
      latencyMs,
    });
    return outcome;
  }

  private async execute(
    command: CommandDef,
    device: DeviceId,
    args: readonly unknown[],
    caller: Caller,
    commandId: string,
    refusedId: boolean,
  ): Promise<CommandOutcome> {
    const answer = (status: StatusCode, extra: Partial<CommandOutcome> = {}): CommandOutcome => ({
      status,
      commandId,
      deviceStatus: "",
      reply: "",
      ...extra,
    });
    // None is for reading at most: a command must come over a signed channel.
    if (!caller.secure) return answer(StatusCodes.BadSecurityModeInsufficient);
    if (!satisfies(caller.roles, command.role)) return answer(StatusCodes.BadUserAccessDenied);
    // One result per declared argument, the method's trailing CommandId included.
    const idResult = refusedId ? StatusCodes.BadInvalidArgument : StatusCodes.Good;
    const checked = checkArguments(command, args);
    if (!checked.ok)
      return answer(checked.status, {
        inputArgumentResults: [...checked.results, idResult],
        reply: checked.detail,
      });
    if (refusedId) {
      this.refusals.warn(
        "refusedCommandId",
        "command refused: its CommandId is not 1-64 printable characters",
        {
          command: command.name,
          device: deviceKeyOf(device),
        },
      );
      return answer(StatusCodes.BadInvalidArgument, {
        inputArgumentResults: [...args.map(() => StatusCodes.Good), idResult],
        reply: "CommandId: 1-64 printable ASCII characters without space, or empty",
      });
    }
    if (!this.source.connected) return answer(StatusCodes.BadNoCommunication);

    const topic = renderTopic(command, device);
    const replyTo = deviceReplyTopic(this.source.replyTopic, device);
    const v5 = this.source.responseTopicSupported;
    // Not the commandId, which every payload carries: under MQTT 5 a subscriber that sees only
    // payloads (a 3.1.1 client of the same broker) learns nothing it could answer with.
    const correlationId = randomBytes(16).toString("hex");
    const payload = buildPayload(command, checked.values, {
      commandId,
      ts: new Date().toISOString(),
      ...(command.reply.wait && !v5 ? { replyTo, correlationId } : {}),
    });
    // Registered before publishing: a fast device may answer before PUBCOMP arrives.
    const replied = command.reply.wait
      ? this.awaitReply(correlationId, deviceKeyOf(device), command.reply.timeoutMs)
      : null;
    let completed: boolean;
    try {
      // Bounded: a connection cut between PUBLISH and PUBCOMP leaves the handshake to MQTT.js's
      // next session, and the caller must not wait for that.
      completed = await withinMs(
        this.unacknowledged(
          this.source.publish(topic, payload, {
            qos: command.qos,
            retain: command.retain,
            ...(command.reply.wait && v5
              ? { responseTopic: replyTo, correlationData: Buffer.from(correlationId) }
              : {}),
          }),
        ),
        command.reply.timeoutMs,
      );
    } catch (err) {
      this.pending.delete(correlationId);
      if (err instanceof NotConnectedError) return answer(StatusCodes.BadNoCommunication);
      throw err;
    }
    if (!completed) {
      this.pending.delete(correlationId);
      this.logger.warn("publish handshake not completed in time; delivery unknown", {
        command: command.name,
        commandId,
      });
      return answer(StatusCodes.BadTimeout);
    }
    if (!replied) return answer(StatusCodes.Good);
    const reply = await replied;
    if (!reply) return answer(StatusCodes.BadTimeout);
    return answer(StatusCodes.Good, { deviceStatus: reply.status, reply: reply.text });
  }

  /** Counts a publish until the broker completes its handshake, or it fails, whoever waits for it. */
  private unacknowledged(published: Promise<void>): Promise<void> {
    const counters = this.counters;
    counters.unacknowledged++;
    const settled = () => {
      counters.unacknowledged--;
    };
    published.then(settled, settled);
    return published;
  }

  private awaitReply(
    correlationId: string,
    device: string,
    timeoutMs: number,
  ): Promise<{ status: string; text: string } | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        resolve(null);
      }, timeoutMs);
      this.pending.set(correlationId, {
        device,
        resolve: (reply) => {
          clearTimeout(timer);
          this.pending.delete(correlationId);
          resolve(reply);
        },
      });
    });
  }

  /**
   * A message on a reply topic: delivered to its call only when it came on the reply topic of the
   * device the command went to (which the broker's ACL keeps to that device); else counted and
   * logged, and the call goes on waiting for its device. Never guessed.
   */
  handleReply(topic: string, payload: Uint8Array, correlationData?: Uint8Array): void {
    const reply = parseReply(payload, correlationData);
    const pending = reply.correlationId ? this.pending.get(reply.correlationId) : undefined;
    if (pending) {
      const from = deviceOfReplyTopic(this.source.replyTopic, topic);
      if (from && deviceKeyOf(from) === pending.device) {
        pending.resolve({ status: reply.status, text: reply.text });
        return;
      }
      this.counters.refusedReplies++;
      this.refusals.warn("refusedReply", "reply refused: not on the reply topic of the command's device", {
        topic,
        device: pending.device,
      });
      return;
    }
    this.counters.lateReplies++;
    this.refusals.warn("lateReply", "reply matches no waiting command (late, duplicate or unknown)", {
      correlationId: reply.correlationId ?? "",
    });
  }

  /** Calls still waiting get BadTimeout now rather than after the gateway is gone. */
  stop(): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.resolve(null);
    }
  }
}

import { createRequire } from "node:module";
import { GatewayError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { RateLimitedLog } from "../../shared/rate-limited-log.js";
import { setConditionCallerFirst } from "./condition-caller.js";
import { checkHelloEndpointUrl } from "./hello-endpoint-url.js";
import { gateLimitAlarmInputs } from "./limit-alarm-input.js";
import { routeRefusalConsoleLog } from "./node-opcua-logs.js";
import { limitNotificationsPerPublish } from "./notifications-per-publish.js";
import { acceptOmittedCommandId } from "./optional-command-id.js";
import { guardPreSession } from "./pre-session-guard.js";
import { pacePublishingToInterval } from "./publish-pacing.js";
import { limitMonitoredItemQueues } from "./queue-limit.js";
import { honourSampleRateZero } from "./sample-rate.js";

/**
 * Every place where the gateway replaces a node-opcua function or reaches into its internals is in
 * this folder, each module naming the OPC UA behaviour it keeps:
 *
 * | module | what it replaces or reaches | keeps |
 * | --- | --- | --- |
 * | publish-pacing | Subscription._flushRemainingNotifications | Part 4 5.13.1.1: one NotificationMessage a publishing cycle |
 * | queue-limit | MonitoredItem._set_parameters | Part 4 5.12.1.5 and 5.13.x: queueSize revised to MaxMonitoredItemsQueueSize |
 * | sample-rate | defaultServerCapabilities.minSupportedSampleRate, MonitoredItem.modify | Part 5 6.3.2, Part 4 5.12.1.2: MinSupportedSampleRate is what a requested 0 is revised to, on create and modify |
 * | notifications-per-publish | Subscription.maxNotificationPerPublishHighLimit | Part 4 5.13.2: MaxNotificationsPerPublish 0 means no limit |
 * | variable-factory | UAVariableImpl, ReferenceImpl, Namespace._register | Part 3 5.6 / Part 5: the same attributes and references as addVariable |
 * | variable-copy | UAVariableImpl's own fields and its private state (copies of a constructed variable) | Part 3 5.6 / Part 5: each copy the same attributes as the variable it copies, its own value, listeners and references |
 * | point-writer | UAVariable.$dataValue | Part 4 7.11: source and server timestamps as the source gave them |
 * | limit-alarm-input | UALimitAlarmImplBase._onInputDataValueChange | Part 9 5.8.18: the limit state follows the input's good values, evaluated once the gateway set the condition up |
 * | write-hook | UAVariable.writeValue | Part 4 5.10.4: a write goes to the device, not into the variable |
 * | history-read-hook | UAVariable._historyRead, historizing, accessLevel; UAObject.historyRead, eventNotifier; node-opcua-types' HistoryEvent; the engine's AddressSpaceAccessor.historyReadNode (on the instance) | Part 11 6.4.2-6.4.5, Part 3 5.6.2, 5.4, Part 4 5.10.3: HistoryRead answered from the history store with the timestamps asked for, the variable marked historizing, the object a HistoricalEventNotifier |
 * | encoded-history-data | HistoryData.encode (an ExtensionObject body node-opcua writes through it) | Part 6 5.2.2.17, Part 11 6.5.2: a page's DataValues encoded from stored values, byte for byte as node-opcua would |
 * | condition-caller | UAConditionImplBase.with_condition_method | Part 9 5.5.2: an Acknowledge's, Confirm's or AddComment's event carries its caller in ClientUserId |
 * | pre-session-guard | ServerSecureChannelLayer.init | Part 4 5.5.2 / Part 6 7.1.2.5: a peer holds bounded time and bytes before ActivateSession, then gets an Error message |
 * | hello-endpoint-url | ServerTCP_transport.init, _on_HEL_message | Part 6 7.1.2.3 Table 69: a Hello's EndpointUrl up to 4,096 bytes, BadTcpEndpointUrlInvalid beyond |
 * | transport-limits | transportSettings.adjustTransportLimits (a server option that replaces node-opcua's adjustment; ours calls it, then refines) | Part 6 7.1.2.3-7.1.2.4 Tables 69, 70: the Acknowledge within what the client announced, chunks and messages bounded |
 * | certificate-san-check | OPCUAServer.checkCertificateSAN (public, on the instance) | Part 4 6.1.3: the start-up check of the certificate's host names, for those configured, not the machine's addresses |
 * | server-redundancy | the nodeset's Server/ServerRedundancy (type, RedundancySupport, ServerUriArray); ServerEngine's ServiceLevel getter | Part 5 6.3.9, Part 4 6.6.2.4.2: a Hot non-transparent set, and a ServiceLevel that says what the gateway can deliver |
 * | peer-acknowledgement | AcknowledgeableCondition._acknowledge_branch, _confirm_branch | Part 9 5.7.3, 5.7.4: an acknowledgement made on another member of the set, applied as the method would |
 * | optional-command-id | verifyArguments_ArgumentList (through node-opcua-address-space's argument_list module exports) | Part 3 5.7.3, Part 4 5.12.2.2: a command method's trailing CommandId argument may be left out |
 * | node-lookup | Namespace.findNode2 (on the devices namespace's instance, while restored devices are not all made) | Part 4 5.2-5.12: a restored device's nodes answer every service as if made at start, by being made when first named |
 * | node-opcua-logs | OPCUAServerEndPoint._prevent_DDOS_Attack (and node-opcua's public warning and error loggers) | Part 4 5.5.2: node-opcua's refusal beyond maxConnections, and every other line of node-opcua, logged through the gateway's rate-limited log |
 *
 * They were written for, and are tested against, one node-opcua release: on any other the gateway
 * refuses to start rather than run with a patch that may no longer do what its comment says.
 */
export const NODE_OPCUA_VERSION = "2.182.2";

/** The node-opcua release installed beside the gateway. */
export function installedNodeOpcuaVersion(): string {
  const require = createRequire(import.meta.url);
  return (require("node-opcua/package.json") as { version: string }).version;
}

/** Throws E_NODE_OPCUA_VERSION unless `found` is the release the patches were written for. */
export function checkNodeOpcuaVersion(found: string = installedNodeOpcuaVersion()): void {
  if (found !== NODE_OPCUA_VERSION)
    throw new GatewayError(
      "E_NODE_OPCUA_VERSION",
      `node-opcua ${found} is installed, but the gateway's patches of node-opcua (src/opcua/patches/) were written and tested for ${NODE_OPCUA_VERSION}: install ${NODE_OPCUA_VERSION} (npm ci), or review every patch against ${found} and change NODE_OPCUA_VERSION`,
    );
}

export interface PatchLimits {
  /** opcua.limits.maxMonitoredItemQueueSize */
  maxMonitoredItemQueueSize: number;
  /** opcua.limits.maxEventQueueSize */
  maxEventQueueSize: number;
  /** opcua.limits.maxNotificationsPerPublish */
  maxNotificationsPerPublish: number;
  /** opcua.limits.preSessionTimeout */
  preSessionTimeout: number;
  /** opcua.limits.maxPreSessionBytes */
  maxPreSessionBytes: number;
}

/**
 * Checks the node-opcua release, then installs the prototype patches (once per process; the
 * limits are those of the last server created). The per-variable ones (variable-factory,
 * point-writer, write-hook) are applied where their variables are made.
 */
export function installNodeOpcuaPatches(limits: PatchLimits, logger: Logger): void {
  checkNodeOpcuaVersion();
  const closures = new RateLimitedLog(logger);
  guardPreSession(limits, (reason, remote) =>
    closures.warn(`preSession:${reason}`, "closed an OPC UA connection without an activated session", {
      reason,
      remote,
      preSessionTimeout: limits.preSessionTimeout,
      maxPreSessionBytes: limits.maxPreSessionBytes,
    }),
  );
  routeRefusalConsoleLog();
  checkHelloEndpointUrl();
  pacePublishingToInterval();
  limitMonitoredItemQueues(limits.maxMonitoredItemQueueSize, limits.maxEventQueueSize);
  limitNotificationsPerPublish(limits.maxNotificationsPerPublish);
  honourSampleRateZero();
  setConditionCallerFirst();
  gateLimitAlarmInputs();
  acceptOmittedCommandId();
}

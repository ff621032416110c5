import {
  AttributeIds,
  type ClientSession,
  type ClientSessionPublishService,
  type ClientSessionRawSubscriptionService,
  CreateMonitoredItemsRequest,
  type DataValue,
  type EventFilter,
  EventNotificationList,
  type ModifyMonitoredItemsResponse,
  type MonitoredItemCreateResult,
  type MonitoredItemModifyResult,
  MonitoringMode,
  PublishRequest,
  type PublishResponse,
  DataChangeNotification as RawDataChange,
  TimestampsToReturn,
  type Variant,
} from "node-opcua";

/** What node-opcua's session implements beside the ClientSession type: the services themselves. */
type RawSession = ClientSessionRawSubscriptionService & ClientSessionPublishService;

/**
 * A subscription driven by hand through the session's raw services (CreateSubscription,
 * CreateMonitoredItems, Publish), so that a test sees the server's answers as they came off the
 * wire: node-opcua's ClientSubscription revises, retries and re-dispatches, which would hide what
 * another client stack gets. Nothing is published until the test sends a Publish request, so the
 * values the server queued meanwhile arrive together, in the order it queued them.
 */
export class RawSubscription {
  /** Values per clientHandle, in the order the Publish responses carried them. */
  readonly values = new Map<number, DataValue[]>();
  /** Event fields per clientHandle. */
  readonly events = new Map<number, Variant[][]>();
  private nextHandle = 1;
  private acknowledgements: { subscriptionId: number; sequenceNumber: number }[] = [];

  private constructor(
    private readonly session: RawSession,
    readonly subscriptionId: number,
    /** The revised publishing interval. */
    readonly publishingInterval: number,
  ) {}

  static async create(
    clientSession: ClientSession,
    requestedPublishingInterval: number,
  ): Promise<RawSubscription> {
    const session = clientSession as ClientSession & RawSession;
    const response = await session.createSubscription({
      requestedPublishingInterval,
      requestedLifetimeCount: 600,
      requestedMaxKeepAliveCount: 5,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 0,
    });
    return new RawSubscription(session, response.subscriptionId, response.revisedPublishingInterval);
  }

  /** CreateMonitoredItems for one item; the result as the server sent it, and its clientHandle. */
  async monitor(
    nodeId: string,
    parameters: { samplingInterval: number; queueSize: number; discardOldest: boolean; filter?: EventFilter },
    attributeId: AttributeIds = AttributeIds.Value,
  ): Promise<{ result: MonitoredItemCreateResult; clientHandle: number }> {
    const clientHandle = this.nextHandle++;
    const response = await this.session.createMonitoredItems(
      new CreateMonitoredItemsRequest({
        subscriptionId: this.subscriptionId,
        timestampsToReturn: TimestampsToReturn.Both,
        itemsToCreate: [
          {
            itemToMonitor: { nodeId, attributeId },
            monitoringMode: MonitoringMode.Reporting,
            requestedParameters: { clientHandle, ...parameters },
          },
        ],
      }),
    );
    const result = response.results?.[0];
    if (!result) throw new Error(`no CreateMonitoredItems result for ${nodeId}`);
    return { result, clientHandle };
  }

  /** ModifyMonitoredItems for one item; the result as the server sent it. */
  async modify(
    created: { result: MonitoredItemCreateResult; clientHandle: number },
    parameters: { samplingInterval: number; queueSize: number; discardOldest: boolean },
  ): Promise<MonitoredItemModifyResult> {
    const request = {
      subscriptionId: this.subscriptionId,
      timestampsToReturn: TimestampsToReturn.Both,
      itemsToModify: [
        {
          monitoredItemId: created.result.monitoredItemId,
          requestedParameters: { clientHandle: created.clientHandle, ...parameters },
        },
      ],
    };
    // The callback form: the typings' first overload (optional callback) answers void.
    const response = await new Promise<ModifyMonitoredItemsResponse>((resolve, reject) =>
      this.session.modifyMonitoredItems(request, (err, r) => (err || !r ? reject(err) : resolve(r))),
    );
    const result = response.results?.[0];
    if (!result) throw new Error(`no ModifyMonitoredItems result for item ${created.result.monitoredItemId}`);
    return result;
  }

  /**
   * Sends Publish requests, one at a time, until `done()` holds or `timeoutMs` passes; each response
   * is a NotificationMessage or, with nothing queued, a keep-alive after 5 publishing intervals.
   */
  async collect(done: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`Publish: not done after ${timeoutMs} ms`);
      this.take(await this.publish());
    }
  }

  /** DeleteSubscriptions: Publish requests of the session would otherwise serve it too. */
  async delete(): Promise<void> {
    await this.session.deleteSubscriptions({ subscriptionIds: [this.subscriptionId] });
  }

  private publish(): Promise<PublishResponse> {
    const request = new PublishRequest({ subscriptionAcknowledgements: this.acknowledgements });
    this.acknowledgements = [];
    return new Promise((resolve, reject) =>
      this.session.publish(request, (err, response) => (err || !response ? reject(err) : resolve(response))),
    );
  }

  private take(response: PublishResponse): void {
    const message = response.notificationMessage;
    if (message.notificationData?.length)
      this.acknowledgements.push({
        subscriptionId: response.subscriptionId,
        sequenceNumber: message.sequenceNumber,
      });
    // A Publish request is the session's: it may carry another subscription's notifications.
    if (response.subscriptionId !== this.subscriptionId) return;
    for (const data of message.notificationData ?? []) {
      if (data instanceof RawDataChange)
        for (const item of data.monitoredItems ?? []) push(this.values, item.clientHandle, item.value);
      if (data instanceof EventNotificationList)
        for (const event of data.events ?? []) push(this.events, event.clientHandle, event.eventFields ?? []);
    }
  }
}

function push<T>(map: Map<number, T[]>, key: number, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

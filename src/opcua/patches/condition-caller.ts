import type { ISessionContext } from "node-opcua";
import { UAConditionImplBase } from "../../shared/node-opcua.js";

type Inner = (eventId: Buffer | null, comment: unknown, branch: Branch, condition: unknown) => unknown;

interface Branch {
  setClientUserId(user: string): void;
}

let installed = false;

/**
 * The event that an Acknowledge, Confirm or AddComment raises carries the caller's user in
 * ClientUserId (Part 9 5.5.2: "the identity of the user who inserted the most recent Comment").
 *
 * node-opcua 2.182's UAConditionImplBase.with_condition_method, through which those three methods
 * run, sets ClientUserId only after the method raised the branch's new state: the event said who
 * acted before, and the journal could not tell who acknowledged. Here it is set first.
 */
export function setConditionCallerFirst(): void {
  if (installed) return;
  installed = true;
  const base = UAConditionImplBase as unknown as {
    with_condition_method(args: unknown, context: ISessionContext, callback: unknown, inner: Inner): void;
  };
  const original = base.with_condition_method.bind(base);
  base.with_condition_method = (args, context, callback, inner) =>
    original(args, context, callback, (eventId, comment, branch, condition) => {
      branch.setClientUserId(context.getUserName());
      return inner(eventId, comment, branch, condition);
    });
}

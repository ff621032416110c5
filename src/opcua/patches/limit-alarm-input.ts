import type { DataValue } from "node-opcua";
import { UALimitAlarmImplBase } from "../../shared/node-opcua.js";

interface LimitAlarmInternals {
  _onInputDataValueChange(dataValue: DataValue): void;
}

/** Per limit alarm, the input values it evaluates (gateLimitAlarmInput). */
const gates = new WeakMap<object, (dataValue: DataValue) => boolean>();
let installed = false;

/**
 * A limit alarm (Part 9 5.8.18, ExclusiveLimitAlarmType) evaluates only the input values its gate
 * lets through, and none before it has one.
 *
 * node-opcua 2.182 evaluates a limit alarm on every input change and clears it when the input turns
 * uncertain or bad; Part 9 5.8.18 ties the limit state to the input's value, and a lost broker says
 * nothing about a temperature. It also evaluates the input while it instantiates the alarm, before
 * the gateway has set the condition's message, severity and time (AlarmNodes): a first value
 * beyond a limit raised node-opcua's "Condition is 95.000 and state is High", severity 150. The
 * method is not in node-opcua's public types, so the prototype's is wrapped.
 */
export function gateLimitAlarmInputs(): void {
  if (installed) return;
  installed = true;
  const prototype = UALimitAlarmImplBase.prototype as unknown as LimitAlarmInternals;
  const evaluate = prototype._onInputDataValueChange;
  prototype._onInputDataValueChange = function (this: LimitAlarmInternals, dataValue: DataValue) {
    if (gates.get(this)?.(dataValue)) evaluate.call(this, dataValue);
  };
}

/**
 * Makes `alarm` evaluate the input values `accept` lets through (gateLimitAlarmInputs), and returns
 * the evaluation so the caller can run it for a value it already holds.
 */
export function gateLimitAlarmInput(
  alarm: object,
  accept: (dataValue: DataValue) => boolean,
): (dataValue: DataValue) => void {
  gates.set(alarm, accept);
  const internals = alarm as LimitAlarmInternals;
  return (dataValue) => internals._onInputDataValueChange(dataValue);
}

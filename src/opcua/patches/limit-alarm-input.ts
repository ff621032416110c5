import type { DataValue } from "node-opcua";

interface LimitAlarmInternals {
  _onInputDataValueChange(dataValue: DataValue): void;
}

/**
 * Makes a limit alarm evaluate only the input values `accept` lets through, and returns the
 * evaluation so the caller can run it for a value it already holds.
 *
 * node-opcua 2.182 evaluates a limit alarm (Part 9 5.8.18, ExclusiveLimitAlarmType) on every
 * input change and clears it when the input turns uncertain or bad; Part 9 5.8.18 ties the limit
 * state to the input's value, and a lost broker says nothing about a temperature. The method is
 * not in node-opcua's public types, so it is replaced on the instance.
 */
export function gateLimitAlarmInput(
  alarm: object,
  accept: (dataValue: DataValue) => boolean,
): (dataValue: DataValue) => void {
  const internals = alarm as LimitAlarmInternals;
  const evaluate = internals._onInputDataValueChange.bind(internals);
  internals._onInputDataValueChange = (dataValue) => {
    if (accept(dataValue)) evaluate(dataValue);
  };
  return internals._onInputDataValueChange;
}

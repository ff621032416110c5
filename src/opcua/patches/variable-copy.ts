import { createRequire } from "node:module";
import type { NodeId, UAVariable } from "node-opcua";
import { DataValue, StatusCodes, Variant } from "../../shared/node-opcua.js";

const require = createRequire(import.meta.url);
// Not exported from node-opcua's entry points; the release is pinned (patches/index.ts) and
// test/unit/variable-factory.test.ts holds copies against constructed variables.
const { UAVariableImpl } = require("node-opcua-address-space/dist/impl/ua_variable_impl.js") as {
  UAVariableImpl: { prototype: object };
};

type Fields = Record<string | symbol, unknown>;

/** What node-opcua keeps of a node under its private symbol (base_node_private.js BaseNode_initPrivate). */
export interface NodePrivate {
  _referenceIdx: Map<string, unknown>;
  [field: string]: unknown;
}

/**
 * The own fields of a node-opcua 2.182.2 UAVariableImpl, in the order its constructors set them
 * (EventEmitter, BaseNodeImpl, UAVariableImpl), with the three symbols EventEmitter and BaseNode
 * add. A variable made by the constructor that has other fields refuses to be copied.
 */
const FIELDS = [
  "_events",
  "_eventsCount",
  "_maxListeners",
  "releaseStatus",
  "declaredAccessRestrictions",
  "_accessRestrictions",
  "_rolePermissions",
  "nodeClass",
  "nodeId",
  "browseName",
  "_postInstantiateFunc",
  "$$variableType",
  "$$dataType",
  "$$getElementBrowseName",
  "$$extensionObjectArray",
  "$$indexPropertyName",
  "dataType",
  "_basicDataType",
  "$extensionObject",
  "$set_ExtensionObject",
  "$historicalDataConfiguration",
  "varHistorian",
  "$dataValue",
  "accessLevel",
  "userAccessLevel",
  "valueRank",
  "minimumSamplingInterval",
  "historizing",
  "semantic_version",
  "arrayDimensions",
  "_timestamped_get_func",
  "_timestamped_set_func",
  "_get_func",
  "_set_func",
  "refreshFunc",
  "__waiting_callbacks",
  "Symbol(shapeMode)",
  "Symbol(kCapture)",
  "Symbol(BaseNodePrivate)",
];
/**
 * The object-valued fields a copy shares with its model: set once and never changed in place (a
 * write replaces $dataValue, a rename the LocalizedText), or shared by node-opcua itself (the
 * address space, the browse filter, the empty back-reference index). A copy has its own NodeId,
 * DataValue, listener table, private state and reference index; any other object in the model is
 * a node-opcua change not reviewed here, and refused.
 */
const SHARED = ["browseName", "dataType"];
const SHARED_PRIVATE = [
  "__address_space",
  "_back_referenceIdx",
  "_browseFilter",
  "_displayNameRaw",
  "_descriptionRaw",
];

const keyName = (key: string | symbol) => (typeof key === "symbol" ? `Symbol(${key.description})` : key);

/** A variable fresh from node-opcua's constructor, checked to be one copyVariable can copy. */
export interface VariableModel {
  readonly fields: Fields;
  readonly privateKey: symbol;
  readonly eventSymbols: readonly symbol[];
}

/** Checks `variable` (just constructed, never registered or listened to) against FIELDS and SHARED. */
export function variableModel(variable: UAVariable): VariableModel {
  const fields = variable as unknown as Fields;
  const keys = Reflect.ownKeys(fields);
  const names = keys.map(keyName);
  if (names.join() !== FIELDS.join())
    throw new Error(
      `node-opcua's variable has the fields ${names.join(", ")}; variable-copy.ts knows ${FIELDS.join(", ")}`,
    );
  const privateKey = keys.find((k) => keyName(k) === "Symbol(BaseNodePrivate)") as symbol;
  refuseUnknownObjects(
    fields,
    [...SHARED, "nodeId", "$dataValue", "_events", "Symbol(BaseNodePrivate)"],
    "variable",
  );
  refuseUnknownObjects(fields[privateKey] as Fields, [...SHARED_PRIVATE, "_referenceIdx"], "private state");
  if (Object.keys(fields._events as object).length > 0)
    throw new Error("a variable model must have no listeners");
  return {
    fields,
    privateKey,
    eventSymbols: keys.filter((k): k is symbol => typeof k === "symbol" && k !== privateKey),
  };
}

/**
 * A copy of `model` with `nodeId`, a null value (UncertainInitialValue, stamped now, as the
 * constructor makes it), no listener table yet, and `ownPrivate` as its private state. The fields are set
 * by name in a constructor function: V8 keeps ~40 fields set so in fast mode, as it does the class
 * constructor's, where Object.assign or keyed stores leave such objects as dictionaries (slower at
 * each later read, $dataValue at every message). ~3 µs a copy against ~13 µs for the constructor.
 */
export function copyVariable(model: VariableModel, nodeId: NodeId, ownPrivate: NodePrivate): UAVariable {
  const dataValue = new DataValue();
  dataValue.value = new Variant();
  dataValue.statusCode = StatusCodes.UncertainInitialValue;
  dataValue.sourceTimestamp = dataValue.serverTimestamp = new Date();
  return new (CopiedVariable as unknown as new (...args: unknown[]) => UAVariable)(
    model.fields,
    nodeId,
    dataValue,
    model.eventSymbols,
    model.privateKey,
    ownPrivate,
  );
}

function CopiedVariable(
  this: Fields,
  m: Fields,
  nodeId: NodeId,
  dataValue: DataValue,
  eventSymbols: readonly symbol[],
  privateKey: symbol,
  ownPrivate: NodePrivate,
): void {
  // No listener table until a first listener: EventEmitter makes one then (_addListener), and
  // reads an undefined one as empty. Most variables never get a listener, and an empty table is a
  // dictionary of ~190 B: 19 MB and 100,000 allocations of a 100,000-point start.
  this._events = undefined;
  this._eventsCount = 0;
  this._maxListeners = m._maxListeners;
  this.releaseStatus = m.releaseStatus;
  this.declaredAccessRestrictions = m.declaredAccessRestrictions;
  this._accessRestrictions = m._accessRestrictions;
  this._rolePermissions = m._rolePermissions;
  this.nodeClass = m.nodeClass;
  this.nodeId = nodeId;
  this.browseName = m.browseName;
  this._postInstantiateFunc = m._postInstantiateFunc;
  this.$$variableType = m.$$variableType;
  this.$$dataType = m.$$dataType;
  this.$$getElementBrowseName = m.$$getElementBrowseName;
  this.$$extensionObjectArray = m.$$extensionObjectArray;
  this.$$indexPropertyName = m.$$indexPropertyName;
  this.dataType = m.dataType;
  this._basicDataType = m._basicDataType;
  this.$extensionObject = m.$extensionObject;
  this.$set_ExtensionObject = m.$set_ExtensionObject;
  this.$historicalDataConfiguration = m.$historicalDataConfiguration;
  this.varHistorian = m.varHistorian;
  this.$dataValue = dataValue;
  this.accessLevel = m.accessLevel;
  this.userAccessLevel = m.userAccessLevel;
  this.valueRank = m.valueRank;
  this.minimumSamplingInterval = m.minimumSamplingInterval;
  this.historizing = m.historizing;
  this.semantic_version = m.semantic_version;
  this.arrayDimensions = m.arrayDimensions;
  this._timestamped_get_func = m._timestamped_get_func;
  this._timestamped_set_func = m._timestamped_set_func;
  this._get_func = m._get_func;
  this._set_func = m._set_func;
  this.refreshFunc = m.refreshFunc;
  this.__waiting_callbacks = m.__waiting_callbacks;
  for (const key of eventSymbols) this[key] = m[key];
  this[privateKey] = ownPrivate;
}
/**
 * The copies' prototype: UAVariableImpl's, under plain `nodeId` and `nodeClass` fields. node-opcua
 * defines both on BaseNodeImpl's prototype as accessors to a child of that browse name (ns0 has
 * such children), and their setter turns each assignment into an Object.defineProperty, ~0.15 s of
 * a 100,000-point restore. Every node has both as fields of its own, so those accessors never
 * answer for one.
 */
CopiedVariable.prototype = Object.create(UAVariableImpl.prototype, {
  nodeId: { value: undefined, writable: true },
  nodeClass: { value: undefined, writable: true },
});

/** Throws unless every object-valued own field of `o` is one of `known` (keyName). */
function refuseUnknownObjects(o: Fields, known: readonly string[], what: string): void {
  for (const key of Reflect.ownKeys(o)) {
    const value = o[key];
    if (value !== null && typeof value === "object" && !known.includes(keyName(key)))
      throw new Error(
        `node-opcua's ${what} holds an object in ${keyName(key)}, which variable-copy.ts does not know to copy or share`,
      );
  }
}

import { createRequire } from "node:module";
import type {
  AccessLevelFlag,
  BaseNode,
  INamespace,
  LocalizedText,
  RolePermissionTypeOptions,
  UADataType,
  UAMethod,
  UAObject,
  UAObjectType,
  UAReferenceType,
  UAVariable,
  Variant,
} from "node-opcua";
import {
  coerceLocalizedText,
  makeAccessLevelFlag,
  NodeId,
  NodeIdType,
  QualifiedName,
  StatusCodes,
} from "../../shared/node-opcua.js";

/** A node-opcua reference (type, direction, target); it names no source, so many nodes can hold one. */
export interface SharedReference {
  readonly nodeId: NodeId;
}

import { writePoint } from "./point-writer.js";
import { copyVariable, type NodePrivate, type VariableModel, variableModel } from "./variable-copy.js";

const require = createRequire(import.meta.url);
// node-opcua 2.182 does not export these from its entry points; the package version is pinned and
// test/unit/variable-factory.test.ts checks the result against namespace.addVariable's.
const { UAVariableImpl } = require("node-opcua-address-space/dist/impl/ua_variable_impl.js") as {
  UAVariableImpl: new (options: object) => UAVariable;
};
const { UAObjectImpl } = require("node-opcua-address-space/dist/impl/ua_object_impl.js") as {
  UAObjectImpl: new (options: object) => UAObject;
};
const { UAMethodImpl } = require("node-opcua-address-space/dist/impl/ua_method_impl.js") as {
  UAMethodImpl: new (options: object) => UAMethod;
};
const { ReferenceImpl } = require("node-opcua-address-space/dist/impl/reference_impl.js") as {
  ReferenceImpl: new (options: object) => ReferenceInternals;
};

interface NodeInternals {
  _add_backward_reference(reference: SharedReference): void;
}
interface ReferenceInternals extends SharedReference {
  /** The reference's key in a node's reference index (memoised on the reference). */
  key(addressSpace: unknown): string;
}
interface NamespaceInternals {
  _register(node: BaseNode): void;
}

/** What every device's variable of one catalog point has in common. */
export interface VariableShape {
  browseName: QualifiedName;
  displayName: LocalizedText;
  description: LocalizedText;
  dataType: NodeId;
  accessLevel: AccessLevelFlag;
  /**
   * HasTypeDefinition, HasProperty to shared property nodes, HasHistoricalConfiguration: one set for
   * all such variables.
   */
  references: readonly SharedReference[];
}

const READ_ONLY = makeAccessLevelFlag("CurrentRead");

/**
 * What every device's method of one command has in common: its argument lists (one Variant of
 * Arguments each, shared and never changed) and who may call it.
 */
export interface MethodShape {
  browseName: QualifiedName;
  description: LocalizedText;
  rolePermissions: readonly RolePermissionTypeOptions[];
  inputArguments: Variant;
  outputArguments: Variant;
}

/** A read-only variable whose value is set once: a method's argument list or an argument's description. */
export interface FixedShape {
  browseName: QualifiedName;
  description: LocalizedText;
  dataType: NodeId;
  valueRank: number;
  arrayDimensions: number[] | null;
  /** As addVariable takes it: -1 for a method's argument lists (addMethod's), 0 otherwise. */
  minimumSamplingInterval: number;
  /** HasTypeDefinition (and HasModellingRule): shared among such variables. */
  references: readonly SharedReference[];
  rolePermissions?: readonly RolePermissionTypeOptions[];
  value: Variant;
}

/**
 * Creates the mirrored variables: scalar, exception-based (minimumSamplingInterval 0), a component
 * of their folder, with the same attributes and references namespace.addVariable gives them.
 *
 * addVariable is generic: it normalises each reference twice, builds two reference objects per
 * reference, resolves names, checks for model-change events and sets up accessors, about 20 µs
 * and 840 B more a variable than this (measured at 55,000 variables). Here a reference that names
 * no source (the type definition, a shared property, the inverse HasComponent to a folder) is
 * built once and held by every variable it applies to; the folder gets its forward reference.
 * Shared targets (property nodes, HA Configurations) get no inverse reference per variable: at
 * 100,000 points an inverse browse of one would answer 100,000 references, each costing ~150 B.
 * The catalog folders below each device (33 a device, 7,500 at 227 devices) are made the same way:
 * addObject cost ~100 µs each, a tenth of a 100,000-point start.
 */
export class VariableFactory {
  private readonly hasComponent: UAReferenceType;
  private readonly componentOf = new WeakMap<BaseNode, ReferenceInternals>();
  /** Per shape, the variable its variables are copies of (create). */
  private readonly models = new WeakMap<VariableShape, VariableModel>();
  private readonly typeDefinitions = new Map<UAObjectType, SharedReference>();
  /** A method's argument lists' DataType. */
  private readonly argumentType: UADataType;
  /** A Mandatory property's references (PropertyType, Mandatory): a method's argument lists, a point declaration's EU properties. */
  readonly mandatoryProperty: readonly SharedReference[];

  constructor(private readonly ns: INamespace) {
    this.hasComponent = this.referenceType("HasComponent");
    const addressSpace = ns.addressSpace;
    this.argumentType = addressSpace.findDataType("Argument")!;
    this.mandatoryProperty = [
      this.reference("HasTypeDefinition", addressSpace.findVariableType("PropertyType")!),
      this.reference("HasModellingRule", addressSpace.findNode("i=78")!),
    ];
  }

  /** A forward reference of `referenceType` to `target`, to be shared among variables. */
  reference(
    referenceType: "HasTypeDefinition" | "HasProperty" | "HasHistoricalConfiguration" | "HasModellingRule",
    target: BaseNode,
  ): SharedReference {
    return this.makeReference(this.referenceType(referenceType), true, target);
  }

  /**
   * A variable of `shape`, a component of `parent`. The first of a shape is made by node-opcua's
   * constructor (its asserts, reference normalisation and options coercion: ~13 µs a variable on
   * a cold start, a third of a 100,000-point restore) and kept aside, never registered; the
   * variables of that shape are copies of it (variable-copy.ts) with their own reference index.
   */
  create(nodeId: NodeId, shape: VariableShape, parent: BaseNode): UAVariable {
    const model = this.models.get(shape) ?? this.model(shape);
    const shared = model.fields[model.privateKey] as NodePrivate;
    const own: NodePrivate = { ...shared, _referenceIdx: new Map(shared._referenceIdx) };
    const inverse = this.inverseComponentOf(parent);
    own._referenceIdx.set(inverse.key(this.ns.addressSpace), inverse);
    return this.register(copyVariable(model, nodeId, own), parent);
  }

  /** The variable all of `shape`'s are copies of, made as namespace.addVariable makes one. */
  private model(shape: VariableShape): VariableModel {
    const model = variableModel(
      new UAVariableImpl({
        addressSpace: this.ns.addressSpace,
        nodeId: new NodeId(NodeIdType.STRING, `model of ${shape.browseName.toString()}`, this.ns.index),
        browseName: shape.browseName,
        displayName: shape.displayName,
        description: shape.description,
        dataType: shape.dataType,
        valueRank: -1,
        arrayDimensions: null,
        accessLevel: shape.accessLevel,
        userAccessLevel: shape.accessLevel,
        minimumSamplingInterval: 0,
        references: [...shape.references],
      }),
    );
    this.models.set(shape, model);
    return model;
  }

  /**
   * An object typed `type` (no instance declarations of its own: the model's folder types have
   * none), a component of `parent`, with the attributes and references namespace.addObject gives it.
   */
  createObject(nodeId: NodeId, browseName: QualifiedName, type: UAObjectType, parent: BaseNode): UAObject {
    let typeDefinition = this.typeDefinitions.get(type);
    if (!typeDefinition) {
      typeDefinition = this.reference("HasTypeDefinition", type);
      this.typeDefinitions.set(type, typeDefinition);
    }
    return this.register(
      new UAObjectImpl({
        addressSpace: this.ns.addressSpace,
        nodeId,
        browseName,
        // As internalCreateNode gives a node without one: an empty text, not a null one.
        description: "",
        eventNotifier: 0,
        references: [typeDefinition, this.inverseComponentOf(parent)],
      }),
      parent,
    );
  }

  /**
   * A method of `parent` with its InputArguments and OutputArguments properties (NodeIds
   * `<method>-InputArguments`, as node-opcua names a child of a string NodeId), the attributes and
   * references namespace.addMethod gives them, but for the inverse HasModellingRule on Mandatory
   * (one per property, ~3,600 at 227 devices, which nothing reads). addMethod took ~0.9 ms a
   * method, 1,816 methods at 227 devices with the default command catalog.
   */
  createMethod(nodeId: NodeId, shape: MethodShape, parent: BaseNode): UAMethod {
    const method = this.register(
      new UAMethodImpl({
        addressSpace: this.ns.addressSpace,
        nodeId,
        browseName: shape.browseName,
        description: shape.description,
        rolePermissions: shape.rolePermissions,
        references: [this.inverseComponentOf(parent)],
      }),
      parent,
    );
    const about = `${parent.browseName.toString()}.${shape.browseName.toString()}`;
    const lists = [
      ["InputArguments", "the definition of the input argument of method ", shape.inputArguments],
      ["OutputArguments", "the definition of the output arguments of method ", shape.outputArguments],
    ] as const;
    for (const [name, what, value] of lists)
      this.createFixed(
        this.childId(nodeId, name),
        {
          browseName: new QualifiedName({ name, namespaceIndex: 0 }),
          description: coerceLocalizedText(what + about)!,
          dataType: this.argumentType.nodeId,
          valueRank: 1,
          arrayDimensions: [(value.value as unknown[]).length],
          minimumSamplingInterval: -1,
          references: this.mandatoryProperty,
          value,
        },
        method,
        "HasProperty",
      );
    return method;
  }

  /** A read-only variable with a fixed value, target of `source`'s forward `referenceType` reference. */
  createFixed(
    nodeId: NodeId,
    shape: FixedShape,
    source: BaseNode,
    referenceType: "HasProperty" | "HasOptionalInputArgumentDescription",
  ): UAVariable {
    const type = this.referenceType(referenceType);
    const variable: UAVariable = new UAVariableImpl({
      addressSpace: this.ns.addressSpace,
      nodeId,
      browseName: shape.browseName,
      description: shape.description,
      dataType: shape.dataType,
      valueRank: shape.valueRank,
      arrayDimensions: shape.arrayDimensions,
      accessLevel: READ_ONLY,
      userAccessLevel: READ_ONLY,
      minimumSamplingInterval: shape.minimumSamplingInterval,
      rolePermissions: shape.rolePermissions,
      references: [...shape.references, this.makeReference(type, false, source)],
    });
    this.register(variable, source, type);
    // Good, stamped now, as setValueFromSource would; that one also checks the variant against the
    // DataType and binds an ExtensionObject's fields to components these nodes do not have: 0.45 s
    // of a start's profile (load average 9) for the ~6,100 such nodes at 227 devices.
    const now = new Date();
    writePoint(variable, shape.value, StatusCodes.Good, now, now);
    return variable;
  }

  /** Puts a new node in the namespace and gives `parent` its forward reference (HasComponent unless said). */
  private register<T extends UAObject | UAVariable | UAMethod>(
    node: T,
    parent: BaseNode,
    type = this.hasComponent,
  ): T {
    (this.ns as unknown as NamespaceInternals)._register(node);
    (parent as unknown as NodeInternals)._add_backward_reference(this.makeReference(type, true, node));
    return node;
  }

  /** As node-opcua's NodeIdManager names the child of a string NodeId (nodeIdNameSeparator "-"). */
  private childId(parent: NodeId, name: string): NodeId {
    return new NodeId(NodeIdType.STRING, `${parent.value}-${name}`, parent.namespace);
  }

  private inverseComponentOf(parent: BaseNode): ReferenceInternals {
    let reference = this.componentOf.get(parent);
    if (!reference) {
      reference = this.makeReference(this.hasComponent, false, parent);
      this.componentOf.set(parent, reference);
    }
    return reference;
  }

  private referenceType(name: string): UAReferenceType {
    const type = this.ns.addressSpace.findReferenceType(name);
    if (!type) throw new Error(`reference type ${name} is not in the address space`);
    return type;
  }

  private makeReference(type: UAReferenceType, isForward: boolean, target: BaseNode): ReferenceInternals {
    return new ReferenceImpl({
      referenceType: type.nodeId,
      _referenceType: type,
      isForward,
      nodeId: target.nodeId,
      node: target,
    });
  }
}

import { createRequire } from "node:module";
import type {
  AccessLevelFlag,
  BaseNode,
  INamespace,
  LocalizedText,
  NodeId,
  QualifiedName,
  UAObject,
  UAObjectType,
  UAReferenceType,
  UAVariable,
} from "node-opcua";

/** A node-opcua reference (type, direction, target); it names no source, so many nodes can hold one. */
export interface SharedReference {
  readonly nodeId: NodeId;
}

const require = createRequire(import.meta.url);
// node-opcua 2.182 does not export these from its entry points; the package version is pinned and
// test/unit/variable-factory.test.ts checks the result against namespace.addVariable's.
const { UAVariableImpl } = require("node-opcua-address-space/dist/impl/ua_variable_impl.js") as {
  UAVariableImpl: new (options: object) => UAVariable;
};
const { UAObjectImpl } = require("node-opcua-address-space/dist/impl/ua_object_impl.js") as {
  UAObjectImpl: new (options: object) => UAObject;
};
const { ReferenceImpl } = require("node-opcua-address-space/dist/impl/reference_impl.js") as {
  ReferenceImpl: new (options: object) => SharedReference;
};

interface NodeInternals {
  _add_backward_reference(reference: SharedReference): void;
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
  private readonly componentOf = new WeakMap<BaseNode, SharedReference>();
  private readonly typeDefinitions = new Map<UAObjectType, SharedReference>();

  constructor(private readonly ns: INamespace) {
    this.hasComponent = this.referenceType("HasComponent");
  }

  /** A forward reference of `referenceType` to `target`, to be shared among variables. */
  reference(
    referenceType: "HasTypeDefinition" | "HasProperty" | "HasHistoricalConfiguration",
    target: BaseNode,
  ): SharedReference {
    return this.makeReference(this.referenceType(referenceType), true, target);
  }

  create(nodeId: NodeId, shape: VariableShape, parent: BaseNode): UAVariable {
    const variable: UAVariable = new UAVariableImpl({
      addressSpace: this.ns.addressSpace,
      nodeId,
      browseName: shape.browseName,
      displayName: shape.displayName,
      description: shape.description,
      dataType: shape.dataType,
      valueRank: -1,
      arrayDimensions: null,
      accessLevel: shape.accessLevel,
      userAccessLevel: shape.accessLevel,
      minimumSamplingInterval: 0,
      references: [...shape.references, this.inverseComponentOf(parent)],
    });
    return this.register(variable, parent);
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

  /** Puts a new component of `parent` in the namespace and gives `parent` its forward reference. */
  private register<T extends UAObject | UAVariable>(node: T, parent: BaseNode): T {
    (this.ns as unknown as NamespaceInternals)._register(node);
    (parent as unknown as NodeInternals)._add_backward_reference(
      this.makeReference(this.hasComponent, true, node),
    );
    return node;
  }

  private inverseComponentOf(parent: BaseNode): SharedReference {
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

  private makeReference(type: UAReferenceType, isForward: boolean, target: BaseNode): SharedReference {
    return new ReferenceImpl({
      referenceType: type.nodeId,
      _referenceType: type,
      isForward,
      nodeId: target.nodeId,
      node: target,
    });
  }
}

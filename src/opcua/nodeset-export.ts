import type { Catalog } from "../model/catalog-types.js";
import { AddressSpace, generateAddressSpace, nodesets } from "../shared/node-opcua.js";
import { buildInformationModel, MODEL_NAMESPACE_URI } from "./information-model.js";

/** Fixed so that regenerating the NodeSet2 from an unchanged catalog gives the same bytes. */
const MODEL_VERSION = "1.0.0";
const PUBLICATION_DATE = new Date("2026-01-01T00:00:00Z");

/** The NodeSet2 XML of the Sm@rtGear information model generated from `catalog`. */
export async function exportNodeSet(catalog: Catalog): Promise<string> {
  const addressSpace = AddressSpace.create();
  try {
    await generateAddressSpace(addressSpace, [nodesets.standard]);
    const ns = addressSpace.registerNamespace(MODEL_NAMESPACE_URI);
    ns.version = MODEL_VERSION;
    ns.publicationDate = PUBLICATION_DATE;
    buildInformationModel(ns, catalog);
    return ns.toNodeset2XML();
  } finally {
    addressSpace.dispose();
  }
}

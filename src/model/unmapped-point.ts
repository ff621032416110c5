import type { PointDef } from "./catalog-types.js";

export const UNMAPPED_FOLDER = "Unmapped";

/**
 * A stand-in point for a topic id the catalog does not know, exposed only when
 * mapping.unmapped.expose is on (errata 11): its raw payload text as a String in the device's
 * Unmapped folder, so nothing is guessed about its meaning.
 */
export function unmappedPoint(family: string, topicId: string): PointDef {
  const id = Number(topicId.split("/")[1]);
  const browseName = `Id${family}_${id}`;
  return {
    topicId,
    family,
    id,
    label: `Unmapped topic id ${topicId}`,
    browseName,
    folder: [UNMAPPED_FOLDER],
    browsePath: `${UNMAPPED_FOLDER}/${browseName}`,
    dataType: "String",
    unit: null,
    range: null,
    access: "read",
    writeRole: null,
    alarm: false,
    acknowledgeToDevice: false,
    severity: null,
    note: "Not in the catalog: the raw payload text, exposed because mapping.unmapped.expose is on.",
    generatedBy: "unmapped",
    source: { file: "(not in the catalog)", line: 0 },
  };
}

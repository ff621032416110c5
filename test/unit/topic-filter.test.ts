import { describe, expect, it } from "vitest";
import {
  filterCoveredBy,
  filtersOverlap,
  isValidTopicFilter,
  topicMatchesFilter,
} from "../../src/mapping/topic-filter.js";

describe("MQTT topic filters for the broker ACL", () => {
  it("accepts well-formed filters and refuses wildcards that do not stand alone", () => {
    for (const f of [
      "11/#",
      "#",
      "+",
      "11/+/3WA/+/ETU",
      "+/+",
      "sport/tennis/#",
      "/",
      "11/5/3WA/Feeder 01/ETU",
    ])
      expect(isValidTopicFilter(f), f).toBe(true);
    for (const f of ["", "11/#/5", "11#", "11/5+", "a/b#", "#/a", "a/+b", "a\u0000b"])
      expect(isValidTopicFilter(f), JSON.stringify(f)).toBe(false);
  });

  it("matches topics level by level, # including the parent level", () => {
    const cases: [string, string, boolean][] = [
      ["11/5/3WA/Feeder 01/ETU", "11/#", true],
      ["11", "11/#", true],
      ["11/5/3WA/Feeder 01/ETU", "11/+/3WA/+/ETU", true],
      ["11/5/3WA/Feeder 01/PM", "11/+/3WA/+/ETU", false],
      ["21/14/3WA/Feeder 01/ETU", "11/#", false],
      ["11/5", "11/+", true],
      ["11/5/x", "11/+", false],
      ["11", "11/+", false],
      ["11/5", "11/5", true],
      ["11/5", "#", true],
      ["/a", "+/a", true],
      ["a/", "a/+", true],
    ];
    for (const [topic, filter, expected] of cases)
      expect(topicMatchesFilter(topic, filter), `${topic} ~ ${filter}`).toBe(expected);
  });

  it("keeps $ topics out of filters that start with a wildcard [MQTT-4.7.2-1]", () => {
    expect(topicMatchesFilter("$SYS/broker/uptime", "#")).toBe(false);
    expect(topicMatchesFilter("$SYS/broker/uptime", "+/broker/+")).toBe(false);
    expect(topicMatchesFilter("$SYS/broker/uptime", "$SYS/#")).toBe(true);
  });

  it("allows a subscription only inside what the ACL filter grants", () => {
    const cases: [string, string, boolean][] = [
      ["11/#", "11/#", true],
      ["11/+/3WA/#", "11/#", true],
      ["11/5/3WA/Feeder 01/ETU", "11/#", true],
      ["11", "11/#", true],
      ["#", "11/#", false],
      ["+/5/#", "11/#", false],
      ["11/#", "11/+/3WA/#", false],
      ["11/5/3WA/#", "11/+/3WA/#", true],
      ["11/+", "11/+", true],
      ["11/+", "11/5", false],
      ["11/5", "11/+", true],
      ["11/#", "11/+", false],
      ["11/5/x", "11/+", false],
      ["#", "#", true],
      ["$SYS/#", "#", false],
      ["$SYS/x", "+/x", false],
      ["$SYS/x", "$SYS/#", true],
    ];
    for (const [sub, acl, expected] of cases)
      expect(filterCoveredBy(sub, acl), `${sub} within ${acl}`).toBe(expected);
  });

  it("finds two shards' filters overlapping when one topic matches both, whichever order", () => {
    const cases: [string, string, boolean][] = [
      ["+/+/3WA/+/+", "+/+/50/+/+", false],
      ["+/+/3WA/+/+", "11/#", true],
      ["+/+/+/Feeder 01/+", "+/+/+/Feeder 02/+", false],
      ["+/+/+/Feeder 01/+", "+/+/3WA/+/+", true],
      ["11/#", "21/#", false],
      ["11/#", "11", true],
      ["11/+", "11", false],
      ["11/+", "11/5/x", false],
      ["#", "21/14/3WA/F/ETU", true],
      ["+/+/3WA/+/+", "+/+/3WA/+", false],
      ["$SYS/#", "#", false],
      ["$SYS/#", "+/x", false],
      ["$SYS/#", "$SYS/x", true],
    ];
    for (const [a, b, expected] of cases) {
      expect(filtersOverlap(a, b), `${a} and ${b}`).toBe(expected);
      expect(filtersOverlap(b, a), `${b} and ${a}`).toBe(expected);
    }
  });
});

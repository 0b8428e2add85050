import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseStrictJson, StrictJsonError } from "../../src/crypto/strict-json.js";

describe("strict JSON for signed documents", () => {
  fcTest.prop([fc.jsonValue()], { numRuns: 300 })(
    "agrees with JSON.parse on documents without duplicate names",
    (v) => {
      const text = JSON.stringify(v);
      expect(parseStrictJson(text)).toEqual(JSON.parse(text));
      const spaced = JSON.stringify(v, null, 2);
      expect(parseStrictJson(spaced)).toEqual(JSON.parse(spaced));
    },
  );

  it("refuses duplicate member names at any depth, however escaped", () => {
    for (const t of [
      '{"subjectId":"sub_a","subjectId":"sub_b"}',
      '{"a":{"b":1,"b":2}}',
      '[{"x":1},{"y":[{"k":1,"k":1}]}]',
      '{"subjectId":1,"subject\\u0049d":2}',
    ]) {
      expect(() => parseStrictJson(t)).toThrow(/duplicate member name/);
    }
    // a "__proto__" member is data, not a prototype change
    const o = parseStrictJson('{"__proto__":{"admin":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(["__proto__"]);
  });

  it("refuses malformed input like JSON.parse, and nesting beyond 64", () => {
    for (const t of ["", "{", '{"a" 1}', "[1,]", "01", '"\\x"', '"a\nb"', "{} x", "NaN", "'a'"]) {
      expect(() => parseStrictJson(t), t).toThrow(StrictJsonError);
      expect(() => JSON.parse(t) as unknown, t).toThrow();
    }
    expect(() => parseStrictJson("[".repeat(65) + "]".repeat(65))).toThrow(/too deep/);
    expect(parseStrictJson("[".repeat(64) + "]".repeat(64))).toBeInstanceOf(Array);
  });
});

import { describe, expect, it } from "vitest";
import { VaultError, asVaultError, isVaultError } from "../src/errors.js";

describe("VaultError", () => {
  it("keeps its code and frozen details", () => {
    const e = new VaultError("BLOB_TRUNCATED", "ends early", { details: { segment: 3 } });
    expect(e.code).toBe("BLOB_TRUNCATED");
    expect(Object.isFrozen(e.details)).toBe(true);
    expect(isVaultError(e, "BLOB_TRUNCATED")).toBe(true);
    expect(isVaultError(e, "BLOB_WRONG_KEY")).toBe(false);
  });
  it("wraps foreign errors as INTERNAL and passes VaultErrors through", () => {
    const inner = new VaultError("USAGE", "x");
    expect(asVaultError(inner)).toBe(inner);
    const wrapped = asVaultError(new TypeError("boom"));
    expect(wrapped.code).toBe("INTERNAL");
    expect(wrapped.cause).toBeInstanceOf(TypeError);
  });
});

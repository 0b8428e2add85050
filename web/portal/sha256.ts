/** Hex SHA-256 of a text's UTF-8 bytes: how the vault names a consent text (docs/api.md, Consent). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

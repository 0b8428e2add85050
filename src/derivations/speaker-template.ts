/** `speaker-template`: a protected speaker template (keyed GRP-IoM, docs/template-protection.md). */
import { defineKind, type Recipe } from "./types.js";

export function templateRecipe(params: {
  embedderId: string;
  application: string;
  templateKeyVersion: number;
  scheme: string;
}): Recipe<"speaker-template"> {
  return { name: "speaker-template", version: 1, params };
}

export const speakerTemplate = defineKind({
  name: "speaker-template",
  reconstructable: false,
  contentType: "application/octet-stream",
  description: "a protected speaker template, comparable only under its application's key",
  production: { kind: "template" },
});

/** The roles a principal can have (kept apart from the token service so the CLI loads it cheaply). */
import type { Role } from "../store/meta/schema-access.js";

export const ROLES: readonly Role[] = ["contractor", "operator", "consumer", "auditor", "admin"];

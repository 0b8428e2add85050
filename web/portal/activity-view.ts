/**
 * "Who used my voice data": every event of the audit log about the contractor, checked in the
 * browser before it is shown (log/bundle.ts): commitments, inclusion in a checkpoint signed by the
 * log key this browser pinned the first time, witness cosignatures, and consistency with the
 * checkpoint this browser verified last time. A failed check is shown as such, never hidden.
 *
 * Kept in localStorage (none of it secret): the pinned log keys and the last verified checkpoint.
 */
import { api, ApiError } from "./api.js";
import { h, replace } from "./dom.js";
import { verifyBundle, type SubjectBundle } from "./log/bundle.js";
import { parseVkey } from "./log/note.js";
import { day, t } from "./messages.js";

interface Keys {
  readonly log: {
    readonly origin: string;
    readonly keys: readonly { vkey: string; status: string }[];
    readonly witnesses: readonly { vkey: string; status: string }[];
  };
}

const PIN = "voxvault.log.pinnedKeys";
const LAST = "voxvault.log.lastCheckpoint";

function stored(key: string): string | undefined {
  try {
    return localStorage.getItem(key) ?? undefined;
  } catch {
    return undefined; // storage disabled: every visit is a first visit
  }
}

function store(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* storage disabled */
  }
}

export async function renderActivity(section: HTMLElement): Promise<void> {
  const heading = h("h2", { id: "activity-heading" }, t("activity.heading"));
  const keys = await api<Keys>("GET", "/v1/keys", undefined, false);
  // Trust on first use: the keys seen the first time are the ones later checkpoints must carry.
  const pinned = stored(PIN);
  const vkeys = pinned ? (JSON.parse(pinned) as string[]) : keys.log.keys.map((k) => k.vkey);
  if (!pinned) store(PIN, JSON.stringify(vkeys));
  const previous = stored(LAST);
  const bundle = await api<SubjectBundle>("POST", "/v1/me/audit", previous ? { since: previous } : {});
  try {
    const logKeys = await Promise.all(vkeys.map(parseVkey));
    const witnessKeys = await Promise.all(
      keys.log.witnesses.filter((w) => w.status === "active").map((w) => parseVkey(w.vkey)),
    );
    const checked = await verifyBundle(bundle, logKeys, witnessKeys, previous);
    store(LAST, checked.checkpointNote);
    replace(
      section,
      heading,
      h(
        "p",
        { class: "state-active", "data-log": "verified" },
        t("activity.verified", { count: checked.events.length, size: checked.checkpoint.size }),
      ),
      h("p", {}, t("activity.witnesses", { count: checked.witnesses.length })),
      checked.consistentWith !== undefined && h("p", {}, t("activity.consistent")),
      h(
        "ol",
        { class: "activity" },
        ...[...checked.events]
          .reverse()
          .map((e) =>
            h(
              "li",
              { "data-event": e.type },
              h("strong", {}, e.type),
              " ",
              day(e.at),
              " ",
              t("activity.by", { who: actorName(e.actor) }),
            ),
          ),
      ),
    );
  } catch (e) {
    replace(
      section,
      heading,
      h(
        "p",
        { class: "error", role: "alert", "data-log": "failed" },
        t("activity.failed", { reason: e instanceof Error ? e.message : String(e) }),
      ),
    );
    if (e instanceof ApiError) throw e;
  }
}

function actorName(actor: unknown): string {
  const a = actor as { type?: string; role?: string } | undefined;
  return a?.role ?? a?.type ?? "?";
}

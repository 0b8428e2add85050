/**
 * Adding a recording the contractor already has (the formats the vault takes, docs/audio-input.md)
 * with the resumable upload API: chunks sealed by the vault as they arrive, a progress bar, and a
 * chunk that fails is resumed from the offset the vault reports. The vault abstracts the file on
 * arrival and keeps only what the consented purposes need.
 */
import { api, ApiError, mySubject } from "./api.js";
import { announce, h, replace } from "./dom.js";
import { t } from "./messages.js";

const CHUNK = 256 * 1024;
const RETRIES = 5;

interface UploadState {
  readonly id: string;
  readonly offset: number;
  readonly length: number;
  readonly status: string;
  readonly error: { readonly code: string } | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function send(file: File, progress: HTMLProgressElement, label: HTMLElement): Promise<UploadState> {
  const created = await api<UploadState>("POST", `/v1/subjects/${mySubject()}/uploads`, {
    length: file.size,
  });
  let offset = 0;
  let failures = 0;
  const show = () => {
    progress.value = offset;
    label.textContent = t("upload.progress", { percent: Math.floor((100 * offset) / file.size) });
  };
  progress.max = file.size;
  show();
  let last: UploadState = created;
  while (offset < file.size) {
    try {
      const out = await api<{ upload: UploadState }>("PATCH", `/v1/uploads/${created.id}`, undefined, true, {
        headers: { "content-type": "application/offset+octet-stream", "upload-offset": String(offset) },
        raw: file.slice(offset, offset + CHUNK),
      });
      last = out.upload;
      offset = out.upload.offset;
      failures = 0;
    } catch (e) {
      // A refusal of the file itself is final; a lost chunk is resumed from the vault's offset.
      if (e instanceof ApiError && e.status < 500 && e.code !== "CONFLICT") throw e;
      if (++failures > RETRIES) throw e;
      await sleep(250 * 2 ** failures);
      offset = (await api<{ upload: UploadState }>("GET", `/v1/uploads/${created.id}`)).upload.offset;
    }
    show();
  }
  // Queued: wait for the vault to abstract it.
  while (last.status === "queued" || last.status === "processing" || last.status === "open") {
    last = (await api<{ upload: UploadState }>("GET", `/v1/uploads/${created.id}?wait=20`)).upload;
  }
  return last;
}

export function renderUpload(section: HTMLElement, onDone: () => Promise<void>): void {
  const input = h("input", { type: "file", id: "upload-file", accept: "audio/*,video/*" });
  const button = h("button", { type: "submit" }, t("upload.button"));
  const progress = h("progress", {
    id: "upload-progress",
    max: "1",
    value: "0",
    "aria-labelledby": "upload-label",
  });
  const label = h("span", { id: "upload-label" });
  const result = h("p", { id: "upload-result" });
  const form = h(
    "form",
    {},
    h("label", { for: "upload-file" }, t("upload.label")),
    input,
    h("div", { class: "actions" }, button),
    h("div", { class: "upload-progress" }, progress, " ", label),
    result,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const file = input.files?.[0];
    if (!file) return;
    button.disabled = true;
    send(file, progress, label)
      .then(async (u) => {
        const text =
          u.status === "complete"
            ? t("upload.done")
            : t("upload.failed", { code: u.error?.code ?? u.status });
        result.textContent = text;
        announce(text);
        await onDone();
      })
      .catch((err: unknown) => {
        const text = t("upload.failed", { code: err instanceof ApiError ? err.code : "NETWORK" });
        result.textContent = text;
        announce(text);
      })
      .finally(() => {
        button.disabled = false;
      });
  });
  replace(
    section,
    h("h2", { id: "upload-heading" }, t("upload.heading")),
    h("p", {}, t("upload.intro")),
    form,
  );
}

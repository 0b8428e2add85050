/**
 * Ingest: a recording in, derivations out, nothing partial ever stored.
 *
 * 1. one streaming pass (analyse.ts) computes every derivation; reconstructable ones (raw audio,
 *    frames) stream straight into sealed blobs only when retention keeps them;
 * 2. the small derivations are sealed as blobs too (everything at rest is ciphertext under the
 *    subject's key);
 * 3. one write transaction commits the blob rows, the recording, the derivations and the events.
 * Any failure before 3 removes every object written; decoded PCM never reaches the disk unencrypted.
 */
import type { AudioInfo } from "../audio/decode/index.js";
import { recordEvent } from "../audit/record.js";
import { wipe } from "../crypto/bytes.js";
import type { CanonicalValue } from "../crypto/jcs.js";
import { VaultError } from "../errors.js";
import { newId, parseId } from "../ids.js";
import type { DerivationsTable } from "../store/meta/schema.js";
import { createTemplateProtector, SCHEME_GRP_IOM } from "../template/index.js";
import { commitBlobs, discardSealed, sealBlob, type SealedBlob } from "../vault/blobs.js";
import type { VaultDeps } from "../vault/deps.js";
import { loadSubject, requireActive, requireNotShredded } from "../vault/subjects.js";
import { analyseRecording, PCM_RATE, type AnalyseOptions } from "./analyse.js";
import { ByteChannel } from "./channel.js";
import { retentionExpiry, type ResolvedAbstraction } from "./config.js";
import { derivationClass, SUMMARY_KINDS, type DerivationName, type Recipe } from "../derivations/index.js";
import { framesRecipe, framesToBytes } from "../derivations/frames.js";
import { floatToS16, rawRecipe, streamingWavHeader } from "../derivations/raw.js";
import { templateRecipe } from "../derivations/speaker-template.js";
import type { EmbedderPort } from "./embedder-port.js";
import { toDerivationInfo, type DerivationInfo } from "./derivation-info.js";

export { toDerivationInfo, type DerivationInfo } from "./derivation-info.js";
import {
  decodeMetadata,
  encodeMetadata,
  parseRecordingMetadata,
  type RecordingMetadata,
} from "./metadata.js";
import type { MetaDb } from "../store/meta/types.js";
import { voiceTemplates } from "./read-templates.js";
import {
  chooseEnrolment,
  diarisationRecipe,
  scoreAgainst,
  verifyVoices,
  type VoiceVerdict,
} from "./speakers.js";
import type { EnrolmentDecision } from "../derivations/speakers.js";
import type { SummaryInput } from "../derivations/index.js";
import { templateKey, VAULT_APPLICATION } from "../vault/template-keys.js";

export interface IngestResult {
  readonly id: string;
  readonly subjectId: string;
  readonly format: {
    readonly container: string;
    readonly codec: string;
    readonly sampleRate: number;
    readonly channels: number;
  };
  readonly durationSec: number;
  readonly speechSec: number;
  readonly derivations: readonly DerivationInfo[];
  readonly metadata?: RecordingMetadata | undefined;
  /** How the enrolled voice was chosen when the recording was diarised (src/ingest/speakers.ts). */
  readonly enrolment?: EnrolmentDecision | undefined;
  /** What was stored but deserves attention (AMBIGUOUS_SPEAKER: no template from this file). */
  readonly warnings?: readonly { readonly code: "AMBIGUOUS_SPEAKER"; readonly message: string }[] | undefined;
}

export interface IngestInput {
  readonly subjectId: string;
  readonly source: AsyncIterable<Uint8Array>;
  readonly onProgress?: ((seconds: number, totalSec: number | undefined) => void) | undefined;
  /** Which audio track of a multi-track file (MP4, MOV, Matroska), 0-based; default the first. */
  readonly audioTrack?: number | undefined;
  /** Only this channel, 0-based (each party on its own channel); default the channel mean. */
  readonly channel?: number | undefined;
  /** The platform's external id, kind and recording time (src/ingest/metadata.ts). */
  readonly metadata?: RecordingMetadata | undefined;
}

/**
 * How an ingest job commits (src/ingest/jobs.ts): the recording names its upload, and `within`
 * runs in the commit's transaction (it refuses a duplicate attempt, rolling everything back).
 * Internal: the Vault's public `recordings.ingest` takes no staging.
 */
export interface IngestStaging {
  readonly uploadId: string;
  within(trx: MetaDb, recordingId: string): Promise<void>;
}

export interface VerifyResult {
  readonly score: number;
  readonly threshold: number;
  readonly match: boolean;
  /** Enrolled templates compared (those under the current template key and embedder). */
  readonly templates: number;
  /** With several voices: each voice's speaking time, score and whether it is staff. */
  readonly speakers?: readonly VoiceVerdict[] | undefined;
  /** Who spoke when (seconds), speaker indices into `speakers`. */
  readonly segments?:
    readonly { readonly start: number; readonly end: number; readonly speaker: number }[] | undefined;
  /** Someone other than the subject and the staff answered for PROXY_MIN_SEC or more while the subject's voice was present too. */
  readonly proxySuspected?: boolean | undefined;
  /** When suspected: the turns judged to be the other voice, in seconds. */
  readonly proxyTurns?: readonly { readonly start: number; readonly end: number }[] | undefined;
}

export interface IngestDeps extends VaultDeps {
  readonly abstraction: ResolvedAbstraction;
  readonly embedder: () => Promise<EmbedderPort | undefined>;
  readonly decoder: Pick<AnalyseOptions, "workerUrl" | "ffmpegFallback">;
}

interface Sink {
  readonly channel: ByteChannel;
  readonly done: Promise<SealedBlob>;
}

export function createIngestService(deps: IngestDeps) {
  const limits = () => {
    const l = deps.abstraction.limits;
    return {
      ...(l.maxInputBytes !== undefined ? { maxInputBytes: l.maxInputBytes } : {}),
      ...(l.maxDurationSec !== undefined ? { maxDurationSec: l.maxDurationSec } : {}),
      ...(l.minDurationSec !== undefined ? { minDurationSec: l.minDurationSec } : {}),
      ...(l.maxChannels !== undefined ? { maxChannels: l.maxChannels } : {}),
    };
  };

  /** What ingest and verify-speaker both ask of the one analysis pass. */
  function analysisOptions(input: IngestInput, embedder: EmbedderPort | undefined): AnalyseOptions {
    return {
      limits: limits(),
      ...deps.decoder,
      native: deps.abstraction.decoder === "native",
      embedder,
      minSpeechSec: deps.abstraction.limits.minSpeechSec,
      speechSearchSec: deps.abstraction.limits.speechSearchSec,
      onProgress: input.onProgress,
      audioTrack: input.audioTrack,
      channel: input.channel,
      diarise: true,
    };
  }

  function startSink(subjectId: string, kind: DerivationName, expiresAt: Date | undefined): Sink {
    const channel = new ByteChannel();
    const done = sealBlob(deps, {
      subjectId,
      kind,
      data: channel,
      retention: expiresAt ? { expiresAt } : undefined,
    });
    done.catch((e: unknown) => {
      channel.fail(e);
    });
    return { channel, done };
  }

  async function abortSinks(sinks: readonly Sink[], error: unknown): Promise<SealedBlob[]> {
    for (const s of sinks) s.channel.fail(error);
    const settled = await Promise.allSettled(sinks.map((s) => s.done));
    return settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  }

  async function ingest(input: IngestInput, staging?: IngestStaging): Promise<IngestResult> {
    const metadata = parseRecordingMetadata(input.metadata);
    const subject = await loadSubject(deps.meta.db, input.subjectId);
    requireActive(subject);
    const embedder = await deps.embedder();
    const now = deps.now();
    const retention = deps.abstraction.retention;
    const rawExpiry = retentionExpiry(retention.raw, now);
    const framesExpiry = retentionExpiry(retention.frames, now);
    const sinks: Sink[] = [];
    const rawSink = rawExpiry ? startSink(subject.id, "raw", rawExpiry) : undefined;
    const framesSink = framesExpiry ? startSink(subject.id, "frames", framesExpiry) : undefined;
    if (rawSink) sinks.push(rawSink);
    if (framesSink) sinks.push(framesSink);
    const sealed: SealedBlob[] = [];
    const planned: {
      name: DerivationName;
      recipe: Recipe;
      blob: SealedBlob;
      application: string | null;
      expiresAt: Date | undefined;
    }[] = [];
    let embedding: Float32Array | undefined;
    let enrolment: EnrolmentDecision | undefined;
    try {
      if (rawSink) await rawSink.channel.write(streamingWavHeader(PCM_RATE));
      const analysis = await analyseRecording(input.source, {
        ...analysisOptions(input, embedder),
        sinks: {
          ...(rawSink ? { pcm: (c: Float32Array) => rawSink.channel.write(floatToS16(c)) } : {}),
          ...(framesSink ? { frames: (f) => framesSink.channel.write(framesToBytes(f)) } : {}),
        },
      });
      embedding = analysis.embedding;
      const { info, report, loudness } = analysis;
      if (!report.enoughSpeech) {
        throw new VaultError(
          "NO_SPEECH",
          `not enough speech (${report.vad.speechSec.toFixed(2)} s detected)`,
          {
            details: { speechSec: Math.round(report.vad.speechSec * 1000) / 1000 },
          },
        );
      }
      for (const s of sinks) s.channel.end();
      if (rawSink)
        planned.push({
          name: "raw",
          recipe: rawRecipe(),
          blob: await rawSink.done,
          application: null,
          expiresAt: rawExpiry,
        });
      if (framesSink) {
        const fb = embedder?.features.fbank ?? {};
        const fbParams: Record<string, CanonicalValue> = {};
        for (const [k, v] of Object.entries(fb))
          if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") fbParams[k] = v;
        planned.push({
          name: "frames",
          recipe: framesRecipe(report, fbParams),
          blob: await framesSink.done,
          application: null,
          expiresAt: framesExpiry,
        });
      }
      const small = async (
        name: DerivationName,
        recipe: Recipe,
        bytes: Uint8Array,
        application: string | null = null,
      ) => {
        const blob = await sealBlob(deps, { subjectId: subject.id, kind: name, data: [bytes] });
        sealed.push(blob);
        planned.push({ name, recipe, blob, application, expiresAt: undefined });
      };
      const tk = embedder
        ? await deps.meta.write((trx) => templateKey(trx, deps.tree, subject.tenant, VAULT_APPLICATION))
        : undefined;
      const protector =
        embedder && tk ? createTemplateProtector(tk.key, { profile: embedder.profile }) : undefined;
      if (tk) wipe(tk.key);
      let speakersInput: SummaryInput["speakers"];
      try {
        if (analysis.diarisation && embedder && tk) {
          const diarisation = analysis.diarisation;
          const voices = await deps.meta.write((trx) =>
            voiceTemplates(trx, deps, subject, embedder.id, tk.version),
          );
          const choice = chooseEnrolment({
            diarisation,
            wholeEmbedding: embedding,
            protector,
            subjectTemplates: voices.subject,
            staffTemplates: voices.staff,
            threshold: deps.abstraction.verificationThreshold ?? embedder.calibration?.threshold,
          });
          diarisation.wipe();
          if (choice.embedding !== embedding) {
            embedding?.fill(0);
            embedding = choice.embedding;
          }
          speakersInput = { summary: choice.summary, recipe: diarisationRecipe(embedder.id) };
          enrolment = choice.summary.decision;
        }
        for (const kind of SUMMARY_KINDS) {
          if (kind.production.kind !== "summary") continue;
          const made = kind.production.summarize({
            info,
            report,
            loudness,
            ...(speakersInput ? { speakers: speakersInput } : {}),
          });
          if (made) await small(kind.name, made.recipe, made.payload);
        }
      } catch (e) {
        protector?.dispose();
        throw e;
      }
      if (embedder && embedding && tk && protector) {
        const bytes = protector.protectToBytes(embedding);
        await small(
          "speaker-template",
          templateRecipe({
            embedderId: embedder.id,
            application: VAULT_APPLICATION,
            templateKeyVersion: tk.version,
            scheme: `grp-iom/${SCHEME_GRP_IOM}`,
          }),
          bytes,
          VAULT_APPLICATION,
        );
      }
      protector?.dispose();
      const recordingId = newId("rec");
      const createdAt = deps.now().toISOString();
      const rows: DerivationsTable[] = planned.map((p) => ({
        id: newId("drv"),
        recording_id: recordingId,
        subject_id: subject.id,
        name: p.name,
        recipe: JSON.stringify(p.recipe),
        class: derivationClass(p.name),
        application: p.application,
        blob_id: p.blob.row.id,
        created_at: createdAt,
        expires_at: p.expiresAt ? p.expiresAt.toISOString() : null,
      }));
      const format = {
        container: info.container,
        codec: info.codec,
        sampleRate: info.sampleRate,
        channels: info.channels,
      };
      await deps.meta.write(async (trx) => {
        await commitBlobs(
          trx,
          deps,
          subject.id,
          planned.map((p) => p.blob),
        );
        await trx
          .insertInto("recordings")
          .values({
            id: recordingId,
            subject_id: subject.id,
            created_at: createdAt,
            source: JSON.stringify({ ...format, bitsPerSample: info.bitsPerSample ?? null }),
            duration_ms: Math.round(report.durationSec * 1000),
            speech_ms: Math.round(report.vad.speechSec * 1000),
            upload_id: staging?.uploadId ?? null,
            metadata: encodeMetadata(metadata),
          })
          .execute();
        if (staging) await staging.within(trx, recordingId);
        if (rows.length > 0) await trx.insertInto("derivations").values(rows).execute();
        await recordEvent(trx, deps.actor, {
          type: "recording.ingested",
          subjectId: subject.id,
          recordingId,
          container: info.container,
          codec: info.codec,
          durationMs: Math.round(report.durationSec * 1000),
          derivations: rows.map((r) => r.name),
          rawKept: rawSink !== undefined,
        });
      });
      return {
        id: recordingId,
        subjectId: subject.id,
        format,
        durationSec: report.durationSec,
        speechSec: report.vad.speechSec,
        derivations: rows.map(toDerivationInfo),
        ...(metadata ? { metadata } : {}),
        ...(enrolment ? { enrolment } : {}),
        ...(enrolment === "ambiguous"
          ? {
              warnings: [
                {
                  code: "AMBIGUOUS_SPEAKER" as const,
                  message:
                    "several voices and none could be told to be the subject's: no speaker template enrolled",
                },
              ],
            }
          : {}),
      };
    } catch (e) {
      const fromSinks = await abortSinks(sinks, e);
      await discardSealed(deps.store, [...sealed, ...fromSinks]);
      throw e;
    } finally {
      embedding?.fill(0);
    }
  }

  return {
    ingest,

    /**
     * Compares a new recording with the subject's enrolled templates, in the protected domain.
     * An interview with several voices is diarised: each voice is scored on all of its speech,
     * staff voices (interviewers) are set aside, and a voice that does not match the subject while
     * another one does is reported as a suspected proxy, with its segments (src/ingest/speakers.ts).
     */
    async verifySpeaker(input: IngestInput): Promise<VerifyResult> {
      const subject = await loadSubject(deps.meta.db, input.subjectId);
      requireActive(subject);
      const embedder = await deps.embedder();
      if (!embedder) throw new VaultError("MODEL_INVALID", "no speaker embedder is configured");
      const { report, embedding, diarisation } = await analyseRecording(
        input.source,
        // verification regroups segments against the templates: it needs their statistics
        { ...analysisOptions(input, embedder), diarise: { pieces: true } },
      );
      try {
        if (!report.enoughSpeech || !embedding)
          throw new VaultError("NO_SPEECH", "not enough speech to verify");
        const threshold = deps.abstraction.verificationThreshold ?? embedder.calibration?.threshold;
        if (threshold === undefined) {
          throw new VaultError(
            "MODEL_INVALID",
            "the embedder has no calibrated threshold: set abstraction.verificationThreshold",
          );
        }
        return await deps.meta.write(async (trx) => {
          const tk = await templateKey(trx, deps.tree, subject.tenant, VAULT_APPLICATION);
          const protector = createTemplateProtector(tk.key, { profile: embedder.profile });
          wipe(tk.key);
          try {
            const voices = await voiceTemplates(trx, deps, subject, embedder.id, tk.version);
            if (voices.subject.length === 0) {
              throw new VaultError(
                "NO_TEMPLATE",
                "the subject has no enrolled speaker template under the current key and embedder",
              );
            }
            // Mean of the best three: robust to one poor enrolment, and equal to the single
            // comparison the threshold was calibrated on when only one template exists.
            const whole = scoreAgainst(protector, voices.subject, embedding)!;
            const per = diarisation
              ? verifyVoices({
                  diarisation,
                  protector,
                  subject: voices.subject,
                  staff: voices.staff,
                  threshold,
                })
              : undefined;
            // one voice: the whole recording's embedding, as calibrated; several: the best
            // non-staff voice's, scored on all of its speech
            const voicesFound = per ? per.speakers.filter((v) => v.score !== null).length : 0;
            const score = voicesFound >= 2 ? (per?.score ?? whole) : whole;
            const match = score >= threshold;
            await recordEvent(trx, deps.actor, {
              type: "speaker.verified",
              subjectId: subject.id,
              match,
              templates: voices.subject.length,
            });
            return {
              score,
              threshold,
              match,
              templates: voices.subject.length,
              // voice details for an interview (several voices, or a suspected proxy); a recording
              // of one voice answers as before
              ...(per && (voicesFound >= 2 || per.proxySuspected)
                ? {
                    speakers: per.speakers,
                    segments: per.segments,
                    proxySuspected: per.proxySuspected,
                    proxyTurns: per.proxySuspected ? per.proxyTurns : [],
                  }
                : {}),
            };
          } finally {
            protector.dispose();
          }
        });
      } finally {
        embedding?.fill(0);
        diarisation?.wipe();
      }
    },

    async recordings(subjectId: string): Promise<
      {
        id: string;
        createdAt: string;
        durationSec: number;
        format: AudioInfo | Record<string, unknown>;
        metadata?: RecordingMetadata;
      }[]
    > {
      const subject = await loadSubject(deps.meta.db, subjectId);
      requireNotShredded(subject);
      const rows = await deps.meta.db
        .selectFrom("recordings")
        .selectAll()
        .where("subject_id", "=", subject.id)
        .orderBy("created_at")
        .orderBy("id")
        .execute();
      return rows.map((r) => ({
        id: r.id,
        createdAt: r.created_at,
        durationSec: r.duration_ms / 1000,
        format: JSON.parse(r.source) as Record<string, unknown>,
        ...(r.metadata !== null ? { metadata: decodeMetadata(r.metadata)! } : {}),
      }));
    },

    async derivations(filter: {
      recordingId?: string;
      subjectId?: string;
      name?: DerivationName;
    }): Promise<DerivationInfo[]> {
      const db = deps.meta.db;
      let q = db.selectFrom("derivations").selectAll().orderBy("created_at").orderBy("id");
      if (filter.recordingId !== undefined) {
        const recordingId = parseId("rec", filter.recordingId, "recording id");
        const rec = await db
          .selectFrom("recordings")
          .select("subject_id")
          .where("id", "=", recordingId)
          .executeTakeFirst();
        if (rec) requireNotShredded(await loadSubject(db, rec.subject_id));
        q = q.where("recording_id", "=", recordingId);
      }
      if (filter.subjectId !== undefined) {
        const subject = await loadSubject(db, filter.subjectId);
        requireNotShredded(subject);
        q = q.where("subject_id", "=", subject.id);
      }
      // Unfiltered listings leave shredded subjects out (their rows wait for `sweep`).
      q = q.where(
        "subject_id",
        "not in",
        db.selectFrom("subjects").select("id").where("status", "=", "shredded"),
      );
      if (filter.name !== undefined) q = q.where("name", "=", filter.name);
      return (await q.execute()).map(toDerivationInfo);
    },
  };
}

export type IngestService = ReturnType<typeof createIngestService>;

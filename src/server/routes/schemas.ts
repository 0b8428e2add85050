/** Request and response schemas shared by routes (JSON Schema via TypeBox; responses are allow-lists). */
import { Type } from "typebox";

export const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9a-hjkmnp-tv-z]{26}$` });
export const SubjectIdParams = Type.Object({ id: Id("sub") }, { additionalProperties: false });
export const PurposeQuery = Type.Object(
  { purpose: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" })) },
  { additionalProperties: false },
);
export const NoQuery = Type.Object({}, { additionalProperties: false });
export const NoParams = Type.Object({}, { additionalProperties: false });
export const NoBody = Type.Object({}, { additionalProperties: false });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const LiveSubject = Type.Object(
  {
    id: Type.String(),
    tenant: Type.String(),
    status: Type.Union([Type.Literal("active"), Type.Literal("shred_pending")]),
    role: Type.Union([Type.Literal("contractor"), Type.Literal("staff")]),
    createdAt: Type.String(),
    shredAfter: Nullable(Type.String()),
    shreddedAt: Type.Null(),
    blobCount: Type.Integer(),
    blobBytes: Type.Integer(),
  },
  { additionalProperties: false },
);
/** A shredded subject is a tombstone: that it is gone, since when, and its certificate. */
export const ShreddedSubject = Type.Object(
  {
    id: Type.String(),
    status: Type.Literal("shredded"),
    shreddedAt: Type.String(),
    certificateId: Nullable(Type.String()),
  },
  { additionalProperties: false },
);
export const Subject = Type.Union([LiveSubject, ShreddedSubject]);

export const Recipe = Type.Object(
  { name: Type.String(), version: Type.Integer(), params: Type.Record(Type.String(), Type.Unknown()) },
  { additionalProperties: false },
);

export const Derivation = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    class: Type.String(),
    recipe: Recipe,
    application: Nullable(Type.String()),
    expiresAt: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

/** What the platform says about a recording (src/ingest/metadata.ts checks the values again). */
export const RecordingMetadata = Type.Object(
  {
    externalId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    kind: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    recordedAt: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
  },
  { additionalProperties: false },
);

export const Recording = Type.Object(
  {
    id: Type.String(),
    subjectId: Type.String(),
    format: Type.Object(
      {
        container: Type.String(),
        codec: Type.String(),
        sampleRate: Type.Integer(),
        channels: Type.Integer(),
      },
      { additionalProperties: false },
    ),
    durationSec: Type.Number(),
    speechSec: Type.Number(),
    derivations: Type.Array(Derivation),
    metadata: Type.Optional(RecordingMetadata),
  },
  { additionalProperties: false },
);

export const RecordingSummary = Type.Object(
  {
    id: Type.String(),
    createdAt: Type.String(),
    durationSec: Type.Number(),
    metadata: Type.Optional(RecordingMetadata),
  },
  { additionalProperties: false },
);

export const Consent = Type.Object(
  {
    purpose: Type.String(),
    active: Type.Boolean(),
    consentId: Nullable(Type.String()),
    textHash: Nullable(Type.String()),
    grantedAt: Nullable(Type.String()),
    revokedAt: Nullable(Type.String()),
    endedBy: Nullable(Type.Union([Type.Literal("revoked"), Type.Literal("superseded")])),
    textVersion: Nullable(Type.Integer()),
    currentVersion: Nullable(Type.Integer()),
  },
  { additionalProperties: false },
);

export const ConsentBody = Type.Object(
  { textHash: Type.String({ pattern: "^[0-9a-f]{64}$" }) },
  { additionalProperties: false },
);

export const Certificate = Type.Record(Type.String(), Type.Unknown());

export const ShredResult = Type.Object(
  {
    status: Type.String(),
    shredAfter: Type.Optional(Type.String()),
    certificate: Type.Optional(Certificate),
    receipt: Type.Optional(
      Type.String({ description: "contractors: fetches the certificate after the shred (shown once)" }),
    ),
  },
  { additionalProperties: false },
);

export const TokenInfo = Type.Object(
  {
    id: Type.String(),
    principalId: Type.String(),
    label: Type.String(),
    role: Type.String(),
    kind: Type.String(),
    purposes: Type.Array(Type.String()),
    subjectId: Nullable(Type.String()),
    createdAt: Type.String(),
    expiresAt: Type.String(),
    revokedAt: Nullable(Type.String()),
    lastUsedAt: Nullable(Type.String()),
    useCount: Type.Integer(),
  },
  { additionalProperties: false },
);

export const BreakglassRequest = Type.Object(
  {
    id: Type.String(),
    requesterId: Type.String(),
    subjectId: Type.String(),
    material: Type.String(),
    reason: Type.String(),
    requiredApprovals: Type.Integer(),
    approvals: Type.Array(Type.String()),
    status: Type.String(),
    createdAt: Type.String(),
    grantedUntil: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

export const VerifyResult = Type.Object(
  {
    match: Type.Boolean(),
    threshold: Type.Number(),
    score: Type.Optional(Type.Number()),
    // an interview with several voices: who spoke when, each voice's verdict, a suspected proxy
    proxySuspected: Type.Optional(Type.Boolean()),
    proxyTurns: Type.Optional(
      Type.Array(Type.Object({ start: Type.Number(), end: Type.Number() }, { additionalProperties: false })),
    ),
    speakers: Type.Optional(
      Type.Array(
        Type.Object(
          {
            speakingSec: Type.Number(),
            match: Type.Boolean(),
            staff: Type.Boolean(),
            score: Type.Optional(Nullable(Type.Number())),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    segments: Type.Optional(
      Type.Array(
        Type.Object(
          { start: Type.Number(), end: Type.Number(), speaker: Type.Integer() },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);

/**
 * Every string the portal shows, in one table keyed by id, so a translation is one more table of
 * the same keys (the type makes a missing key a compile error). `{name}` marks a parameter.
 */
export const EN = {
  title: "Your voice data",
  loading: "Loading…",
  "signin.heading": "Sign in",
  "signin.howto": "Open the enrolment link the platform sent you, or sign in with the passkey you created.",
  "signin.expired": "This link has expired or was already used. Ask the platform for a new one.",
  "signin.failed": "Signing in failed: {message}",
  "signin.passkey": "Sign in with a passkey",
  "signin.passkeyFailed":
    "Signing in with a passkey did not work. Try again, or ask the platform for a new link.",
  "nav.passkey": "Passkey",
  "passkey.heading": "Your passkey",
  "passkey.why":
    "Create a passkey to come back without a link. It stays on your device, protected by your screen lock or fingerprint.",
  "passkey.create": "Create a passkey",
  "passkey.created": "Your passkey is ready. Next time, sign in with it.",
  "passkey.cancelled": "No passkey was created.",
  "passkey.unsupported": "This browser cannot create passkeys.",
  "passkey.have": "You sign in with a passkey created on {date}.",
  "passkey.operators":
    "Since you have a passkey, nobody at the platform can sign in as you. If you lose it, the platform can remove it, and you will see that in your activity.",
  "nav.consent": "Consent",
  "nav.data": "What is kept",
  "nav.erase": "Erase my data",
  "consent.heading": "Consent, purpose by purpose",
  "consent.intro":
    "Each purpose below uses only what it says. Nothing is used for a purpose you have not agreed to, and withdrawing takes effect at once.",
  "consent.none": "No purpose asks for your consent at the moment.",
  "consent.notext":
    "The platform has not published the text for this purpose yet, so you cannot agree to it.",
  "consent.state.active": "You agreed on {date}.",
  "consent.state.revoked": "You withdrew on {date}.",
  "consent.state.superseded": "The text changed after you agreed. Please read it again.",
  "consent.state.never": "You have not agreed.",
  "consent.version": "Text version {version}",
  "consent.language": "Language",
  "consent.agree": "I agree",
  "consent.withdraw": "Withdraw",
  "consent.agreed": "Consent recorded for {purpose}.",
  "consent.withdrawn": "Consent withdrawn for {purpose}.",
  "consent.changed": "The text changed while you were reading. The new text is shown now.",
  "data.heading": "What is kept of your voice",
  "data.recordings": "Recordings received: {count}",
  "data.none": "Nothing is kept of your voice yet.",
  "data.reconstructable": "Could be turned back into sound: yes. Kept encrypted and only for a limited time.",
  "data.notReconstructable": "Could be turned back into your voice: no.",
  "data.expires": "Deleted automatically on {date}.",
  "data.kind.quality": "Recording quality: length, loudness, noise and clipping. No voice in it.",
  "data.kind.voice-stats":
    "Voice statistics: pitch range, speaking rate and similar averages over a whole recording.",
  "data.kind.speaker-template":
    "A protected voiceprint, used to check that a later recording is you. It is locked with a key, so it cannot be compared elsewhere.",
  "data.kind.speakers": "Who spoke when in a recording with several voices: times and match scores only.",
  "data.kind.frames": "Short-time sound features for speech-recognition training.",
  "data.kind.raw": "The recording itself.",
  "data.kind.other": "A derived measurement ({name}).",
  "nav.activity": "Who used it",
  "activity.heading": "Who used your voice data",
  "activity.verified":
    "{count} entries about you, each checked in this browser against the signed log (checkpoint of {size} entries).",
  "activity.witnesses": "Independent witnesses that confirmed this log: {count}.",
  "activity.consistent": "The log only grew since your last visit: nothing was removed or changed.",
  "activity.failed":
    "The check of your activity log FAILED: {reason}. The list is not shown because it cannot be trusted. Please tell the platform and keep this page.",
  "activity.by": "by {who}",
  "nav.upload": "Add a recording",
  "upload.heading": "Add a recording",
  "upload.intro":
    "Send a recording you already have (an interview, a voice note). The vault keeps only what the purposes you agreed to need, and you see it above.",
  "upload.label": "Recording file",
  "upload.button": "Upload",
  "upload.progress": "{percent}% sent",
  "upload.done": "The recording was received and processed.",
  "upload.failed": "The recording could not be used ({code}).",
  "erase.heading": "Erase my data",
  "erase.intro":
    "Erasing destroys the keys that lock everything kept of your voice, so nothing of it can be read again, not even from backups. You get a receipt to fetch the signed deletion certificate.",
  "erase.button": "Erase all my voice data",
  "erase.confirm.title": "Erase everything?",
  "erase.confirm.body": "This cannot be undone once it has run.",
  "erase.confirm.yes": "Yes, erase",
  "erase.confirm.no": "Keep my data",
  "erase.scheduled": "Your data will be erased on {date}. Until then you can cancel.",
  "erase.done": "Your data has been erased.",
  "erase.cancel": "Cancel the erasure",
  "erase.cancelled": "The erasure is cancelled. Your data is kept.",
  "erase.receipt":
    "Your receipt. Save it: it is shown only once, and it is how you fetch the deletion certificate after the erasure.",
  "erase.saveReceipt": "Save the receipt",
  "erase.saveCertificate": "Save the deletion certificate",
  "receipt.heading": "Already asked for erasure?",
  "receipt.label": "Your deletion receipt",
  "receipt.check": "Check",
  "receipt.unknown": "That receipt is not known.",
  "receipt.scheduled": "The erasure is scheduled for {date}.",
  "receipt.cancelled": "The erasure was cancelled; the data is kept.",
  "receipt.shredded": "The data was erased on {date}.",
  "error.generic": "Something went wrong ({code}). Please try again.",
  "error.session": "Your session has ended. Open your enrolment link again.",
} as const;

export type MessageId = keyof typeof EN;

export function t(id: MessageId, params: Readonly<Record<string, string | number>> = {}): string {
  return EN[id].replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? `{${k}}`));
}

/** A date as the reader's locale writes it (no time: the day is what matters here). */
export function day(iso: string): string {
  return new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric" });
}

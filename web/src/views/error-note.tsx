/** Failures to show: the problem's `detail` (hub.ts `describe`), and a 422's errors next to the fields they name. */
import { AgentHubError } from "agenthub/client";
import { useState } from "preact/hooks";
import { describe, fieldMessage, inWords } from "../hub.js";

export function ErrorNote({ error }: { error: string | undefined }) {
  return error ? (
    <p role="alert" class="error">
      {error}
    </p>
  ) : null;
}

/** A refusal split into the messages of the fields a form shows (by `errors[].field`) and the rest, in words. */
export interface FormErrors {
  fields: Map<string, string>;
  rest: string | undefined;
}

export const noErrors: FormErrors = { fields: new Map(), rest: undefined };

export function formErrors(err: unknown, shown: readonly string[]): FormErrors {
  if (!(err instanceof AgentHubError) || !err.errors?.length) return { fields: new Map(), rest: describe(err) };
  const fields = new Map<string, string>();
  const others: string[] = [];
  for (const e of err.errors) {
    const message = inWords(e.message);
    if (shown.includes(e.field)) fields.set(e.field, fields.has(e.field) ? `${fields.get(e.field)}; ${message}` : message);
    else others.push(fieldMessage(e.field, e.message));
  }
  // Each error once: beside its field, or (for a field the form does not show) here, in words.
  return { fields, rest: others.length ? others.join("; ") : undefined };
}

/** The message for one field, tied to its input by id (`aria-describedby`). */
export function FieldError({ errors, field }: { errors: FormErrors; field: string }) {
  const message = errors.fields.get(field);
  return message ? (
    <span class="error-text field-error" id={fieldErrorId(field)} role="alert">
      {message}
    </span>
  ) : null;
}

export const fieldErrorId = (field: string) => `err-${field.replace(/\W/g, "-")}`;

/** Copies a value shown once (a key, a secret) to the clipboard, and says so. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class="small"
      onClick={async () => {
        await navigator.clipboard?.writeText(text).catch(() => undefined);
        setCopied(true);
      }}
    >
      {copied ? "Copied" : label}
    </button>
  );
}

/** A failure to show: the problem's `detail` (hub.ts `describe`), announced to screen readers. */
export function ErrorNote({ error }: { error: string | undefined }) {
  return error ? (
    <p role="alert" class="error">
      {error}
    </p>
  ) : null;
}

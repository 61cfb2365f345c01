/**
 * Light or dark: the browser's preference (prefers-color-scheme) until the person chooses with the
 * toggle; the choice is remembered (localStorage) and set as `data-theme` on <html>, which the
 * stylesheet's colour variables follow.
 */
import { useEffect, useState } from "preact/hooks";

type Choice = "light" | "dark";
const KEY = "agenthub.theme";
const prefersDark = () => matchMedia("(prefers-color-scheme: dark)").matches;

function saved(): Choice | undefined {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Applies the remembered choice (call once, before the first render, so nothing flashes). */
export function applySavedTheme(): void {
  const choice = saved();
  if (choice) document.documentElement.dataset.theme = choice;
}

export function ThemeToggle() {
  const [dark, setDark] = useState(() => (saved() ?? (prefersDark() ? "dark" : "light")) === "dark");
  useEffect(() => {
    // Following the browser while nothing was chosen.
    const media = matchMedia("(prefers-color-scheme: dark)");
    const follow = () => saved() === undefined && setDark(media.matches);
    media.addEventListener("change", follow);
    return () => media.removeEventListener("change", follow);
  }, []);
  return (
    <button
      type="button"
      class="theme-toggle"
      aria-pressed={dark}
      title={dark ? "Switch to the light theme" : "Switch to the dark theme"}
      onClick={() => {
        const next: Choice = dark ? "light" : "dark";
        try {
          localStorage.setItem(KEY, next);
        } catch {
          // Private mode without storage: the choice lasts for this page.
        }
        document.documentElement.dataset.theme = next;
        setDark(!dark);
      }}
    >
      Dark mode
    </button>
  );
}

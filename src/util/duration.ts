// Durations as operators write them: "90" (seconds), "30s", "15m", "12h", "14d".
// Used by configuration and by CLI flags such as `--overlap 24h`.
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const DURATION = /^(\d{1,9})\s*(s|m|h|d)?$/;

/** Parses a duration into whole seconds, or returns null when the text is not one. */
export function parseDurationSeconds(text: string): number | null {
  const match = DURATION.exec(text.trim());
  if (!match) return null;
  const unit = (match[2] ?? 's') as keyof typeof UNIT_SECONDS;
  return Number(match[1]) * UNIT_SECONDS[unit];
}

/** Renders seconds back in the largest whole unit ("900" -> "15m"). */
export function formatDurationSeconds(seconds: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    if (seconds >= UNIT_SECONDS[unit] && seconds % UNIT_SECONDS[unit] === 0) {
      return `${seconds / UNIT_SECONDS[unit]}${unit}`;
    }
  }
  return `${seconds}s`;
}

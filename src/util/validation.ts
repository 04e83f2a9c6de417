// Turning zod errors into lines a person can act on, each naming the field it is about:
// `redirect_uris[0]: must be an absolute URL`. Shared by the registry, the admin CLI and the seed.
import type { z } from 'zod';

type PathSegment = PropertyKey;

/** `['apis', 0, 'scopes', 1]` -> `apis[0].scopes[1]`; the empty path is the input itself. */
function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${String(segment)}` : String(segment);
  }
  return out || '(input)';
}

/** One line per problem. Unknown fields are reported one by one, under their own name. */
export function formatZodIssues(error: z.ZodError): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...issue.path, key])}: is not a recognised field`);
      continue;
    }
    lines.push(`${formatPath(issue.path)}: ${issue.message}`);
  }
  return lines;
}

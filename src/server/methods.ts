/**
 * Which methods a path has, so a known path asked with another method answers 405 with `Allow`
 * rather than 404. Patterns are the routes' own URLs (`:param` matches one path segment).
 */
export interface MethodRoute {
  readonly method: string;
  readonly url: string;
  /** HEAD is offered too (public GET routes only: they have no side effects to repeat). */
  readonly head?: boolean;
}

export function methodIndex(routes: readonly MethodRoute[]): (path: string) => string[] {
  const patterns = routes.map((r) => ({
    methods: r.head ? [r.method, "HEAD"] : [r.method],
    re: new RegExp(
      `^${r.url
        .split("/")
        .map((s) => (s.startsWith(":") ? "[^/]+" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
        .join("/")}$`,
    ),
  }));
  return (path) => {
    const allowed = new Set<string>();
    for (const p of patterns) if (p.re.test(path)) for (const m of p.methods) allowed.add(m);
    return [...allowed].sort();
  };
}

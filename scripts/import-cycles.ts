// Import cycles among the modules of src/engine, kernels and src/app (and anything else under the
// roots given): every file is parsed with the TypeScript compiler, its relative imports resolved
// to files, and the strongly connected components of that graph with more than one file (or a
// file importing itself) are reported, each with one shortest cycle spelled out edge by edge.
//
// What counts as an import: `import … from`, side-effect `import '…'`, `export … from`, and
// dynamic `import('…')` (a lazy edge still makes the two modules depend on each other). What does
// not: `import type` / `export type`, and declarations whose every named binding is marked
// `type` — these are erased before anything runs, so they cannot create a load-order cycle.
// Bare specifiers (packages) are not followed.
//
//   npx tsx scripts/import-cycles.ts [root ...]     (default: src/engine kernels src/app)
// exits 1 and prints each cycle when there is one. test/unit/import-cycles.test.ts runs it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_ROOTS = ['src/engine', 'kernels', 'src/app'];

const SOURCE = /\.(ts|tsx|mts)$/;
const EXTENSIONS = ['.ts', '.tsx', '.mts', '.d.ts'];

export interface ImportEdge {
  /** Repo-relative path of the imported file. */
  to: string;
  /** The specifier as written, and the 1-based line, for the report. */
  specifier: string;
  line: number;
}

export interface ImportCycle {
  /** Every file of the strongly connected component, sorted. */
  files: string[];
  /** One shortest cycle through the component: files[0] → … → files[0], with the import lines. */
  path: ImportStep[];
  /** Every import between two files of the component: breaking the cycle means removing some of these. */
  edges: ImportStep[];
}

export interface ImportStep {
  from: string;
  to: string;
  specifier: string;
  line: number;
}

function listSources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listSources(path));
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The file a relative specifier names, as a bundler would resolve it (extensionless, index, .js → .ts). */
function resolveRelative(fromFile: string, specifier: string): string | null {
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base, ...EXTENSIONS.map((e) => base + e), ...EXTENSIONS.map((e) => join(base, 'index' + e))];
  if (/\.(m?js|jsx)$/.test(specifier)) {
    const stem = base.replace(/\.(m?js|jsx)$/, '');
    candidates.push(...EXTENSIONS.map((e) => stem + e));
  }
  for (const c of candidates) if (existsSync(c) && statSync(c).isFile()) return c;
  return null;
}

/** Runtime import specifiers of one source file, with their lines. */
export function runtimeImports(fileName: string, text: string): Array<{ specifier: string; line: number }> {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, fileName.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const found: Array<{ specifier: string; line: number }> = [];
  const add = (node: ts.Node, spec: ts.Expression | undefined) => {
    if (spec && ts.isStringLiteralLike(spec)) found.push({ specifier: spec.text, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) add(node, node.moduleSpecifier);
      return;
    }
    if (ts.isExportDeclaration(node)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) add(node, node.moduleSpecifier);
      return;
    }
    if (ts.isImportEqualsDeclaration(node)) {
      if (!node.isTypeOnly && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression);
      return;
    }
    // import('…') as an expression; `typeof import('…')` in a type position is an ImportTypeNode, not this.
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0]);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** The import graph of every source file under `roots` (repo-relative paths), edges kept inside those roots. */
export function importGraph(roots: readonly string[] = DEFAULT_ROOTS, repoRoot = REPO_ROOT): Map<string, ImportEdge[]> {
  const files = roots.flatMap((r) => listSources(resolve(repoRoot, r)));
  const inside = new Set(files);
  const graph = new Map<string, ImportEdge[]>();
  for (const file of files) {
    const edges: ImportEdge[] = [];
    for (const { specifier, line } of runtimeImports(file, readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = resolveRelative(file, specifier);
      if (target && inside.has(target)) edges.push({ to: relative(repoRoot, target), specifier, line });
    }
    graph.set(relative(repoRoot, file), edges);
  }
  return graph;
}

/** Tarjan's strongly connected components (iterative, so deep graphs cannot overflow the stack). */
function stronglyConnected(graph: Map<string, ImportEdge[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  for (const start of [...graph.keys()].sort()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; edge: number }> = [{ node: start, edge: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = graph.get(frame.node) ?? [];
      if (frame.edge < edges.length) {
        const to = edges[frame.edge++]!.to;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          component.push(n);
        } while (n !== frame.node);
        components.push(component.sort());
      }
    }
  }
  return components;
}

/** A shortest cycle from `start` back to itself, staying inside `members` (breadth-first). */
function shortestCycle(graph: Map<string, ImportEdge[]>, start: string, members: Set<string>): ImportStep[] {
  const prev = new Map<string, { from: string; edge: ImportEdge }>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!;
    for (const edge of graph.get(node) ?? []) {
      if (!members.has(edge.to)) continue;
      if (edge.to === start) {
        const path: ImportStep[] = [{ from: node, to: start, specifier: edge.specifier, line: edge.line }];
        for (let at = node; at !== start; ) {
          const p = prev.get(at)!;
          path.unshift({ from: p.from, to: at, specifier: p.edge.specifier, line: p.edge.line });
          at = p.from;
        }
        return path;
      }
      if (!prev.has(edge.to)) {
        prev.set(edge.to, { from: node, edge });
        queue.push(edge.to);
      }
    }
  }
  return [];
}

/** Every import cycle under `roots`: one entry per strongly connected component. */
export function findImportCycles(roots: readonly string[] = DEFAULT_ROOTS, repoRoot = REPO_ROOT): ImportCycle[] {
  const graph = importGraph(roots, repoRoot);
  return stronglyConnected(graph)
    .filter((c) => c.length > 1 || (graph.get(c[0]!) ?? []).some((e) => e.to === c[0]))
    .map((files) => {
      const members = new Set(files);
      const edges = files.flatMap((from) =>
        (graph.get(from) ?? []).filter((e) => members.has(e.to)).map((e) => ({ from, to: e.to, specifier: e.specifier, line: e.line })),
      );
      return { files, path: shortestCycle(graph, files[0]!, members), edges };
    })
    .sort((a, b) => a.files[0]!.localeCompare(b.files[0]!));
}

/** The cycles as text, one block each: the files, one loop import by import, every import among them. */
export function formatCycles(cycles: readonly ImportCycle[]): string {
  const step = (s: ImportStep) => `    ${s.from}:${s.line} imports '${s.specifier}' → ${s.to}`;
  return cycles
    .map((c, i) =>
      [
        `cycle ${i + 1}: ${c.files.length} file(s) import each other: ${c.files.join(', ')}`,
        '  a shortest loop:',
        ...c.path.map(step),
        `  all ${c.edges.length} imports among them:`,
        ...c.edges.map(step),
      ].join('\n'),
    )
    .join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const roots = process.argv.slice(2);
  const cycles = findImportCycles(roots.length > 0 ? roots : DEFAULT_ROOTS);
  if (cycles.length === 0) {
    console.log(`no import cycles under ${(roots.length > 0 ? roots : DEFAULT_ROOTS).join(', ')}`);
  } else {
    console.log(formatCycles(cycles));
    process.exitCode = 1;
  }
}

// No import cycles among the modules of src/engine, kernels and src/app (scripts/import-cycles.ts
// walks the imports; `import type` is ignored since it is erased before anything runs).
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_ROOTS, findImportCycles, formatCycles } from '../../scripts/import-cycles';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'weblora-cycles-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('import cycles', () => {
  it(`none under ${DEFAULT_ROOTS.join(', ')}`, () => {
    // Each cycle is printed with its files and one loop spelled out import by import.
    expect(formatCycles(findImportCycles())).toBe('');
  });

  it('the checker finds a cycle through index files and re-exports, and ignores type-only imports', () => {
    const root = tree({
      'a/index.ts': "export { b } from './b';\n",
      'a/b.ts': "import { c } from '../c/c.js';\nexport const b = c;\n",
      'c/c.ts': "import { type B } from '../a';\nimport '../a';\nexport const c = 1;\n",
      'c/d.ts': "import type { B } from '../a';\nimport { type C } from './c';\nexport type D = B | C;\n",
    });
    const cycles = findImportCycles(['a', 'c'], root);
    expect(cycles.map((c) => c.files)).toEqual([['a/b.ts', 'a/index.ts', 'c/c.ts']]);
    expect(formatCycles(cycles)).toContain("c/c.ts:2 imports '../a' → a/index.ts");
    expect(cycles[0]!.path.map((s) => s.from)).toEqual(['a/b.ts', 'c/c.ts', 'a/index.ts']);
  });
});

// `npm run kernels:dump [folder]`: writes every shader variant's complete WGSL, as the GPU
// compiles it, to <folder>/<variant>.wgsl (default kernels/dump/, git-ignored) — to read the
// kernels whole, and to diff them across a change.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shaderSource } from './program';
import { allPrograms } from './variants';

const dir = process.argv[2] ?? join(import.meta.dirname, 'dump');
mkdirSync(dir, { recursive: true });
const programs = allPrograms();
for (const p of programs) writeFileSync(join(dir, `${p.name}.wgsl`), shaderSource(p));
console.log(`${programs.length} kernels written to ${dir}`);

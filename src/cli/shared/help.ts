// Help text layout: one aligned table per section, so every command's --help reads the same.

/** [flag with its value name, description]; "\n" in the description starts a continuation line. */
export type HelpRow = readonly [string, string];

const FLAG_WIDTH = 24;

export function helpSection(title: string | null, rows: readonly HelpRow[]): string {
  const pad = ' '.repeat(2 + FLAG_WIDTH + 1);
  const body = rows.map(([flag, text]) => {
    const [first, ...rest] = text.split('\n');
    const head = flag.length > FLAG_WIDTH ? `  ${flag}\n${pad}${first}` : `  ${flag.padEnd(FLAG_WIDTH)} ${first}`;
    return [head, ...rest.map((l) => pad + l)].join('\n');
  });
  return [...(title ? [`${title}:`] : []), ...body].join('\n');
}

export const BACKEND_ROW: HelpRow = [
  '--backend B',
  'auto | webgpu | wasm | cpu (default auto: webgpu, else wasm, else cpu).\nWithout a GPU, WEBLORA_SWIFTSHADER=1 runs webgpu on SwiftShader (slow)',
];
export const KERNELS_ROW: HelpRow = [
  '--kernels K',
  'fused | stock (default fused): on webgpu, WebLoRA\'s fused WGSL kernels or stock TF.js ops',
];
export const PRECISION_ROW: HelpRow = [
  '--precision P',
  'fp32 | f16-base | auto (default fp32): the frozen weights in float32, or stored\nas float16 with float32 accumulation (webgpu with shader-f16 and fused\nkernels; half the weight memory); auto takes f16-base only where it runs',
];
export const HELP_ROW: HelpRow = ['-h, --help', 'show this help'];

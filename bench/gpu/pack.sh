#!/usr/bin/env bash
# Builds .gpu-bundle/ (git-ignored): everything bench/gpu/run.sh needs on a bare x86-64 GPU
# machine that has python3 + PyTorch but no Node, no node_modules and no network. Runs HERE,
# where Node and node_modules exist. Only the repo travels there (64 MiB in all, tree included),
# so the bundle must carry Node itself, Dawn (the `webgpu` package), the benchmark as one file,
# and stories260K (../shared does not travel).
#
#   .gpu-bundle/node.xz|node.zst   this machine's Node binary, compressed (+ node.sha256)
#   .gpu-bundle/node_modules.tar.xz webgpu (index.js, package.json, dist/linux-x64 only) and the
#                                   package.json of the TF.js backends (the report's versions)
#   .gpu-bundle/app/               bench.mjs (bench/run.ts bundled by esbuild), table.mjs,
#                                   adapter.mjs, the wasm backend's .wasm files
#   .gpu-bundle/models/stories260K the real model (read by path by the bench)
#   .gpu-bundle/debs/              the Vulkan loader + glvnd/EGL/GLX .debs NVIDIA's ICD needs
#   .gpu-bundle/sources.sha256     every repo file bundled, so run.sh can refuse a stale bundle
#   .gpu-bundle/git.json           commit + dirty at pack time (the bundle has no git there)
set -euo pipefail
cd "$(dirname "$0")/../.."
B=.gpu-bundle
ESBUILD=node_modules/.bin/esbuild
mkdir -p "$B/app" "$B/models" "$B/debs"

# The GPU machine is x86-64 Linux: a Node or dawn.node built for anything else cannot run there.
plat=$(node -p 'process.platform + "-" + process.arch')
[ "$plat" = linux-x64 ] || { echo "pack.sh: Node here is $plat; the GPU machine needs linux-x64" >&2; exit 1; }
[ -x "$ESBUILD" ] || { echo "pack.sh: $ESBUILD missing (npm ci first)" >&2; exit 1; }

# 1. Node (~99 MB raw). Compressing takes a minute, so it is skipped while the binary is unchanged.
node_bin=$(readlink -f "$(command -v node)")
sha=$(sha256sum "$node_bin" | cut -d' ' -f1)
have_node() { [ -f "$B/node.xz" ] || [ -f "$B/node.zst" ]; }
if [ -f "$B/node.sha256" ] && [ "$(cut -d' ' -f1 "$B/node.sha256")" = "$sha" ] && have_node; then
  echo "node: $(node --version) unchanged, keeping the compressed copy"
else
  rm -f "$B/node.xz" "$B/node.zst"
  echo "node: compressing $node_bin ($(node --version)) ..."
  command -v xz >/dev/null && xz -9e -T0 -c "$node_bin" >"$B/node.xz"
  # zstd's long window must be given again to decompress (run.sh does).
  command -v zstd >/dev/null && zstd -19 --long=27 -q -c "$node_bin" >"$B/node.zst"
  have_node || { echo "pack.sh: neither xz nor zstd found" >&2; exit 1; }
  if [ -f "$B/node.xz" ] && [ -f "$B/node.zst" ]; then   # keep the smaller
    if [ "$(stat -c %s "$B/node.xz")" -le "$(stat -c %s "$B/node.zst")" ]; then rm "$B/node.zst"; else rm "$B/node.xz"; fi
  fi
  echo "$sha  node" >"$B/node.sha256"
fi

# 2. webgpu reduced to linux-x64: its index.js loads only node builtins and dist/<platform>-<arch>/dawn.node.
tar -C node_modules -cf - webgpu/index.js webgpu/package.json webgpu/dist/linux-x64 \
    @tensorflow/tfjs-backend-webgpu/package.json @tensorflow/tfjs-backend-wasm/package.json \
  | xz -9 -T0 >"$B/node_modules.tar.xz"

# 3. The benchmark as one ESM file. CommonJS parts of TF.js call require/__dirname, which ESM lacks:
# the banner defines them (the wasm backend then finds its .wasm files beside bench.mjs).
# webgpu stays external (a native addon); bench/browser/run (vite, playwright) is left out, so
# --browser does not work from the bundle.
banner='import { createRequire as __wlReq } from "node:module"; import { fileURLToPath as __wlPath } from "node:url"; import { dirname as __wlDir } from "node:path"; const require = __wlReq(import.meta.url); const __filename = __wlPath(import.meta.url); const __dirname = __wlDir(__filename);'
bundle() { # bundle ENTRY OUTFILE
  "$ESBUILD" "$1" --bundle --platform=node --format=esm --target=node20 --log-level=warning \
    --external:webgpu --external:./browser/run "--banner:js=$banner" \
    --outfile="$2" --metafile="$2.meta.json"
}
bundle bench/run.ts "$B/app/bench.mjs"
bundle bench/gpu/table.ts "$B/app/table.mjs"
cp bench/gpu/adapter.mjs "$B/app/"
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$B/app/"
# Every repo file that went into the bundles (not node_modules), hashed: run.sh compares them with
# the tree it runs in and refuses a bundle older than the code (kernels/ changes often).
node -e '
  const fs = require("fs"); const files = new Set();
  for (const m of process.argv.slice(1)) for (const f of Object.keys(JSON.parse(fs.readFileSync(m, "utf8")).inputs)) if (!f.startsWith("node_modules/")) files.add(f);
  console.log([...files].sort().join("\n"));' "$B"/app/*.meta.json | xargs sha256sum >"$B/sources.sha256"
rm "$B"/app/*.meta.json

# 4. stories260K: bench/lib/node.ts reads it by path (../shared beside the repo), which does not travel.
rm -rf "$B/models/stories260K"
cp -r ../shared/models/stories260K "$B/models/stories260K"

# 4b. The GPU job check (run.sh PHASES=job): a WebLoRA run on cpu (its train_log.json is the
# reference; wasm: the cpu losses within 1e-5, faster) and the same run exported as a job, whose train.py the GPU machine runs.
JOB_FLAGS=(--model ../shared/models/stories260K --data ../shared/data/story-instruct/train.jsonl --max-len 96 --val-fraction 0.05
  --max-steps 20 --batch 4 --grad-accum 2 --lr 3e-3 --warmup 2 --rank 4 --alpha 8 --targets all-linear --eval-every 10)
rm -rf "$B/job-check"
npx tsx src/cli/main.ts train "${JOB_FLAGS[@]}" --backend wasm --out "$B/job-check/weblora" >/dev/null
npx tsx src/cli/main.ts export-job "${JOB_FLAGS[@]}" --out "$B/job-check/job" >/dev/null
rm -f "$B/job-check/weblora/adapter_model.safetensors"

# 5. The Vulkan loader and the GL/EGL libraries NVIDIA's ICD loads: on the H200 `libGLX_nvidia.so.0`
# fails vkCreateInstance without the glvnd chain, and Dawn then finds no adapter (measured with only
# libvulkan1). run.sh unpacks them with `dpkg -x`, so no package database is needed there.
LOADER_DEBS=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
missing=()
for p in "${LOADER_DEBS[@]}"; do
  if ls "$B"/debs/"${p}"_*.deb >/dev/null 2>&1; then continue; fi
  if ls .gl/"${p}"_*.deb >/dev/null 2>&1; then cp .gl/"${p}"_*.deb "$B/debs/"; else missing+=("$p"); fi
done
if ((${#missing[@]})); then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  # shellcheck disable=SC2086
  { apt-get $o update -qq && (cd "$B/debs" && apt-get $o download "${missing[@]}"); } \
    || echo "pack.sh: WARNING: could not download ${missing[*]}; run.sh then needs them on the machine" >&2
fi

# 6. What the reports' git field says there (the bundle runs outside any git checkout).
commit=$(git rev-parse HEAD)
dirty=$([ -n "$(git status --porcelain -- . ':!bench/results')" ] && echo true || echo false)
printf '{"commit": "%s", "dirty": %s, "packedAt": "%s", "sources": "%s"}\n' \
  "$commit" "$dirty" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(sha256sum "$B/sources.sha256" | cut -c1-12)" >"$B/git.json"

# 7. Size: the tree and the bundle travel together, 64 MiB at most.
bundle_b=$(du -sb "$B" | cut -f1)
tree_b=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
du -sh "$B"/* | sed 's/^/  /'
awk -v b="$bundle_b" -v t="$tree_b" 'BEGIN { printf "bundle %.1f MiB + tree %.1f MiB = %.1f MiB to travel (limit 64)\n", b/1048576, t/1048576, (b+t)/1048576 }'
[ "$((bundle_b + tree_b))" -lt $((60 * 1048576)) ] || { echo "pack.sh: too big to travel" >&2; exit 1; }
echo "git $(cut -c1-80 "$B/git.json")"

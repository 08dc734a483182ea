#!/usr/bin/env bash
# Runs the benchmark on a bare x86-64 GPU machine (root, python3 + PyTorch, CUDA driver, no Node,
# no network) from the repo root, with .gpu-bundle/ made by bench/gpu/pack.sh. Writes into $OUT
# (default ./bench-gpu-out): run.log, table.txt, results.json (every report) and raw.tar.gz (one
# report per run). Few files on purpose: the GPU tool brings back at most 8.
#
#   PHASES="probe webgpu torch"   which phases (probe: the half-precision self-check and the matmul probe;
#                           webgpu: Node + Dawn, stock and fused kernels; torch: bench/torch_peer.py;
#                           job, opt-in: an exported GPU job's train.py against WebLoRA's losses, needs transformers + peft;
#                           check, opt-in: CHECK_MODELS train 3 fused steps at 2 × 128 — finite, falling loss, flat memory)
#   CHECK_MODELS="gemma3-270m"
#   MODELS="smollm2-135m smollm2-360m qwen2.5-0.5b"   in this order, while the budget lasts (also: gemma3-270m stories260K)
#   WIDE="smollm2-135m@32"  extra fused + torch rows at another batch (model@batch …; empty: none)
#   VARIANTS="stock fused"  PRECISIONS="fp32 f16-base" (fused rows; f16-base needs shader-f16)  TIMESTAMPS=1 (fused rows:
#                           GPU time per kernel family)  STEPS=5 WARMUP=2  SEQ= BATCH= (empty: the bench's 256, 8)  BENCH_ARGS=
#   PROBE_ARGS=             extra flags for the matmul probe (e.g. "--shapes 4096"); PROBE_TIMEOUT_S=200
#   TORCH_STEPS=10 TORCH_WARMUP=3 TORCH_DEVICE=cuda TORCH_ARGS=
#   PEAK_TFLOPS=67 (H100/H200 fp32 without tensor cores)  PEAK_TFLOPS_BF16=989 (dense bf16)
#   BUDGET_S=540 the whole script (the GPU tool kills a command at 600 s); WEBGPU_TIMEOUT_S=180 and
#   TORCH_TIMEOUT_S=150 one run; TORCH_RESERVE_S=100 kept for the torch phase while webgpu runs
#   WEBLORA_DAWN_FEATURES=disable_robustness  extra Dawn toggles for Node (default: robust, as a browser is)
#   ALLOW_SOFTWARE=1 accept a software WebGPU adapter (SwiftShader: only for checking the script)
#   ALLOW_STALE=1 run a bundle older than the tree's sources
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
B=$REPO/.gpu-bundle
WORK=${WORK:-/tmp/weblora-gpu}
OUT=${OUT:-$REPO/bench-gpu-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RAW=$OUT/raw
mkdir -p "$RAW"
export PROBE_TABLE=$RAW/matmul.txt
exec > >(tee -a "$OUT/run.log") 2>&1

PHASES=${PHASES:-probe webgpu torch}
MODELS=${MODELS:-smollm2-135m smollm2-360m qwen2.5-0.5b}
WIDE=${WIDE-smollm2-135m@32}
VARIANTS=${VARIANTS:-stock fused}
PRECISIONS=${PRECISIONS:-fp32 f16-base} TIMESTAMPS=${TIMESTAMPS:-1} PROBE_TIMEOUT_S=${PROBE_TIMEOUT_S:-200}
STEPS=${STEPS:-5} WARMUP=${WARMUP:-2}
TORCH_STEPS=${TORCH_STEPS:-10} TORCH_WARMUP=${TORCH_WARMUP:-3} TORCH_DEVICE=${TORCH_DEVICE:-cuda}
PEAK_TFLOPS=${PEAK_TFLOPS:-67} PEAK_TFLOPS_BF16=${PEAK_TFLOPS_BF16:-989}
BUDGET_S=${BUDGET_S:-540} WEBGPU_TIMEOUT_S=${WEBGPU_TIMEOUT_S:-180} TORCH_TIMEOUT_S=${TORCH_TIMEOUT_S:-150}
TORCH_RESERVE_S=${TORCH_RESERVE_S:-100} MIN_RUN_S=30
read -ra BENCH_EXTRA <<<"${BENCH_ARGS:-}"
read -ra TORCH_EXTRA <<<"${TORCH_ARGS:-}"
read -ra PROBE_EXTRA <<<"${PROBE_ARGS:-}"
SHAPE=()
if [ -n "${SEQ:-}" ]; then SHAPE+=(--seq "$SEQ"); fi
if [ -n "${BATCH:-}" ]; then SHAPE+=(--batch "$BATCH"); fi
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }
die() { echo "run.sh: FAILED: $*" >&2; exit 1; }
echo "== run.sh $(date -u +%FT%TZ) on $(hostname): PHASES='$PHASES' MODELS='$MODELS' WIDE='$WIDE' VARIANTS='$VARIANTS' PRECISIONS='$PRECISIONS' steps $WARMUP+$STEPS shape '${SHAPE[*]:-default}' budget ${BUDGET_S}s"

[ -f "$B/git.json" ] || die "$B missing: run bench/gpu/pack.sh where Node is, and carry .gpu-bundle"
# The bundle is a build of the sources: a tree edited since pack.sh would be measured with old code.
if ! (cd "$REPO" && sha256sum -c --quiet "$B/sources.sha256"); then
  [ "${ALLOW_STALE:-}" = 1 ] || die "the bundle is older than the sources above: run bench/gpu/pack.sh again (or ALLOW_STALE=1)"
  echo "WARNING: stale bundle accepted (ALLOW_STALE=1)"
fi
echo "bundle: $(cat "$B/git.json")"

# --- Node and the bundle, unpacked under $WORK ---------------------------------------------------
unxz_c() { # xz -dc, or Python's lzma where xz is not installed
  if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}
NODE=$WORK/bin/node
want=$(cut -d' ' -f1 "$B/node.sha256")
if ! { [ -x "$NODE" ] && [ "$(sha256sum "$NODE" | cut -d' ' -f1)" = "$want" ]; }; then
  mkdir -p "$WORK/bin"
  if [ -f "$B/node.xz" ]; then unxz_c "$B/node.xz" >"$NODE.tmp"; else zstd -dc --long=27 "$B/node.zst" >"$NODE.tmp"; fi
  [ "$(sha256sum "$NODE.tmp" | cut -d' ' -f1)" = "$want" ] || die "node binary does not match node.sha256"
  chmod +x "$NODE.tmp" && mv "$NODE.tmp" "$NODE"
fi
echo "node $("$NODE" --version) at $NODE"
# Layout the bundle expects: bench.mjs two folders below a "repo" root (test/helpers/paths.ts's
# REPO_ROOT), stories260K at <root>/../shared/models, and webgpu in <root>/node_modules.
APP=$WORK/repo/bench/gpu
rm -rf "$WORK/repo" && mkdir -p "$APP" "$WORK/repo/node_modules" "$WORK/shared/models"
cp "$B"/app/* "$APP/"
unxz_c "$B/node_modules.tar.xz" | tar -C "$WORK/repo/node_modules" -xf -
ln -sfn "$B/models/stories260K" "$WORK/shared/models/stories260K"

# --- The GPU: driver, Vulkan loader and ICD, WebGPU adapter --------------------------------------
if command -v nvidia-smi >/dev/null; then timeout 30 nvidia-smi || echo "nvidia-smi failed"; else echo "nvidia-smi: not found"; fi
if has_phase webgpu; then
  # Dawn dlopens libvulkan.so.1, and NVIDIA's ICD (libGLX_nvidia.so.0) needs the glvnd chain
  # (libEGL, libGLX, libOpenGL, libGLdispatch…): with the loader alone vkCreateInstance fails and
  # Dawn finds no adapter. Unpack whatever of it the machine lacks (debs from pack.sh or .gl/).
  need=0
  for lib in libvulkan.so.1 libEGL.so.1 libGLX.so.0 libOpenGL.so.0 libGLdispatch.so.0 libGL.so.1 libGLESv2.so.2; do
    ldconfig -p | grep -F "$lib " >/dev/null || { echo "missing $lib"; need=1; }
  done
  if ((need)); then
    for f in "$B"/debs/*.deb .gl/*.deb; do if [ -f "$f" ]; then echo "unpacking $(basename "$f")"; dpkg -x "$f" /; fi; done
    ldconfig
    ldconfig -p | grep 'libvulkan\.so\.1' >/dev/null || die "no Vulkan loader (libvulkan.so.1) and no .deb to install it"
  fi
  # NVIDIA's ICD sits outside the loader's search path on these machines; a caller's choice wins.
  if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
    icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -f "$icd" ] || icd=$(find /usr/share/vulkan /etc/vulkan -name 'nvidia_icd*.json' 2>/dev/null | head -n1 || true)
    if [ -n "$icd" ]; then export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd; else echo "WARNING: no nvidia_icd.json found; Dawn gets the loader's default drivers"; fi
  fi
  echo "Vulkan driver: ${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-loader default}}"
  rc=0; timeout 60 "$NODE" "$APP/adapter.mjs" || rc=$?
  case $rc in
    0) ;;
    3) die "WebGPU adapter is a SOFTWARE one (above): GPU figures would be meaningless (ALLOW_SOFTWARE=1 to run anyway)" ;;
    *) die "no usable WebGPU adapter (adapter.mjs exit $rc)" ;;
  esac
fi

# --- Guarded runs --------------------------------------------------------------------------------
REPORTS=() FAILED=() SKIPPED=()
guard() { # guard NAME JSON LIMIT_S RESERVE_S CMD...: runs CMD under a timeout that fits the budget
  local name=$1 json=$2 limit=$3 reserve=$4 rc=0; shift 4
  local t=$((BUDGET_S - SECONDS - reserve))
  if ((t > limit)); then t=$limit; fi
  if ((t < MIN_RUN_S)); then echo "== $name: SKIPPED (${t}s left of the ${BUDGET_S}s budget)"; SKIPPED+=("$name"); return 0; fi
  echo "== $name (timeout ${t}s, ${SECONDS}s elapsed)"
  timeout -k 10 "$t" "$@" || rc=$?
  if ((rc == 124 || rc == 137)); then echo "== $name: TIMED OUT after ${t}s"; FAILED+=("$name (timeout)")
  elif ((rc != 0)); then echo "== $name: exit $rc"; FAILED+=("$name (exit $rc)"); fi
  if [ -f "$json" ]; then REPORTS+=("$json"); fi
}

# Training rows: each model at the shape above, stock and fused (fused per precision, with the
# tiles tuned first and one step timed per kernel family); then WIDE's extra fused rows.
FUSED_FLAGS=(--tune --precision "$(echo $PRECISIONS | tr ' ' ',')")
if [ "$TIMESTAMPS" = 1 ]; then FUSED_FLAGS+=(--timestamps); fi
webgpu_row() { # webgpu_row MODEL VARIANT TAG SHAPE...
  local m=$1 v=$2 tag=$3; shift 3
  local json=$RAW/webgpu-$m-$v$tag.json extra=()
  # Stock decoding is known (1.6 tokens/s on the H200, 558 dispatches a token): its minutes go to the fused rows.
  if [ "$v" = fused ]; then extra=("${FUSED_FLAGS[@]}"); else extra=(--no-generate); fi
  guard "webgpu $m $v$tag" "$json" "$WEBGPU_TIMEOUT_S" "$reserve" \
    "$NODE" "$APP/bench.mjs" --models "$m" --backends webgpu --variants "$v" "${extra[@]}" --steps "$STEPS" --warmup "$WARMUP" \
    --peak-tflops "$PEAK_TFLOPS" "$@" "${BENCH_EXTRA[@]}" --out "$json"
}

# --- Probe: which half-precision kernel this GPU gets (each checked against float64), then the
# frozen-weight matmul's TFLOP/s per candidate tile, 4096³ and every model's products -----------
if has_phase probe; then
  reserve=0
  if has_phase webgpu || has_phase torch; then reserve=$((TORCH_RESERVE_S + 2 * MIN_RUN_S)); fi
  guard "f16 check" /dev/null 60 "$reserve" "$NODE" "$APP/bench.mjs" --f16-check
  # Its own report format (raw/matmul.json), so not among the training reports; its table is kept
  # for the end of table.txt.
  guard "matmul probe" /dev/null "$PROBE_TIMEOUT_S" "$reserve" bash -c 'set -o pipefail; "$@" | tee "$PROBE_TABLE"' _ \
    "$NODE" "$APP/bench.mjs" --matmul --peak-tflops "$PEAK_TFLOPS" "${PROBE_EXTRA[@]}" --out "$RAW/matmul.json"
fi

# --- Check (opt-in): each of CHECK_MODELS at its exact config trains (bench/train-check.ts) --------
if has_phase check; then
  for m in ${CHECK_MODELS:-gemma3-270m}; do
    # Judged by its verdict line: on SwiftShader Dawn once crashed at process exit (139) after "passed".
    guard "train check $m" /dev/null "$WEBGPU_TIMEOUT_S" 0 bash -c 'set -o pipefail; "$@" | tee "$0"; rc=$?
      if ((rc != 0)) && grep -q "^train-check: passed$" "$0"; then echo "train-check: WARNING: exit $rc after passing (a crash at process exit)"; rc=0; fi
      exit $rc' "$RAW/check-$m.txt" "$NODE" "$APP/bench.mjs" --train-check "$m" --batch 2 --seq 128 --steps 3
  done
fi

if has_phase webgpu; then
  reserve=0
  if has_phase torch; then reserve=$TORCH_RESERVE_S; fi
  for m in $MODELS; do
    for v in $VARIANTS; do webgpu_row "$m" "$v" "" "${SHAPE[@]}"; done
  done
  for w in $WIDE; do webgpu_row "${w%@*}" fused "-b${w#*@}" --no-generate --batch "${w#*@}" ${SEQ:+--seq "$SEQ"}; done
fi

if has_phase torch; then
  if ! torch_info=$(python3 -c 'import torch; print(torch.__version__, "cuda" if torch.cuda.is_available() else "no-cuda")' 2>&1); then
    echo "== torch: SKIPPED: python3 cannot import torch (${torch_info##*$'\n'})"; SKIPPED+=("torch (no torch)")
  elif [ "$TORCH_DEVICE" = cuda ] && [[ $torch_info != *" cuda" ]]; then
    echo "== torch: SKIPPED: torch $torch_info sees no CUDA device"; SKIPPED+=("torch (no CUDA)")
  else
    echo "torch $torch_info"
    export PYTHONUNBUFFERED=1   # its progress lines reach run.log as they happen
    has_transformers=1
    python3 -c 'import transformers' 2>/dev/null || has_transformers=0
    torch_row() { # torch_row MODEL TAG SHAPE...
      local m=$1 tag=$2; shift 2
      # The peer's plain-torch decoder is Llama-family only; Gemma needs transformers' own.
      if [[ $m == gemma3* ]] && ((!has_transformers)); then
        echo "== torch $m: SKIPPED: needs transformers"; SKIPPED+=("torch $m (no transformers)"); return 0
      fi
      local json=$RAW/torch-$m$tag.json
      guard "torch $m$tag" "$json" "$TORCH_TIMEOUT_S" 0 \
        python3 bench/torch_peer.py --models "$m" --steps "$TORCH_STEPS" --warmup "$TORCH_WARMUP" --device "$TORCH_DEVICE" \
        --peak-tflops "$PEAK_TFLOPS" --peak-tflops-bf16 "$PEAK_TFLOPS_BF16" "$@" "${TORCH_EXTRA[@]}" --out "$json"
    }
    for m in $MODELS; do torch_row "$m" "" "${SHAPE[@]}"; done
    for w in $WIDE; do torch_row "${w%@*}" "-b${w#*@}" --no-generate --batch "${w#*@}" ${SEQ:+--seq "$SEQ"}; done
  fi
fi

# --- The exported GPU job (opt-in: PHASES="... job") -----------------------------------------------
# pack.sh's job-check/: train.py of a job exported by weblora export-job, and the same run's
# train_log.json from WebLoRA on cpu. Per-step losses must agree within 1e-3 (src/engine/job).
if has_phase job; then
  J=$B/job-check
  if [ ! -f "$J/job/train.py" ]; then
    echo "== job: SKIPPED: no $J/job (bench/gpu/pack.sh makes it)"; SKIPPED+=("job (not packed)")
  elif ! job_info=$(python3 -c 'import torch, transformers, peft, accelerate; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)' 2>&1); then
    echo "== job: SKIPPED: python3 cannot import torch, transformers, peft and accelerate (${job_info##*$'\n'})"; SKIPPED+=("job (no transformers/peft)")
  else
    echo "== job: $job_info"
    rm -rf "$WORK/job-out"
    if timeout "$TORCH_TIMEOUT_S" python3 "$J/job/train.py" --model "$B/models/stories260K" --out "$WORK/job-out" --attn eager 2>&1 | tail -25 \
      && python3 - "$J/weblora/train_log.json" "$WORK/job-out/train_log.json" <<'PY'
import json, sys
steps = lambda p: [r["loss"] for r in json.load(open(p))["records"] if r["type"] == "step"]
a, b = steps(sys.argv[1]), steps(sys.argv[2])
worst = max((abs(x - y) for x, y in zip(a, b)), default=float("inf"))
print(f"job: {len(b)} of {len(a)} steps, worst |train.py - WebLoRA| step loss {worst:.2e} (limit 1e-3)")
sys.exit(0 if len(a) == len(b) and worst < 1e-3 else 1)
PY
    then echo "== job: ok"; else echo "== job: FAILED"; FAILED+=("job"); fi
  fi
fi

# --- One table over every report -----------------------------------------------------------------
echo
if ((${#REPORTS[@]})); then
  "$NODE" "$APP/table.mjs" --git "$B/git.json" --combined "$OUT/results.json" "${REPORTS[@]}" | tee "$OUT/table.txt"
else
  echo "no reports"
fi
if [ -s "$PROBE_TABLE" ]; then { echo; echo "== matmul probe (raw/matmul.json)"; cat "$PROBE_TABLE"; } | tee -a "$OUT/table.txt"; fi
tar -C "$OUT" -czf "$OUT/raw.tar.gz" raw && rm -rf "$RAW"
echo
echo "== done in ${SECONDS}s: ${#REPORTS[@]} reports in $OUT (results.json, table.txt, run.log, raw.tar.gz)"
if ((${#SKIPPED[@]})); then printf '   skipped: %s\n' "${SKIPPED[@]}"; fi
if ((${#FAILED[@]})); then printf '   FAILED: %s\n' "${FAILED[@]}"; exit 1; fi

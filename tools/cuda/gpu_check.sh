#!/usr/bin/env bash
# The CUDA backend's GPU checks as one prepared script.
#
#   tools/cuda/gpu_check.sh prepare   here (JDK 25 + the offline Maven repository): compiles the tests,
#                                     jlinks a small runtime and packs everything into target/gpu-check/
#                                     (about 50 MB; carry it to the GPU machine)
#   tools/cuda/gpu_check.sh run       on the GPU machine (no Java, no network needed): runs the CUDA and
#                                     conformance tests with that runtime, writes logs under $OUT
#                                     (default target/gpu-check/out)
#
# The GPU machine needs the NVIDIA driver (libcuda.so.1) and NVRTC + cuBLAS (libnvrtc.so*, libcublas.so*:
# a CUDA toolkit, or the nvidia-cuda-nvrtc / nvidia-cublas Python wheels); "run" searches the usual
# places and passes what it finds in JLLM_CUDA_LIBS. Exit status: that of the test run (1 = a test failed).
# With a lent GPU machine: carry target/gpu-check and run "bash tools/cuda/gpu_check.sh run" (a few minutes;
# tests.log lists PASS/FAIL/SKIP per case, the cuda:0 cases being the ones that matter).
# Checked here without a GPU (bundle 54 MB): everything passes or skips, the cuda:0 cases skip.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUNDLE="$ROOT/target/gpu-check"
TESTS=(jllm.backend.cuda.CudaDiscoveryTest jllm.backend.cuda.NativeLibraryTest jllm.backend.cuda.CachingAllocatorTest
       jllm.backend.cuda.LaunchPackingTest jllm.backend.cuda.KernelSourcesTest jllm.backend.cuda.NvrtcCompileTest
       jllm.backend.cuda.CublasBindingTest jllm.backend.cuda.DriverHeaderTest jllm.backend.cuda.KernelSignatureTest
       jllm.backend.cuda.CudaBackendHostSideTest jllm.backend.cuda.BackendConformanceTest jllm.backend.cuda.CudaEmulatedTrainingTest)
JUNIT_JUPITER=5.11.4
JUNIT_PLATFORM=1.11.4

prepare() {
  : "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
  local m2="${MAVEN_REPO:-$HOME/.m2/repository}"
  cd "$ROOT"
  ./mvnw -q -B -o test-compile
  rm -rf "$BUNDLE"
  mkdir -p "$BUNDLE/lib" "$BUNDLE/launcher"
  "$JAVA_HOME/bin/jar" --create --file "$BUNDLE/lib/jllm.jar" -C target/classes .
  "$JAVA_HOME/bin/jar" --create --file "$BUNDLE/lib/jllm-tests.jar" -C target/test-classes .
  local jars=(
    "org/junit/jupiter/junit-jupiter-api/$JUNIT_JUPITER/junit-jupiter-api-$JUNIT_JUPITER.jar"
    "org/junit/jupiter/junit-jupiter-engine/$JUNIT_JUPITER/junit-jupiter-engine-$JUNIT_JUPITER.jar"
    "org/junit/jupiter/junit-jupiter-params/$JUNIT_JUPITER/junit-jupiter-params-$JUNIT_JUPITER.jar"
    "org/junit/platform/junit-platform-commons/$JUNIT_PLATFORM/junit-platform-commons-$JUNIT_PLATFORM.jar"
    "org/junit/platform/junit-platform-engine/$JUNIT_PLATFORM/junit-platform-engine-$JUNIT_PLATFORM.jar"
    "org/junit/platform/junit-platform-launcher/$JUNIT_PLATFORM/junit-platform-launcher-$JUNIT_PLATFORM.jar"
    "org/opentest4j/opentest4j/1.3.0/opentest4j-1.3.0.jar"
    "org/apiguardian/apiguardian-api/1.1.2/apiguardian-api-1.1.2.jar"
    # jllm's own runtime dependencies that the tests reach (GPTConfig reads JSON); the tokenizer natives are left out
    "com/fasterxml/jackson/core/jackson-databind/2.18.2/jackson-databind-2.18.2.jar"
    "com/fasterxml/jackson/core/jackson-core/2.18.2/jackson-core-2.18.2.jar"
    "com/fasterxml/jackson/core/jackson-annotations/2.18.2/jackson-annotations-2.18.2.jar")
  for j in "${jars[@]}"; do cp "$m2/$j" "$BUNDLE/lib/"; done
  "$JAVA_HOME/bin/javac" -d "$BUNDLE/launcher" -cp "$BUNDLE/lib/*" "$ROOT/tools/cuda/GpuCheck.java"
  # java.logging for JUnit; jdk.unsupported for libraries that use sun.misc; nothing of the desktop or the compiler
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,jdk.incubator.vector,jdk.unsupported \
      --output "$BUNDLE/jre" --compress zip-9 --strip-debug --no-header-files --no-man-pages 2>&1 | grep -v "incubator modules" || true
  (cd "$ROOT" && git rev-parse HEAD 2>/dev/null || echo unknown) > "$BUNDLE/commit.txt"
  du -sh "$BUNDLE"
}

cuda_lib_dirs() {
  local dirs=() d
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 /usr/local/cuda-*/targets/x86_64-linux/lib \
           /usr/lib/x86_64-linux-gnu /usr/lib64; do
    [ -d "$d" ] && dirs+=("$d")
  done
  # pip wheels: site-packages/nvidia/{cuda_nvrtc,cublas}/lib
  for d in $(ls -d /usr/lib/python3*/site-packages/nvidia/*/lib /usr/lib/python3/dist-packages/nvidia/*/lib /usr/local/lib/python3*/dist-packages/nvidia/*/lib \
             $HOME/.local/lib/python3*/site-packages/nvidia/*/lib \
             /usr/local/lib/python3*/site-packages/nvidia/*/lib /opt/conda/lib/python3*/site-packages/nvidia/*/lib 2>/dev/null); do
    dirs+=("$d")
  done
  local IFS=:
  echo "${dirs[*]}"
}

run() {
  local out="${OUT:-$BUNDLE/out}"
  mkdir -p "$out"
  [ -x "$BUNDLE/jre/bin/java" ] || { echo "no $BUNDLE/jre: run '$0 prepare' on a machine with a JDK first" >&2; exit 2; }
  {
    echo "commit: $(cat "$BUNDLE/commit.txt")"; date -u
    nvidia-smi 2>&1 || echo "(no nvidia-smi)"
    echo; echo "libraries:"; ldconfig -p 2>/dev/null | grep -E "libcuda\.so|libnvrtc|libcublas" || echo "(none in ld.so.cache)"
  } > "$out/environment.txt" 2>&1
  export JLLM_CUDA_LIBS="${JLLM_CUDA_LIBS:-$(cuda_lib_dirs)}"
  export JLLM_CUDA_CACHE="${JLLM_CUDA_CACHE:-$out/kernel-cache}"
  echo "JLLM_CUDA_LIBS=$JLLM_CUDA_LIBS" >> "$out/environment.txt"
  local rc=0
  timeout "${GPU_CHECK_TIMEOUT:-420}" "$BUNDLE/jre/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx8g \
      -cp "$BUNDLE/launcher:$BUNDLE/lib/*" GpuCheck "${TESTS[@]}" > "$out/tests.log" 2>&1 || rc=$?
  grep -E "^(FAIL|ERROR|SUMMARY)" "$out/tests.log" || true
  echo "cuda cases: $(grep -c '\[2\] cuda:0' "$out/tests.log" || true) lines; skipped: $(grep -c '^SKIP' "$out/tests.log" || true)"
  echo "exit $rc; logs in $out"
  return $rc
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Packs what the GPU check needs on a machine with no Java, no Maven and no network (the `device`
# machine): a jlinked Java 25 runtime, the jar and its libraries (zstd-jni trimmed to linux/amd64 to
# stay under the 64 MiB transfer limit), bin/skiff, and the CUDA test image saved with `skiff save`.
# Output: .gpu/ (ignored by git). Then, on the GPU machine, bench/gpu/check.sh .gpu
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -f target/skiff.jar ] || mvn -B -q -DskipTests package
rm -rf .gpu && mkdir -p .gpu/bin .gpu/target/lib
cp bin/skiff .gpu/bin/ && cp target/skiff.jar .gpu/target/ && cp target/lib/*.jar .gpu/target/lib/
z=$(cd .gpu/target/lib && ls zstd-jni-*.jar)
x=$(mktemp -d) && (cd "$x" && unzip -q "$OLDPWD/.gpu/target/lib/$z" && rm -rf aix darwin freebsd win \
  && find linux -mindepth 1 -maxdepth 1 ! -name amd64 -exec rm -rf {} + && rm "$OLDPWD/.gpu/target/lib/$z" \
  && zip -qr "$OLDPWD/.gpu/target/lib/$z" .) && rm -rf "$x"
"$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.unsupported,jdk.security.auth --strip-debug \
  --no-man-pages --no-header-files --compress=zip-9 --output .gpu/runtime
img=$(mktemp -d) st=$(mktemp -d)
bash bench/gpu/make-image.sh "$img/layout"
bin/skiff --storage "$st" images >/dev/null
skopeo copy --quiet "oci:$img/layout:cuda" "oci:$st/oci:example.org/cuda:1"
bin/skiff --storage "$st" save -o .gpu/cuda.tar example.org/cuda:1
cp bench/gpu/check.sh .gpu/
rm -rf "$img" "$st"
du -sh .gpu

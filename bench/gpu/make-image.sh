#!/usr/bin/env bash
# Builds the small CUDA test image used for the GPU check (README "GPUs"): busybox, the glibc this
# machine has, and saxpy built with nvcc (CUDA runtime linked statically, so the image needs only the
# host driver that `skiff run --gpus` injects). Output: an OCI layout at $1 (tag "cuda").
set -euo pipefail
out=${1:?usage: make-image.sh OUT_LAYOUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,etc,tmp,root,usr/local/bin,lib/x86_64-linux-gnu,lib64}
cp /bin/busybox "$root/bin/"
for c in sh ls cat id echo true env ldd; do ln -s busybox "$root/bin/$c"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
nvcc -O2 -cudart static -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 \
  -o "$root/usr/local/bin/saxpy" "$here/saxpy.cu"
for l in libc.so.6 libm.so.6 libstdc++.so.6 libgcc_s.so.1 libdl.so.2 libpthread.so.0 librt.so.1; do
  cp -L "/lib/x86_64-linux-gnu/$l" "$root/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
rm -rf "$out"
umoci init --layout "$out"
umoci new --image "$out:cuda"
tar --numeric-owner -C "$root" -cf "$work/layer.tar" .
umoci raw add-layer --image "$out:cuda" "$work/layer.tar"
umoci config --image "$out:cuda" --config.cmd /usr/local/bin/saxpy --config.env PATH=/usr/local/bin:/bin
echo "built $out:cuda"

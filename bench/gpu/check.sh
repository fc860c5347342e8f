#!/usr/bin/env bash
# The GPU check, run as root on a GPU machine from the bundle bench/gpu/bundle.sh made: skiff runs as an
# ordinary user, loads the saved image, lists the GPU with the host's nvidia-smi injected by --gpus, and
# runs a CUDA program that verifies its own result. Directory rootfs: that machine has no squashfuse.
set -u
b=$(cd "${1:-.gpu}" && pwd)
rm -rf /opt/skiff-gpu && cp -r "$b" /opt/skiff-gpu && chmod -R a+rX /opt/skiff-gpu
id -u skiffuser >/dev/null 2>&1 || useradd -m skiffuser
st=$(mktemp -d /tmp/skiff-gpu.XXXX) && chown skiffuser "$st"
as_user() { runuser -u skiffuser -- env SKIFF_HOME=/opt/skiff-gpu HOME=/home/skiffuser USER=skiffuser \
  PATH=/usr/local/nvidia/bin:/usr/local/bin:/usr/bin:/bin /opt/skiff-gpu/bin/skiff --storage "$st" "$@"; }
set -x
as_user load -i /opt/skiff-gpu/cuda.tar
as_user run --rootfs-format dir --gpus all example.org/cuda:1 nvidia-smi -L; echo "rc=$?"
as_user run --rootfs-format dir --gpus all example.org/cuda:1; echo "rc=$?"
as_user run --rootfs-format dir --gpus all example.org/cuda:1 sh -c 'id; echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; ls /.skiff/nvidia/bin; ls /dev/nvidia*; grep -E "^Cap(Eff|Bnd|Amb)" /proc/self/status'; echo "rc=$?"
as_user run --rootfs-format dir example.org/cuda:1; echo "rc=$? (without --gpus the CUDA program must fail)"

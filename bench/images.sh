# Sourced by bench/run.sh, bench/proot.sh and bench/warm.sh: the test images of the run figures, built with
# umoci/skopeo (never by skiff) and laid out where skiff's Rootfs expects them. Needs $work, $store; sets bb, py
# (their trees) and hexbb, hexpy (their manifests). IMAGES_SQFS_COMP picks the SquashFS compressor (default
# lz4); IMAGES_PY=0 skips the python image.
# name TREE: image NAME from TREE, its manifest hex printed
install_image() {
  local name=$1 tree=$2 lay=$work/lay-$1
  tar --numeric-owner -C "$tree" -cf "$work/$name.tar" .
  umoci init --layout "$lay" >/dev/null
  umoci new --image "$lay:latest"
  umoci raw add-layer --image "$lay:latest" "$work/$name.tar"
  umoci config --image "$lay:latest" --config.cmd /bin/sh
  [ -f "$store/oci/oci-layout" ] || { mkdir -p "$store/oci"; umoci init --layout "$store/oci"; }
  skopeo copy --quiet "oci:$lay:latest" "oci:$store/oci:docker.io/library/$name:latest"
  local hex
  hex=$(python3 -c "import json,sys; i=json.load(open('$store/oci/index.json')); print([m['digest'] for m in i['manifests'] if m['annotations']['org.opencontainers.image.ref.name']=='docker.io/library/$name:latest'][0].split(':')[1])")
  mkdir -p "$store/sqfs" "$store/dir"
  umoci raw unpack --image "$lay:latest" "$store/dir/$hex" >/dev/null
  # lz4: quick to build on a shared machine; skiff and ch-run read the very same file.
  mksquashfs "$store/dir/$hex" "$store/sqfs/$hex.sqfs" -comp "${IMAGES_SQFS_COMP:-lz4}" -noappend -quiet >/dev/null
  echo "$hex"
}

# busybox image
bb=$work/tree-bb
mkdir -p "$bb"/{bin,etc,tmp,root,proc,sys,dev,home}
cp /bin/busybox "$bb/bin/"
for c in sh true ls cat find xargs sleep; do ln -s busybox "$bb/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$bb/etc/passwd"; echo 'root:x:0:' > "$bb/etc/group"
touch "$bb/etc/hosts" "$bb/etc/resolv.conf"
hexbb=$(install_image bb "$bb")

[ "${IMAGES_PY:-1}" = 0 ] && return 0

# python image: this host's python3, its standard library and the libraries it links
py=$work/tree-py
mkdir -p "$py"/{bin,etc,tmp,root,proc,sys,dev,home,usr/bin,usr/lib}
cp -a "$bb/bin/." "$py/bin/"
cp "$bb/etc/"* "$py/etc/"
# The system python (a pyenv shim in front of it would be a shell script, not the interpreter).
pybin=$(readlink -f /usr/bin/python3)
cp "$pybin" "$py/usr/bin/python3"
pylib=$("$pybin" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
mkdir -p "$py$(dirname "$pylib")"
cp -a "$pylib" "$py$(dirname "$pylib")/"
for lib in $(ldd "$pybin" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
  mkdir -p "$py$(dirname "$lib")"; cp -L "$lib" "$py$lib"
done
for so in $(find "$pylib/lib-dynload" -name '*.so'); do
  for lib in $(ldd "$so" 2>/dev/null | awk '/=>/ {print $3}'); do
    [ -e "$py$lib" ] || { mkdir -p "$py$(dirname "$lib")"; cp -L "$lib" "$py$lib"; }
  done
done
[ -d /lib64 ] && [ ! -e "$py/lib64" ] && mkdir -p "$py/lib64" && cp -L /lib64/ld-linux-x86-64.so.2 "$py/lib64/" 2>/dev/null || true
hexpy=$(install_image py "$py")

#!/bin/sh
# Builds one binary set of the real-node tier from the Go module proxy and prints the directory that holds
# it. Cached under ${KDP_E2E_NODE_CACHE:-~/.cache/kdp-e2e-node}/<name>-<key>, the key being the pinned
# version and `go version` (containerd, runc: `go install module@version` builds from the module's own
# go.sum) or the hash of go.mod, go.sum and main.go (kubelet: k8s.io/kubernetes needs replace directives,
# so it is built from go/kubelet-v1.37). Cold on 2 shared cores: kubelet ~10 min, containerd ~8 min, runc ~1.
# Usage: build.sh containerd | build.sh runc | build.sh kubelet
set -eu
name=$1
here=$(cd "$(dirname "$0")" && pwd)
CONTAINERD_VERSION=v2.4.2
# runc >= 1.4 applies the OCI linux.netDevices that containerd writes for CDI netDevices (Debian's 1.1.5
# ignores it: issue 17). Built with cgo and libseccomp, as runc's own release builds are.
RUNC_VERSION=v1.5.3
root=${KDP_E2E_NODE_CACHE:-$HOME/.cache/kdp-e2e-node}
gover=$(go env GOVERSION)
case $name in
containerd)
  key=$(printf '%s %s' "$CONTAINERD_VERSION" "$gover" | sha256sum | cut -c1-16)
  out=$root/containerd-$CONTAINERD_VERSION-$key
  bins="containerd ctr containerd-shim-runc-v2"
  ;;
runc)
  key=$(printf '%s %s seccomp' "$RUNC_VERSION" "$gover" | sha256sum | cut -c1-16)
  out=$root/runc-$RUNC_VERSION-$key
  bins=runc
  ;;
kubelet)
  src=$here/go/kubelet-v1.37
  key=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | printf '%s %s' "$(cat)" "$gover" | sha256sum | cut -c1-16)
  out=$root/kubelet-v1.37-$key
  bins=kubelet
  ;;
*) echo "build.sh: unknown binary set $name (containerd, runc, kubelet)" >&2; exit 2 ;;
esac
ok=1
for b in $bins; do [ -x "$out/$b" ] || ok=0; done
if [ $ok = 1 ]; then echo "$out"; exit 0; fi
echo "building $name into $out (cold: minutes)" >&2
tmp=$out.tmp.$$
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
case $name in
containerd)
  # No cgo: the btrfs snapshotter (cgo only) is left out; overlayfs and native remain.
  GOBIN=$tmp CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
  ;;
runc)
  GOBIN=$tmp CGO_ENABLED=1 go install -trimpath -tags seccomp \
    -ldflags "-s -X main.version=${RUNC_VERSION#v}" "github.com/opencontainers/runc@$RUNC_VERSION"
  ;;
kubelet)
  version=$(sed -n 's/^\tk8s.io\/kubernetes \(v[0-9.]*\)$/\1/p; s/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$src/go.mod" | head -1)
  major=$(echo "$version" | sed 's/^v\([0-9]*\)\..*/\1/')
  minor=$(echo "$version" | sed 's/^v[0-9]*\.\([0-9]*\)\..*/\1/')
  ldflags=-s
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/kubelet" .)
  ;;
esac
rm -rf "$out" && mv "$tmp" "$out"
echo "$out"

#!/bin/sh
# Builds one binary of the API-server tier from its module under go/ and prints its path. Binaries are
# cached under ${KDP_E2E_CACHE:-~/.cache/kdp-e2e-apiserver}/<module>-<hash of go.mod, go.sum, main.go>,
# so a rebuild happens only when the pinned versions change (a cold kube-apiserver build is ~10 min on
# 2 cores, etcd ~3.5 min).
# Usage: build.sh etcd | build.sh kube-apiserver-v1.37
set -eu
name=$1
here=$(cd "$(dirname "$0")" && pwd)
# kube-controller-manager-vX.Y and kube-scheduler-vX.Y are built from kube-apiserver-vX.Y's module (same go.mod,
# one more main each).
case $name in
kube-controller-manager-*) module=kube-apiserver-${name#kube-controller-manager-}; package=./kcm ;;
kube-scheduler-*) module=kube-apiserver-${name#kube-scheduler-}; package=./sched ;;
*) module=$name; package=. ;;
esac
src=$here/go/$module
# The Kubernetes modules share their mains (go/*.go.txt), copied in (gitignored) before hashing.
case $name in
kube-apiserver-*) cp "$here/go/kube-apiserver.go.txt" "$src/main.go" ;;
kube-controller-manager-*) mkdir -p "$src/kcm" && cp "$here/go/kube-controller-manager.go.txt" "$src/kcm/main.go" ;;
kube-scheduler-*) mkdir -p "$src/sched" && cp "$here/go/kube-scheduler.go.txt" "$src/sched/main.go" ;;
esac
hash=$(cat "$src/go.mod" "$src/go.sum" "$src/$package/main.go" | sha256sum | cut -c1-16)
out=${KDP_E2E_CACHE:-$HOME/.cache/kdp-e2e-apiserver}/$name-$hash
bin=$out/${name%-v1.*}
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$out"
ldflags=-s
case $name in
kube-*)
  # The release the binary reports at /version (Helm checks Chart.yaml kubeVersion against it).
  version=$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p; s/^\tk8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$src/go.mod" | head -1)
  major=$(echo "$version" | sed 's/^v\([0-9]*\)\..*/\1/')
  minor=$(echo "$version" | sed 's/^v[0-9]*\.\([0-9]*\)\..*/\1/')
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  ;;
esac
echo "building $name into $out (cold: minutes)" >&2
(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin.tmp" "$package")
mv "$bin.tmp" "$bin"
echo "$bin"

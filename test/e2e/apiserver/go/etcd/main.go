// etcd exactly as go.etcd.io/etcd/server/v3 builds it (its main only calls etcdmain), from the Go module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

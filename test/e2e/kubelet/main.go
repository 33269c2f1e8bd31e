// Command harness is one kubelet node for the e2e tier: the kubelet's real device manager, topology
// manager and PodResources v1 server (k8s.io/kubernetes, linked as a library), driven by the TypeScript
// driver (test/e2e/) over JSON lines: one request per stdin line, `{"id":1,"cmd":"start",…}`, one
// response per request on stdout, `{"id":1,"ok":true,"result":…}` or `{"id":1,"error":"…"}`, plus
// unsolicited `{"event":"log",…}` lines carrying every kubelet log record (see logsink.go).
//
// The code that differs between kubelet minors (contextual loggers, Admit(ctx, …), cadvisor types)
// lives in kube_1_37.go / kube_1_36.go; go.mod pins 1.37, go.1.36.mod (-modfile, -tags kube136) 1.36.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

// emitter serialises stdout: responses and log events from many goroutines, one JSON object a line.
type emitter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (e *emitter) send(v any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enc.Encode(v); err != nil {
		fmt.Fprintf(os.Stderr, "harness: cannot write to stdout: %v\n", err)
		os.Exit(1)
	}
}

type request struct {
	ID   int             `json:"id"`
	Cmd  string          `json:"cmd"`
	Args json.RawMessage `json:"args"`
}

type response struct {
	ID     int    `json:"id"`
	OK     bool   `json:"ok"`
	Result any    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// kubernetesVersion is the k8s.io/kubernetes module version linked into this build (e.g. v1.37.2).
func kubernetesVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "k8s.io/kubernetes" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

func main() {
	out := &emitter{enc: json.NewEncoder(os.Stdout)}
	logger := logr.New(&eventSink{out: out})
	// The registration server logs through klog.FromContext(<gRPC context>), i.e. klog's global
	// logger: route it to the same sink, and let klog's own V() checks pass V(4) as well.
	klog.SetLoggerWithOptions(logger, klog.ContextualLogger(true))
	flags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(flags)
	_ = flags.Set("v", fmt.Sprint(maxVerbosity))

	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(kubernetesVersion())
		return
	}

	n := newNode(logger)
	out.send(map[string]any{"event": "ready", "kubernetes": kubernetesVersion(), "pid": os.Getpid()})
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	var inflight sync.WaitGroup
	for scanner.Scan() {
		var req request
		if err := json.Unmarshal(scanner.Bytes(), &req); err != nil {
			out.send(response{ID: -1, Error: fmt.Sprintf("malformed request: %v", err)})
			continue
		}
		serve := func() {
			result, err := n.handle(req.Cmd, req.Args)
			if err != nil {
				out.send(response{ID: req.ID, Error: err.Error()})
				return
			}
			out.send(response{ID: req.ID, OK: true, Result: result})
		}
		// start and stop run in request order; everything else on its own goroutine, so that an
		// admission waiting on a plugin's Allocate does not hold up a state poll.
		if req.Cmd == "start" || req.Cmd == "stop" {
			serve()
			continue
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			serve()
		}()
	}
	inflight.Wait()
	// stdin closed: the driver is done (or died); leave no listener behind.
	_, _ = n.handle("stop", nil)
}

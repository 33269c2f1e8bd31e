package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// maxVerbosity is the kubelet's -v: V(4) carries the DRA plugin client's "Calling NodePrepareResources
// rpc" / "Done calling …" records, which time the gRPC calls.
const maxVerbosity = 4

// eventSink turns every record of the kubelet code into a JSON "log" event on stdout, and feeds the
// rpcTimer: the durations of NodePrepareResources / NodeUnprepareResources are read from the kubelet's
// own records around each call, not from a hook of ours.
type eventSink struct {
	out    *emitter
	rpc    *rpcTimer
	name   string
	values []any
}

func (s *eventSink) Init(logr.RuntimeInfo) {}

func (s *eventSink) Enabled(level int) bool { return level <= maxVerbosity }

func (s *eventSink) Info(level int, msg string, kv ...any) { s.emit("info", level, msg, nil, kv) }

func (s *eventSink) Error(err error, msg string, kv ...any) { s.emit("error", 0, msg, err, kv) }

func (s *eventSink) WithValues(kv ...any) logr.LogSink {
	return &eventSink{out: s.out, rpc: s.rpc, name: s.name, values: append(append([]any{}, s.values...), kv...)}
}

func (s *eventSink) WithName(name string) logr.LogSink {
	if s.name != "" {
		name = s.name + "." + name
	}
	return &eventSink{out: s.out, rpc: s.rpc, name: name, values: s.values}
}

func (s *eventSink) emit(level string, v int, msg string, err error, kv []any) {
	fields := map[string]any{}
	for _, list := range [][]any{s.values, kv} {
		for i := 0; i+1 < len(list); i += 2 {
			fields[fmt.Sprint(list[i])] = fmt.Sprint(list[i+1])
		}
	}
	if driver, ok := fields["driverName"].(string); ok {
		switch msg {
		case "Calling NodePrepareResources rpc", "Calling NodeUnprepareResource rpc":
			s.rpc.start(driver)
		case "Done calling NodePrepareResources rpc", "Done calling NodeUnprepareResources rpc":
			s.rpc.done(driver)
		}
	}
	event := map[string]any{"event": "log", "level": level, "v": v, "logger": s.name, "msg": msg, "kv": fields}
	if err != nil {
		event["err"] = err.Error()
	}
	s.out.send(event)
}

// rpcTimer: per driver, the time from the plugin client's "Calling …" record to its "Done calling …".
type rpcTimer struct {
	mu      sync.Mutex
	started map[string]time.Time
	took    map[string]float64
}

func newRPCTimer() *rpcTimer { t := &rpcTimer{}; t.reset(); return t }

func (t *rpcTimer) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.started, t.took = map[string]time.Time{}, map[string]float64{}
}

func (t *rpcTimer) start(driver string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.started[driver] = time.Now()
}

func (t *rpcTimer) done(driver string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at, ok := t.started[driver]; ok {
		t.took[driver] = ms(time.Since(at))
	}
}

func (t *rpcTimer) durations() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]float64, len(t.took))
	for k, v := range t.took {
		out[k] = v
	}
	return out
}

package main

import (
	"fmt"
	"time"

	"github.com/go-logr/logr"
)

// maxVerbosity is the kubelet's -v: V(4) carries "Making allocation request for device plugin" and
// "Issuing a GetPreferredAllocation call"; V(5) and above only adds noise.
const maxVerbosity = 4

// eventSink is a logr.LogSink that turns every record of the kubelet code (ours and klog's global
// logger, which the registration server uses for Register) into a JSON "log" event on stdout. The
// driver counts Register calls and times registrations from these records: the kubelet's own
// words, not a hook of ours.
type eventSink struct {
	out    *emitter
	name   string
	values []any
}

func (s *eventSink) Init(logr.RuntimeInfo) {}

func (s *eventSink) Enabled(level int) bool { return level <= maxVerbosity }

func (s *eventSink) Info(level int, msg string, kv ...any) { s.emit("info", level, msg, nil, kv) }

func (s *eventSink) Error(err error, msg string, kv ...any) { s.emit("error", 0, msg, err, kv) }

func (s *eventSink) WithValues(kv ...any) logr.LogSink {
	return &eventSink{out: s.out, name: s.name, values: append(append([]any{}, s.values...), kv...)}
}

func (s *eventSink) WithName(name string) logr.LogSink {
	if s.name != "" {
		name = s.name + "." + name
	}
	return &eventSink{out: s.out, name: name, values: s.values}
}

// logEvent is one kubelet log record; key/values are rendered with %v so any value type survives.
type logEvent struct {
	Event  string            `json:"event"`
	TimeMs float64           `json:"t"`
	Level  string            `json:"level"`
	V      int               `json:"v"`
	Logger string            `json:"logger,omitempty"`
	Msg    string            `json:"msg"`
	Err    string            `json:"err,omitempty"`
	KV     map[string]string `json:"kv,omitempty"`
}

func (s *eventSink) emit(level string, v int, msg string, err error, kv []any) {
	ev := logEvent{Event: "log", TimeMs: nowMs(), Level: level, V: v, Logger: s.name, Msg: msg}
	if err != nil {
		ev.Err = err.Error()
	}
	all := append(append([]any{}, s.values...), kv...)
	if len(all) > 0 {
		ev.KV = make(map[string]string, len(all)/2)
		for i := 0; i+1 < len(all); i += 2 {
			ev.KV[fmt.Sprint(all[i])] = fmt.Sprintf("%v", all[i+1])
		}
	}
	s.out.send(ev)
}

// nowMs is wall-clock milliseconds (fractional), the same clock as the driver's Date.now().
func nowMs() float64 { return float64(time.Now().UnixMicro()) / 1000 }

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"google.golang.org/grpc"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
	kubeletgrpc "k8s.io/kubernetes/pkg/kubelet/apis/grpc"
	"k8s.io/kubernetes/pkg/kubelet/cm/containermap"
	"k8s.io/kubernetes/pkg/kubelet/cm/devicemanager"
	"k8s.io/kubernetes/pkg/kubelet/cm/topologymanager"
)

// node is one kubelet: a device manager + topology manager generation at a time (start … stop), and
// the pods it has admitted, which outlive generations as the API server's pods outlive a kubelet.
type node struct {
	logger klog.Logger

	// mu: start/stop take it exclusively, everything using dm/tm shares it.
	mu       sync.RWMutex
	dm       *devicemanager.ManagerImpl
	tm       topologymanager.Manager
	pr       *podResourcesServer
	dir      string
	prSocket string
	gen      int

	podsMu sync.Mutex
	pods   map[string]*v1.Pod // by name, in the order of admission (podOrder)
	order  []string
}

func newNode(logger klog.Logger) *node {
	return &node{logger: logger, pods: map[string]*v1.Pod{}}
}

func (n *node) handle(cmd string, raw json.RawMessage) (any, error) {
	switch cmd {
	case "start":
		var args startArgs
		if err := decode(raw, &args); err != nil {
			return nil, err
		}
		return n.start(args)
	case "stop":
		var args stopArgs
		if err := decode(raw, &args); err != nil {
			return nil, err
		}
		return n.stop(args)
	case "admit":
		var args admitArgs
		if err := decode(raw, &args); err != nil {
			return nil, err
		}
		return n.admit(args.Pod)
	case "remove":
		var args struct{ Name string }
		if err := decode(raw, &args); err != nil {
			return nil, err
		}
		return n.remove(args.Name)
	case "state":
		return n.state()
	default:
		return nil, fmt.Errorf("unknown command %q (start, stop, admit, remove, state)", cmd)
	}
}

func decode(raw json.RawMessage, into any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("bad arguments: %v", err)
	}
	return nil
}

type startArgs struct {
	// Dir is the device-plugin dir: kubelet.sock and the checkpoint live here.
	Dir string `json:"dir"`
	// PodResourcesSocket is where the PodResources v1 API is served.
	PodResourcesSocket string `json:"podResourcesSocket"`
	// Policy is the topology manager policy: none (default) or single-numa-node, on a fake
	// machine of NUMANodes NUMA nodes (default 2).
	Policy    string `json:"policy"`
	NUMANodes int    `json:"numaNodes"`
}

// start is a kubelet (re)start: a new device manager on the same dir and checkpoint. The kubelet's
// Start removes every socket in the dir (a dead kubelet.sock and the plugins' sockets too), reads
// the checkpoint and listens on a fresh kubelet.sock, exactly as at boot.
func (n *node) start(args startArgs) (any, error) {
	if args.Dir == "" || args.PodResourcesSocket == "" {
		return nil, errors.New("start needs dir and podResourcesSocket")
	}
	if args.Policy == "" {
		args.Policy = topologymanager.PolicyNone
	}
	if args.NUMANodes == 0 {
		args.NUMANodes = 2
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dm != nil {
		return nil, errors.New("already started: stop first")
	}
	n.gen++
	// The kubelet starts now: a plugin may register as soon as dm.Start listens, before this returns.
	startedAt := nowMs()
	logger := klog.LoggerWithValues(n.logger, "generation", n.gen)
	dm, tm, err := newKubeletManagers(logger, filepath.Join(args.Dir, "kubelet.sock"), args.Policy, args.NUMANodes)
	if err != nil {
		return nil, err
	}
	// What the runtime reports at a kubelet start: every admitted pod's containers, running.
	containers := containermap.NewContainerMap()
	running := sets.New[string]()
	for _, pod := range n.activePods() {
		for _, c := range pod.Spec.Containers {
			id := containerID(pod, c.Name)
			containers.Add(string(pod.UID), c.Name, id)
			running.Insert(id)
		}
	}
	if err := dm.Start(logger, n.activePods, sourcesReady{}, containers, running); err != nil {
		return nil, fmt.Errorf("device manager start: %w", err)
	}
	pr, err := servePodResources(logger, args.PodResourcesSocket, &podResourcesFeed{node: n})
	if err != nil {
		_ = dm.Stop(logger)
		return nil, err
	}
	n.dm, n.tm, n.pr, n.dir, n.prSocket = dm, tm, pr, args.Dir, args.PodResourcesSocket
	return map[string]any{"generation": n.gen, "startedAt": startedAt}, nil
}

type stopArgs struct {
	// DeadSockets leaves kubelet.sock and the PodResources socket behind as files nobody listens
	// on, as a killed kubelet does.
	DeadSockets bool `json:"deadSockets"`
}

func (n *node) stop(args stopArgs) (any, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dm == nil {
		return map[string]any{"stopped": false}, nil
	}
	logger := klog.LoggerWithValues(n.logger, "generation", n.gen)
	err := n.dm.Stop(logger)
	n.pr.stop()
	n.dm, n.tm, n.pr = nil, nil, nil
	if err != nil {
		return nil, fmt.Errorf("device manager stop: %w", err)
	}
	if args.DeadSockets {
		for _, path := range []string{filepath.Join(n.dir, "kubelet.sock"), n.prSocket} {
			if err := leaveDeadSocket(path); err != nil {
				return nil, err
			}
		}
	}
	return map[string]any{"stopped": true, "stoppedAt": nowMs()}, nil
}

// leaveDeadSocket binds path and closes it without unlinking: a socket file that refuses connections.
func leaveDeadSocket(path string) error {
	_ = os.Remove(path)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("dead socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	return l.Close()
}

type podResourcesServer struct {
	server *grpc.Server
	done   chan struct{}
}

// stop stops the server and waits until Serve has returned (and its listener is closed).
func (p *podResourcesServer) stop() {
	p.server.Stop()
	<-p.done
}

// servePodResources serves the kubelet's own PodResources v1 server on a unix socket, behind the
// kubelet's rate limiter, as the kubelet's server.ListenAndServePodResources does.
func servePodResources(logger klog.Logger, socket string, feed *podResourcesFeed) (*podResourcesServer, error) {
	_ = os.Remove(socket)
	if err := os.MkdirAll(filepath.Dir(socket), 0o750); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("pod resources socket: %w", err)
	}
	ctx := klog.NewContext(context.Background(), logger)
	server := grpc.NewServer(kubeletgrpc.WithRateLimiter(ctx, "podresources", 100, 10))
	podresourcesv1.RegisterPodResourcesListerServer(server, newPodResourcesServer(ctx, feed))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := server.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			logger.Error(err, "PodResources server ended")
		}
	}()
	return &podResourcesServer{server: server, done: done}, nil
}

// fakeMachine is the cadvisor machine topology of a node with numa NUMA nodes, 2 CPUs each.
func fakeMachine(numa int) []machineNode {
	nodes := make([]machineNode, numa)
	for i := range nodes {
		nodes[i] = machineNode{Id: i, Memory: 8 << 30, Cores: []machineCore{{Id: i, Threads: []int{2 * i, 2*i + 1}}}}
	}
	return nodes
}

// sourcesReady says every pod source has been seen: this node's pod list is complete at all times.
type sourcesReady struct{}

func (sourcesReady) AddSource(string) {}
func (sourcesReady) AllReady() bool   { return true }

func containerID(pod *v1.Pod, name string) string { return fmt.Sprintf("%s-%s", pod.UID, name) }

func (n *node) activePods() []*v1.Pod {
	n.podsMu.Lock()
	defer n.podsMu.Unlock()
	pods := make([]*v1.Pod, 0, len(n.order))
	for _, name := range n.order {
		pods = append(pods, n.pods[name])
	}
	return pods
}

func (n *node) podByName(namespace, name string) (*v1.Pod, bool) {
	n.podsMu.Lock()
	defer n.podsMu.Unlock()
	pod, ok := n.pods[name]
	if !ok || pod.Namespace != namespace {
		return nil, false
	}
	return pod, true
}

func (n *node) addPod(pod *v1.Pod) error {
	n.podsMu.Lock()
	defer n.podsMu.Unlock()
	if _, ok := n.pods[pod.Name]; ok {
		return fmt.Errorf("pod %q already admitted", pod.Name)
	}
	n.pods[pod.Name] = pod
	n.order = append(n.order, pod.Name)
	return nil
}

func (n *node) deletePod(name string) *v1.Pod {
	n.podsMu.Lock()
	defer n.podsMu.Unlock()
	pod, ok := n.pods[name]
	if !ok {
		return nil
	}
	delete(n.pods, name)
	for i, other := range n.order {
		if other == name {
			n.order = append(n.order[:i], n.order[i+1:]...)
			break
		}
	}
	return pod
}

type podSpec struct {
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	Containers []struct {
		Name      string           `json:"name"`
		Resources map[string]int64 `json:"resources"`
	} `json:"containers"`
}

type admitArgs struct {
	Pod podSpec `json:"pod"`
}

// toPod makes the pod the API server would hand the kubelet: extended resources as requests = limits.
func toPod(spec podSpec) (*v1.Pod, error) {
	if spec.Name == "" || len(spec.Containers) == 0 {
		return nil, errors.New("a pod needs a name and at least one container")
	}
	if spec.Namespace == "" {
		spec.Namespace = "default"
	}
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: spec.Name, Namespace: spec.Namespace, UID: types.UID("uid-" + spec.Namespace + "-" + spec.Name),
	}}
	for _, c := range spec.Containers {
		list := v1.ResourceList{}
		for name, count := range c.Resources {
			list[v1.ResourceName(name)] = *resource.NewQuantity(count, resource.DecimalSI)
		}
		pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{
			Name: c.Name, Resources: v1.ResourceRequirements{Requests: list, Limits: list},
		})
	}
	return pod, nil
}

// admit is the kubelet's path for a new pod: the topology manager's admission (hints, alignment,
// Allocate per container through the device manager), then the run options the container runtime
// would be given for each container.
func (n *node) admit(spec podSpec) (any, error) {
	pod, err := toPod(spec)
	if err != nil {
		return nil, err
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.dm == nil {
		return nil, errors.New("kubelet not started")
	}
	// The kubelet's pod manager holds the pod before admission; a rejected pod leaves it again.
	if err := n.addPod(pod); err != nil {
		return nil, err
	}
	logger := klog.LoggerWithValues(n.logger, "generation", n.gen)
	ctx := klog.NewContext(context.Background(), logger)
	result := admitPod(ctx, n.tm, pod)
	if !result.Admit {
		n.deletePod(pod.Name)
		updateAllocatedDevices(logger, n.dm)
		return map[string]any{"admitted": false, "reason": result.Reason, "message": result.Message}, nil
	}
	var containers []containerResult
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		opts, err := n.dm.GetDeviceRunContainerOptions(ctx, pod, c)
		if err != nil {
			return nil, fmt.Errorf("run options of container %s: %w", c.Name, err)
		}
		addContainer(logger, n.tm, pod, c, containerID(pod, c.Name))
		hint := containerAffinity(logger, n.tm, string(pod.UID), c.Name)
		res := containerResult{Name: c.Name, Devices: deviceIDs(n.dm.GetDevices(string(pod.UID), c.Name)), Preferred: hint.Preferred}
		if hint.NUMANodeAffinity != nil {
			res.NUMAAffinity = hint.NUMANodeAffinity.GetBits()
		}
		if opts != nil {
			res.Options = toRunOptions(opts)
		}
		containers = append(containers, res)
	}
	return map[string]any{"admitted": true, "uid": string(pod.UID), "containers": containers}, nil
}

type containerResult struct {
	Name         string              `json:"name"`
	Devices      map[string][]string `json:"devices"`
	NUMAAffinity []int               `json:"numaAffinity,omitempty"`
	Preferred    bool                `json:"preferred"`
	Options      *runOptions         `json:"options,omitempty"`
}

type deviceSpec struct {
	ContainerPath string `json:"containerPath"`
	HostPath      string `json:"hostPath"`
	Permissions   string `json:"permissions"`
}

type mountSpec struct {
	ContainerPath string `json:"containerPath"`
	HostPath      string `json:"hostPath"`
	ReadOnly      bool   `json:"readOnly"`
}

// runOptions is devicemanager.DeviceRunContainerOptions as JSON: what the runtime gets.
type runOptions struct {
	Devices     []deviceSpec      `json:"devices"`
	Mounts      []mountSpec       `json:"mounts"`
	Envs        map[string]string `json:"envs"`
	Annotations map[string]string `json:"annotations"`
	CDIDevices  []string          `json:"cdiDevices"`
}

func toRunOptions(opts *devicemanager.DeviceRunContainerOptions) *runOptions {
	r := &runOptions{Devices: []deviceSpec{}, Mounts: []mountSpec{}, Envs: map[string]string{}, Annotations: map[string]string{}, CDIDevices: []string{}}
	for _, d := range opts.Devices {
		r.Devices = append(r.Devices, deviceSpec{ContainerPath: d.PathInContainer, HostPath: d.PathOnHost, Permissions: d.Permissions})
	}
	for _, m := range opts.Mounts {
		r.Mounts = append(r.Mounts, mountSpec{ContainerPath: m.ContainerPath, HostPath: m.HostPath, ReadOnly: m.ReadOnly})
	}
	for _, e := range opts.Envs {
		r.Envs[e.Name] = e.Value
	}
	for _, a := range opts.Annotations {
		r.Annotations[a.Name] = a.Value
	}
	for _, c := range opts.CDIDevices {
		r.CDIDevices = append(r.CDIDevices, c.Name)
	}
	return r
}

func deviceIDs(devs devicemanager.ResourceDeviceInstances) map[string][]string {
	out := map[string][]string{}
	for res, byID := range devs {
		ids := make([]string, 0, len(byID))
		for id := range byID {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		out[res] = ids
	}
	return out
}

// remove is a pod deleted: gone from the active pods, its containers from the topology manager, and
// its devices freed as the kubelet frees them (UpdateAllocatedDevices).
func (n *node) remove(name string) (any, error) {
	pod := n.deletePod(name)
	if pod == nil {
		return nil, fmt.Errorf("no pod %q", name)
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.dm != nil {
		logger := klog.LoggerWithValues(n.logger, "generation", n.gen)
		for _, c := range pod.Spec.Containers {
			_ = removeContainer(logger, n.tm, containerID(pod, c.Name))
		}
		updateAllocatedDevices(logger, n.dm)
	}
	return map[string]any{"removed": name}, nil
}

type deviceState struct {
	Health string `json:"health"`
	NUMA   []int  `json:"numa,omitempty"`
}

// state is what the node reports: capacity and allocatable per resource (GetCapacity, the numbers
// the kubelet puts in the Node status), each healthy device, and each pod's devices.
func (n *node) state() (any, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.dm == nil {
		return map[string]any{"started": false, "generation": n.gen}, nil
	}
	logger := klog.LoggerWithValues(n.logger, "generation", n.gen)
	capacity, allocatable := nodeCapacity(logger, n.dm)
	counts := func(list v1.ResourceList) map[string]int64 {
		m := map[string]int64{}
		for name, q := range list {
			m[string(name)] = q.Value()
		}
		return m
	}
	healthy := map[string]map[string]deviceState{}
	for res, byID := range allocatableDevices(logger, n.dm) {
		healthy[res] = map[string]deviceState{}
		for id, dev := range byID {
			st := deviceState{Health: dev.Health}
			for _, numa := range dev.GetTopology().GetNodes() {
				st.NUMA = append(st.NUMA, int(numa.ID))
			}
			healthy[res][id] = st
		}
	}
	pods := map[string]map[string]map[string][]string{}
	for _, pod := range n.activePods() {
		pods[pod.Name] = map[string]map[string][]string{}
		for _, c := range pod.Spec.Containers {
			pods[pod.Name][c.Name] = deviceIDs(n.dm.GetDevices(string(pod.UID), c.Name))
		}
	}
	return map[string]any{
		"started": true, "generation": n.gen,
		"capacity": counts(capacity), "allocatable": counts(allocatable),
		"healthyDevices": healthy, "pods": pods,
	}, nil
}

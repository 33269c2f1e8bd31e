// Command kubelet-dra is the kubelet side of the DRA e2e tier: the kubelet's real DRA manager
// (k8s.io/kubernetes/pkg/kubelet/cm/dra) and its real plugin manager (pkg/kubelet/pluginmanager, watching
// <root>/plugins_registry), linked as libraries, on a Node object it creates in a real API server.
//
// It does what the kubelet does for DRA and nothing else: it watches the pods bound to its node, calls
// PrepareResources when one arrives (pod admission) and UnprepareResources when one is being deleted,
// then finishes the deletion (grace period 0) as the kubelet's status manager does once the containers
// are gone. It reports on stdout, one JSON object a line, for the TypeScript driver (test/e2e/dra/):
//
//	{"event":"ready","kubernetes":"v1.37.2","pid":…}
//	{"event":"registered","driver":"…","endpoint":"…"}     (the plugin manager accepted a driver)
//	{"event":"prepared","pod":"ns/name","uid":"…","cdi":{"<container>":["vendor/class=id",…]},
//	 "prepareMs":…,"rpcMs":{"<driver>":…}}
//	{"event":"prepareFailed","pod":"ns/name","error":"…"}    (retried, as the kubelet's pod worker does)
//	{"event":"unprepared","pod":"ns/name","uid":"…","unprepareMs":…}
//	{"event":"log","level":"info|error","msg":"…","kv":{…}}  (the kubelet code's own records)
//
// Closing stdin (or SIGTERM) stops it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/go-logr/logr"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	pluginwatcherapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
	"k8s.io/kubernetes/pkg/kubelet/cm/dra"
	"k8s.io/kubernetes/pkg/kubelet/pluginmanager"
)

// emitter serialises stdout: events from many goroutines, one JSON object a line.
type emitter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (e *emitter) send(v map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enc.Encode(v); err != nil {
		fmt.Fprintf(os.Stderr, "kubelet-dra: cannot write to stdout: %v\n", err)
		os.Exit(1)
	}
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

// allReady: the harness's only pod source (the API server watch) is synced before anything runs.
type allReady struct{}

func (allReady) AddSource(string) {}
func (allReady) AllReady() bool   { return true }

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server")
	nodeName := flag.String("node", "", "the Node this kubelet is (created when missing)")
	root := flag.String("root", "", "the kubelet root dir: plugins_registry/ and the DRA manager's checkpoint live here")
	version := flag.Bool("version", false, "print the linked k8s.io/kubernetes version and exit")
	flag.Parse()
	if *version {
		fmt.Println(kubernetesVersion())
		return
	}
	if *kubeconfig == "" || *nodeName == "" || *root == "" {
		fmt.Fprintln(os.Stderr, "kubelet-dra: --kubeconfig, --node and --root are required")
		os.Exit(2)
	}

	out := &emitter{enc: json.NewEncoder(os.Stdout)}
	timer := newRPCTimer()
	logger := logr.New(&eventSink{out: out, rpc: timer})
	klog.SetLoggerWithOptions(logger, klog.ContextualLogger(true))
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("v", fmt.Sprint(maxVerbosity))

	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logger))
	defer cancel()
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
		cancel()
	}()
	go func() {
		// The driver closes stdin when it is done, or dies: either way, stop.
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	if err := run(ctx, logger, out, timer, *kubeconfig, *nodeName, *root); err != nil {
		out.send(map[string]any{"event": "fatal", "error": err.Error()})
		os.Exit(1)
	}
}

func run(ctx context.Context, logger klog.Logger, out *emitter, timer *rpcTimer, kubeconfig, nodeName, root string) error {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	config.QPS, config.Burst = 100, 200
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	if err := ensureNode(ctx, client, nodeName); err != nil {
		return err
	}
	registry := filepath.Join(root, "plugins_registry")
	if err := os.MkdirAll(registry, 0o750); err != nil {
		return err
	}

	// The pods bound to this node, as the kubelet's API-server pod source sees them.
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
	}))
	podInformer := factory.Core().V1().Pods().Informer()
	activePods := func() []*v1.Pod {
		var pods []*v1.Pod
		for _, obj := range podInformer.GetStore().List() {
			if pod := obj.(*v1.Pod); pod.DeletionTimestamp == nil {
				pods = append(pods, pod)
			}
		}
		return pods
	}

	// The DRA manager exactly as the container manager sets it up (NewManager on the kubelet root dir,
	// Start with the active pods and the node getter), its handler added to a plugin manager for
	// DRAPlugin sockets, as kubelet.go does.
	manager, err := dra.NewManager(logger, client, root)
	if err != nil {
		return err
	}
	getNode := func(ctx context.Context) (*v1.Node, error) {
		return client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	}
	if err := manager.Start(ctx, activePods, getNode, allReady{}); err != nil {
		return err
	}
	defer manager.Stop()
	plugins := pluginmanager.NewPluginManager(registry, &record.FakeRecorder{})
	plugins.AddHandler(pluginwatcherapi.DRAPlugin, manager.GetWatcherHandler())
	go plugins.Run(ctx, allReady{}, ctx.Done())

	w := &podWorkers{ctx: ctx, logger: logger, out: out, timer: timer, client: client, manager: manager, pods: map[types.UID]*podWorker{}}
	_, err = podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.update(obj.(*v1.Pod)) },
		UpdateFunc: func(_, obj any) { w.update(obj.(*v1.Pod)) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*v1.Pod); ok {
				w.deleted(pod)
			}
		},
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	out.send(map[string]any{"event": "ready", "kubernetes": kubernetesVersion(), "pid": os.Getpid(), "node": nodeName})
	<-ctx.Done()
	factory.Shutdown()
	w.wait()
	return nil
}

// ensureNode creates the Node with room for pods (the scheduler's NodeResourcesFit needs allocatable
// pods) and a Ready condition, as a kubelet's node status does, without the not-ready taint.
func ensureNode(ctx context.Context, client kubernetes.Interface, name string) error {
	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	created, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	resources := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse("8"),
		v1.ResourceMemory: resource.MustParse("16Gi"),
		v1.ResourcePods:   resource.MustParse("110"),
	}
	created.Status.Capacity, created.Status.Allocatable = resources, resources
	now := metav1.Now()
	created.Status.Conditions = []v1.NodeCondition{{
		Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady",
		Message: "kubelet-dra harness", LastHeartbeatTime: now, LastTransitionTime: now,
	}}
	updated, err := client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("node %s status: %w", name, err)
	}
	// The API server's TaintNodesByCondition admission gave the new Node the not-ready taint; the node
	// lifecycle controller (not run here: nothing heartbeats) lifts it once the node reports Ready.
	var taints []v1.Taint
	for _, taint := range updated.Spec.Taints {
		if taint.Key != v1.TaintNodeNotReady {
			taints = append(taints, taint)
		}
	}
	if len(taints) != len(updated.Spec.Taints) {
		updated.Spec.Taints = taints
		if _, err := client.CoreV1().Nodes().Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("node %s taints: %w", name, err)
		}
	}
	return nil
}

package main

import (
	"context"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/kubelet/cm/dra"
)

// retryDelay is how soon a failed prepare or unprepare is tried again (the kubelet's pod worker backs
// off too; a short fixed delay keeps the e2e quick).
const retryDelay = 500 * time.Millisecond

// podWorkers is the part of the kubelet's pod lifecycle that concerns DRA: one worker per pod UID.
// Calls into the manager are serialised (one at a time, node-wide), so that the rpcTimer's kubelet
// log records belong to the call being timed.
type podWorkers struct {
	ctx     context.Context
	logger  klog.Logger
	out     *emitter
	timer   *rpcTimer
	client  kubernetes.Interface
	manager *dra.Manager

	mu     sync.Mutex
	pods   map[types.UID]*podWorker
	calls  sync.Mutex
	active sync.WaitGroup
}

type podWorker struct {
	latest  *v1.Pod
	gone    bool // deleted from the API server
	changed chan struct{}
}

func (w *podWorkers) update(pod *v1.Pod) { w.set(pod, false) }

func (w *podWorkers) deleted(pod *v1.Pod) { w.set(pod, true) }

func (w *podWorkers) set(pod *v1.Pod, gone bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	worker := w.pods[pod.UID]
	if worker == nil {
		// A pod first seen as deleted still gets a worker: a kubelet unprepares whatever it may hold.
		worker = &podWorker{changed: make(chan struct{}, 1)}
		w.pods[pod.UID] = worker
		w.active.Add(1)
		go w.run(pod.UID, worker)
	}
	worker.latest = pod
	worker.gone = worker.gone || gone
	select {
	case worker.changed <- struct{}{}:
	default:
	}
}

func (w *podWorkers) snapshot(worker *podWorker) (*v1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return worker.latest, worker.gone
}

func (w *podWorkers) wait() { w.active.Wait() }

// run drives one pod: prepare until it works (admission), then wait for its deletion, unprepare until
// that works, finish the deletion. Exits when the pod is gone and unprepared, or on shutdown.
func (w *podWorkers) run(uid types.UID, worker *podWorker) {
	defer w.active.Done()
	prepared := false
	for {
		pod, gone := w.snapshot(worker)
		terminating := gone || pod.DeletionTimestamp != nil
		var retry bool
		switch {
		case terminating:
			if w.unprepare(pod) {
				if !gone {
					w.finishDeletion(pod)
				}
				w.mu.Lock()
				delete(w.pods, uid)
				w.mu.Unlock()
				return
			}
			retry = true
		case !prepared:
			prepared = w.prepare(pod)
			retry = !prepared
		}
		var again <-chan time.Time
		if retry {
			again = time.After(retryDelay)
		}
		select {
		case <-w.ctx.Done():
			return
		case <-worker.changed:
		case <-again:
		}
	}
}

func podRef(pod *v1.Pod) string { return pod.Namespace + "/" + pod.Name }

func (w *podWorkers) prepare(pod *v1.Pod) bool {
	w.calls.Lock()
	defer w.calls.Unlock()
	w.timer.reset()
	started := time.Now()
	err := w.manager.PrepareResources(w.ctx, pod)
	elapsed := time.Since(started)
	if err != nil {
		w.out.send(map[string]any{"event": "prepareFailed", "pod": podRef(pod), "uid": string(pod.UID), "error": err.Error()})
		return false
	}
	// What the container runtime would be given: the CDI IDs of each container's claims.
	cdi := map[string][]string{}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		info, err := w.manager.GetResources(pod, c)
		if err != nil {
			w.out.send(map[string]any{"event": "prepareFailed", "pod": podRef(pod), "uid": string(pod.UID), "error": "GetResources: " + err.Error()})
			return false
		}
		ids := []string{}
		for _, d := range info.CDIDevices {
			ids = append(ids, d.Name)
		}
		cdi[c.Name] = ids
	}
	w.out.send(map[string]any{
		"event": "prepared", "pod": podRef(pod), "uid": string(pod.UID), "cdi": cdi,
		"prepareMs": ms(elapsed), "rpcMs": w.timer.durations(),
	})
	return true
}

func (w *podWorkers) unprepare(pod *v1.Pod) bool {
	w.calls.Lock()
	defer w.calls.Unlock()
	w.timer.reset()
	started := time.Now()
	if err := w.manager.UnprepareResources(w.ctx, pod); err != nil {
		w.out.send(map[string]any{"event": "unprepareFailed", "pod": podRef(pod), "uid": string(pod.UID), "error": err.Error()})
		return false
	}
	w.out.send(map[string]any{
		"event": "unprepared", "pod": podRef(pod), "uid": string(pod.UID),
		"unprepareMs": ms(time.Since(started)), "rpcMs": w.timer.durations(),
	})
	return true
}

// finishDeletion is the status manager's last step once a terminating pod's containers are gone and
// its resources released: delete it for good (grace period 0, this UID only).
func (w *podWorkers) finishDeletion(pod *v1.Pod) {
	zero := int64(0)
	err := w.client.CoreV1().Pods(pod.Namespace).Delete(w.ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		w.logger.Error(err, "Finishing the pod's deletion failed", "pod", klog.KObj(pod))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

//go:build !kube136

// The kubelet 1.37 API: contextual loggers everywhere, Admit(ctx, attrs) with an Operation,
// cadvisor's lib/model types. Its twin for 1.36 is kube_1_36.go.
package main

import (
	"context"
	_ "unsafe" // for go:linkname

	cadvisorapi "github.com/google/cadvisor/lib/model"
	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
	"k8s.io/kubernetes/pkg/kubelet/apis/podresources"
	"k8s.io/kubernetes/pkg/kubelet/cm/devicemanager"
	"k8s.io/kubernetes/pkg/kubelet/cm/topologymanager"
	"k8s.io/kubernetes/pkg/kubelet/lifecycle"
)

// newManagerImpl is the device manager's own constructor with the socket path as a parameter (what
// its manager_test.go uses). The exported NewManagerImpl only wraps it with the fixed
// /var/lib/kubelet/device-plugins/kubelet.sock; everything else is the same upstream code.
//
//go:linkname newManagerImpl k8s.io/kubernetes/pkg/kubelet/cm/devicemanager.newManagerImpl
func newManagerImpl(logger klog.Logger, socketPath string, topology []cadvisorapi.Node, store topologymanager.Store) (*devicemanager.ManagerImpl, error)

// The cadvisor machine types of this minor (fakeMachine in node.go builds a topology from them).
type (
	machineNode = cadvisorapi.Node
	machineCore = cadvisorapi.Core
)

func newKubeletManagers(logger klog.Logger, socket, policy string, numa int) (*devicemanager.ManagerImpl, topologymanager.Manager, error) {
	machine := fakeMachine(numa)
	tm, err := topologymanager.NewManager(logger, machine, policy, topologymanager.ContainerTopologyScope, nil)
	if err != nil {
		return nil, nil, err
	}
	dm, err := newManagerImpl(logger, socket, machine, tm)
	if err != nil {
		return nil, nil, err
	}
	tm.AddHintProvider(logger, dm)
	return dm, tm, nil
}

func admitPod(ctx context.Context, tm topologymanager.Manager, pod *v1.Pod) lifecycle.PodAdmitResult {
	return tm.Admit(ctx, &lifecycle.PodAdmitAttributes{Pod: pod, Operation: lifecycle.AddOperation})
}

func containerAffinity(logger klog.Logger, tm topologymanager.Manager, podUID, name string) topologymanager.TopologyHint {
	return tm.GetAffinity(logger, podUID, name)
}

func addContainer(logger klog.Logger, tm topologymanager.Manager, pod *v1.Pod, c *v1.Container, id string) {
	tm.AddContainer(logger, pod, c, id)
}

func removeContainer(logger klog.Logger, tm topologymanager.Manager, id string) error {
	return tm.RemoveContainer(logger, id)
}

func nodeCapacity(logger klog.Logger, dm *devicemanager.ManagerImpl) (v1.ResourceList, v1.ResourceList) {
	capacity, allocatable, _ := dm.GetCapacity(logger)
	return capacity, allocatable
}

func allocatableDevices(logger klog.Logger, dm *devicemanager.ManagerImpl) devicemanager.ResourceDeviceInstances {
	return dm.GetAllocatableDevices(logger)
}

func updateAllocatedDevices(logger klog.Logger, dm *devicemanager.ManagerImpl) {
	dm.UpdateAllocatedDevices(logger)
}

type devicesProvider struct{ *podResourcesFeed }

func (p devicesProvider) UpdateAllocatedDevices(klog.Logger) { p.updateAllocated() }
func (p devicesProvider) GetDevices(podUID, containerName string) []*podresourcesv1.ContainerDevices {
	return p.devices(podUID, containerName)
}
func (p devicesProvider) GetAllocatableDevices(klog.Logger) []*podresourcesv1.ContainerDevices {
	return p.allocatable()
}

// The node has no CPU manager, memory manager or DRA: their providers report nothing.
type noOtherResources struct{}

func (noOtherResources) GetCPUs(*v1.Pod, *v1.Container) []int64 { return nil }
func (noOtherResources) GetPodCPUs(string) []int64              { return nil }
func (noOtherResources) GetAllocatableCPUs() []int64            { return nil }
func (noOtherResources) GetMemory(klog.Logger, *v1.Pod, *v1.Container) []*podresourcesv1.ContainerMemory {
	return nil
}
func (noOtherResources) GetPodMemory(klog.Logger, string) []*podresourcesv1.ContainerMemory {
	return nil
}
func (noOtherResources) GetAllocatableMemory(klog.Logger) []*podresourcesv1.ContainerMemory {
	return nil
}
func (noOtherResources) GetDynamicResources(klog.Logger, *v1.Pod, *v1.Container) []*podresourcesv1.DynamicResource {
	return nil
}

func newPodResourcesServer(ctx context.Context, feed *podResourcesFeed) podresourcesv1.PodResourcesListerServer {
	return podresources.NewV1PodResourcesServer(ctx, podresources.PodResourcesProviders{
		Pods: feed, Devices: devicesProvider{feed}, Cpus: noOtherResources{}, Memory: noOtherResources{}, DynamicResources: noOtherResources{},
	})
}
